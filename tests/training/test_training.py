"""Training sets rebuilt from manifests (git mirrors and a local package index), and the
probes fitted on them: held-out figures, calibration, and the same bytes every time."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from PIL import Image, ImageDraw, ImageFilter

from tests.analyzers.fixtures import media_sample
from veriscan.analyzers import clip, speech
from veriscan.analyzers.base import MediaKind
from veriscan.analyzers.clip import FEATURE_SIZE, FEATURES, ClipEncoder, ImageProbe, crops, pixels
from veriscan.training import manifest

VERISCAN = [sys.executable, "-m", "veriscan"]
COLUMNS = ["file", "label", "generator", "source", "commit", "source_path", "sha256", "licence"]


def _git(folder: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}  # fmt: skip
    done = subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def _smooth(seed: int) -> bytes:
    """A clean gradient with soft shapes: the look of a render."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:256, 0:256] / 255.0
    colour = rng.uniform(0.2, 0.9, 3)
    rgb = np.stack([x * colour[0], y * colour[1], (1 - x) * colour[2]], axis=2)
    image = Image.fromarray((rgb * 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(3):
        cx, cy, r = [*rng.integers(40, 216, 2).tolist(), int(rng.integers(15, 40))]
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(rng.integers(0, 255, 3).tolist()))
    buffer = io.BytesIO()
    image.filter(ImageFilter.GaussianBlur(2)).save(buffer, "PNG")
    return buffer.getvalue()


def _grainy(seed: int) -> bytes:
    """Sensor-like noise over a textured scene: the look of a photo."""
    rng = np.random.default_rng(seed)
    base = rng.integers(60, 200, (32, 32, 3)).astype(np.uint8)
    scene = np.asarray(Image.fromarray(base).resize((256, 256), Image.Resampling.NEAREST), float)
    noisy = np.clip(scene + rng.normal(0, 25, scene.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noisy).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _mirror(mirrors: Path, repository: str, files: dict[str, bytes]) -> str:
    """A bare clone at mirrors/owner+name/repo holding `files`; returns the commit."""
    work = mirrors.parent / "work" / repository.replace("/", "+")
    work.mkdir(parents=True)
    _git(work, "init", "-q")
    for name, data in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_bytes(data)
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "-m", "samples")
    bare = mirrors / repository.replace("/", "+") / "repo"
    bare.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True)
    return _git(work, "rev-parse", "HEAD")


def _listing(path: Path, rows: list[list[str]]) -> Path:
    """A manifest at `path` with the required columns and `rows`."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return path


def _image_set(tmp_path: Path) -> tuple[Path, Path]:
    mirrors = tmp_path / "mirrors"
    rows = []
    for repository, label, make in (
        ("renders/a", "generated", _smooth),
        ("renders/b", "generated", _smooth),
        ("renders/c", "generated", _smooth),
        ("photos/a", "real", _grainy),
        ("photos/b", "real", _grainy),
        ("photos/c", "real", _grainy),
    ):
        seed = len(rows)
        files = {f"img/{i}.bin": make(seed * 10 + i) for i in range(3)}
        commit = _mirror(mirrors, repository, files)
        for name, data in files.items():
            rows.append(
                [
                    f"{label}/{repository.replace('/', '-')}/{name}",
                    label,
                    repository,
                    f"github:{repository}",
                    commit,
                    name,
                    hashlib.sha256(data).hexdigest(),
                    "MIT",
                ]
            )
    return _listing(tmp_path / "set.csv", rows), mirrors


def _run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*VERISCAN, *map(str, args)], capture_output=True, text=True, timeout=600,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_a_set_is_rebuilt_from_its_manifest_and_the_probe_is_the_same_every_time(
    tmp_path: Path,
) -> None:
    listing, mirrors = _image_set(tmp_path)
    data = tmp_path / "data"

    fetched = _run("trainset", "fetch", "--manifest", listing, "--out", data, "--mirrors", mirrors)
    assert fetched.returncode == 0, fetched.stderr
    assert fetched.stdout.splitlines()[-1] == "18 of 18 files ready"

    outputs = []
    for attempt in ("a", "b"):
        out = tmp_path / f"probe-{attempt}.json"
        done = _run("train", "image", "--manifest", listing, "--data", data, "--out", out,
                    "--copies", "1", "--folds", "3")  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]  # deterministic: same manifest, same probe

    probe = json.loads(outputs[0])
    metrics = probe["metrics"]
    assert metrics["files"] == {"positive": 9, "negative": 9}
    # Renders and noisy photos part cleanly even for a probe that never saw the source.
    assert metrics["auc"] == 1.0
    assert len(probe["weights"]) == FEATURE_SIZE and probe["calibration"]["a"] > 0
    assert probe["features"] == FEATURES
    assert probe["views"] == {"global": True, "tiles": 4, "tile_side": 512}
    assert sum(row["files"] for row in metrics["reliability"]) == 18

    # The written probe scores a new picture as its weights say it should.
    loaded = ImageProbe.load(tmp_path / "probe-a.json")
    encoder = ClipEncoder()
    for make, side in ((_smooth, True), (_grainy, False)):
        picture = pixels(Image.open(io.BytesIO(make(99))))
        embeddings = encoder.embed(crops(picture, loaded.views))
        logit = float(np.mean(embeddings @ np.asarray(probe["weights"]) + probe["bias"]))
        assert loaded.logit(embeddings) == pytest.approx(logit, abs=1e-4)
        assert (loaded.probability(embeddings) >= 0.5) is side


def test_a_file_whose_bytes_differ_from_the_manifest_is_reported_not_kept(tmp_path: Path) -> None:
    listing, mirrors = _image_set(tmp_path)
    with listing.open(newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][6] = "0" * 64
    with listing.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)

    done = _run("trainset", "fetch", "--manifest", listing, "--out", tmp_path / "d",
                "--mirrors", mirrors)  # fmt: skip

    assert done.returncode == 1
    assert f"{rows[1][0]}: sha256 differs from the manifest's" in done.stderr
    assert not (tmp_path / "d" / rows[1][0]).exists()
    assert done.stdout.splitlines()[-1] == "17 files in " + str(tmp_path / "d") + ", 1 missing"


def test_a_file_inside_a_package_comes_from_pip(tmp_path: Path) -> None:
    picture = _smooth(7)
    index = tmp_path / "index"
    index.mkdir()
    dist = "samplepics-0.1.dist-info"
    with zipfile.ZipFile(index / "samplepics-0.1-py3-none-any.whl", "w") as wheel:
        wheel.writestr("samplepics/a.png", picture)
        wheel.writestr(
            f"{dist}/METADATA", "Metadata-Version: 2.1\nName: samplepics\nVersion: 0.1\n"
        )
        wheel.writestr(
            f"{dist}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        )
        wheel.writestr(f"{dist}/RECORD", "")
    listing = tmp_path / "set.csv"
    with listing.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        digest = hashlib.sha256(picture).hexdigest()
        writer.writerow(
            ["generated/a.png", "generated", "x", "pypi:samplepics==0.1", "", "samplepics/a.png",
             digest, "MIT"]
        )  # fmt: skip

    offline = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(index)}
    done = _run("trainset", "fetch", "--manifest", listing, "--out", tmp_path / "d", env=offline)

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "d" / "generated" / "a.png").read_bytes() == picture


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ({"label": "fake"}, "unknown label 'fake'"),
        ({"sha256": "abc"}, "sha256 must be 64 lowercase hex digits"),
        ({"file": "../escape.png"}, "must be a relative path inside the set"),
        ({"commit": "123"}, "a github source needs its 40-digit commit"),
        ({"file": "."}, "must be a relative path inside the set"),
        ({"file": "real/./a.jpg"}, "must be a relative path inside the set"),
        # 40 characters, but an option to `git show`: it would write where it names.
        ({"commit": "--output=/tmp/x" + "a" * 25}, "a github source needs its 40-digit"),
        ({"source": "github:o/n/../m"}, "is not github:owner/name"),
        ({"source": "http://example.com/x"}, "is neither github:owner/name nor pypi"),
        ({"region": "0.5,0,1.2,1"}, "is not a box within the picture"),
    ],
)
def test_bad_manifest_rows_are_refused_with_their_line(
    tmp_path: Path, row: dict[str, str], problem: str
) -> None:
    good = {"file": "real/a.jpg", "label": "real", "generator": "cam", "source": "github:o/n",
            "commit": "a" * 40, "source_path": "a.jpg", "sha256": "b" * 64, "licence": "MIT",
            "notes": "", "region": ""}  # fmt: skip
    listing = tmp_path / "m.csv"
    with listing.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(good))
        writer.writeheader()
        writer.writerow({**good, **row})
    with pytest.raises(manifest.ManifestError, match=f"m.csv line 2: .*{problem[:20]}"):
        manifest.read(listing)


def _voice(path: Path, seed: int, clean: bool, seconds: float = 2.5) -> bytes:
    """A gliding harmonic voice-like tone (breathy when not clean), 2.5 s at 16 kHz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16_000)) / 16_000
    pitch = 120 + 30 * np.sin(2 * np.pi * (0.7 + 0.1 * seed) * t) + 10 * t
    phase = 2 * np.pi * np.cumsum(pitch) / 16_000
    wave = sum(np.sin(k * phase) / k for k in range(1, 8))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    signal = 0.2 * wave * envelope
    if not clean:
        signal = signal + rng.normal(0, 0.02, t.size)
    soundfile.write(path, signal, 16_000, subtype="PCM_16")
    return path.read_bytes()


def test_the_speech_probe_is_fitted_deterministically(tmp_path: Path) -> None:
    mirrors = tmp_path / "mirrors"
    rows = []
    for repository, label, clean in (
        ("tts/a", "generated", True), ("tts/b", "generated", True),
        ("mic/a", "real", False), ("mic/b", "real", False),
    ):  # fmt: skip
        seed = len(rows)
        files = {f"{i}.wav": _voice(tmp_path / "v.wav", seed + i, clean) for i in range(3)}
        commit = _mirror(mirrors, repository, files)
        for name, data in files.items():
            rows.append([f"{label}/{repository.replace('/', '-')}/{name}", label, repository,
                         f"github:{repository}", commit, name, hashlib.sha256(data).hexdigest(),
                         "MIT"])  # fmt: skip
    listing = _listing(tmp_path / "speech.csv", rows)
    data = tmp_path / "data"
    assert _run("trainset", "fetch", "--manifest", listing, "--out", data,
                "--mirrors", mirrors).returncode == 0  # fmt: skip

    outputs = []
    cache = tmp_path / "cache"
    for attempt, kept in (("a", []), ("b", ["--cache", cache])):
        out = tmp_path / f"speech-{attempt}.json"
        done = _run("train", "speech", "--manifest", listing, "--data", data, "--out", out,
                    "--folds", "2", *kept)  # fmt: skip
        assert done.returncode == 0, done.stderr
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
    probe = json.loads(outputs[0])
    assert probe["metrics"]["files"] == {"positive": 6, "negative": 6}
    assert probe["metrics"]["manifests"] == ["speech.csv"]
    assert len(probe["weights"]) == 169  # AASIST-L's embedding and logit, eight traits
    assert not any(probe["weights"][:160])  # the embedding is not read
    assert probe["weights"][160] != 0
    assert not any(probe["weights"][161:])  # nor, by default, the traits
    assert probe["traits"] == list(speech.CUES)
    assert probe["model"] == {"name": "aasist-l", "window": 64_600, "rate": 16_000}

    # The probe file, in the readings' own units, gives what a logistic regression fitted
    # on the standardised readings gives: the standardisation is folded in correctly.
    from sklearn.linear_model import LogisticRegression

    from veriscan.training import images
    from veriscan.training import speech as training

    entries = manifest.read(listing)
    measured = training.features(entries, data, images.Recipe(copies=3), cache=cache)
    assert sorted(set(measured.copy.tolist())) == [0, 1, 2]  # as is, squeezed, conditioned
    raw = measured.embeddings
    readings = raw[:, 160:].astype(np.float64)
    means = np.nanmean(readings, axis=0)
    readings = np.where(np.isnan(readings), means, readings)
    spread = readings.std(axis=0)
    spread[spread == 0] = 1.0  # a trait the same in every window of this small set
    standard = (readings - readings.mean(axis=0)) / spread
    labels = np.asarray([int(entries[owner].positive) for owner in measured.owner])
    for file, columns in (("speech-a.json", [0]), ("traits.json", list(range(9)))):
        if file == "traits.json":
            done = _run("train", "speech", "--manifest", listing, "--data", data,
                        "--out", tmp_path / file, "--folds", "2", "--cache", cache,
                        "--traits")  # fmt: skip
            assert done.returncode == 0, done.stderr
        fitted = LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)
        fitted.fit(standard[:, columns], labels)
        shipped = speech.SpeechProbe.load(tmp_path / file)
        assert shipped.logits(raw) == pytest.approx(
            fitted.decision_function(standard[:, columns]), abs=1e-4
        )
        assert shipped.impute == pytest.approx(means[1:], abs=1e-5)  # read or not
        assert shipped.mean_logit == pytest.approx(means[0], abs=1e-5)
        assert bool(np.any(shipped.weights[161:])) is (file == "traits.json")

    # Two manifests are one set: the same probe as from one listing of all their files (in
    # that order); a file in both is refused.
    halves = [tmp_path / "synthetic.csv", tmp_path / "real.csv"]
    lines = listing.read_text().splitlines(keepends=True)
    for half, mark in zip(halves, ("generated/", "real/"), strict=True):
        half.write_text(lines[0] + "".join(line for line in lines[1:] if mark in line))
    both = tmp_path / "both.json"
    done = _run("train", "speech", "--manifest", halves[0], "--manifest", halves[1],
                "--data", data, "--out", both, "--folds", "2", "--cache", cache)  # fmt: skip
    assert done.returncode == 0, done.stderr
    together = json.loads(both.read_text())
    assert together["metrics"]["manifests"] == [h.name for h in halves]
    for key in ("weights", "bias", "calibration", "impute", "mean_logit"):
        assert together[key] == probe[key], key
    twice = _run("train", "speech", "--manifest", halves[0], "--manifest", halves[0],
                 "--data", data, "--out", tmp_path / "twice.json", "--folds", "2")  # fmt: skip
    assert twice.returncode != 0
    assert "a file is in the sets twice" in twice.stderr
    assert not (tmp_path / "twice.json").exists()
    # The same file under another name is still the same file; and a set to measure the
    # probe on elsewhere may share a source with none of the sets, the second included.
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(lines[0] + lines[1].replace("/0.wav,", "/copy-of-0.wav,", 1))
    copied = _run("train", "speech", "--manifest", listing, "--manifest", renamed,
                  "--data", data, "--out", tmp_path / "copied.json", "--folds", "2")  # fmt: skip
    assert copied.returncode != 0
    assert "a file is in the sets twice" in copied.stderr
    shared = _run("train", "speech", "--manifest", halves[0], "--manifest", halves[1],
                  "--elsewhere", halves[1], "--data", data, "--out", tmp_path / "shared.json",
                  "--folds", "2")  # fmt: skip
    assert shared.returncode != 0
    assert "shares sources or files" in shared.stderr
    assert not (tmp_path / "copied.json").exists() and not (tmp_path / "shared.json").exists()


def _speech_listing(
    tmp_path: Path, mirrors: Path, name: str, sources: Any, seconds: float = 2.5
) -> Path:
    rows = []
    for repository, label, clean, first_seed in sources:
        files = {
            f"{i}.wav": _voice(tmp_path / "v.wav", first_seed + i, clean, seconds) for i in range(3)
        }
        commit = _mirror(mirrors, repository, files)
        for file, data in files.items():
            rows.append([f"{label}/{repository.replace('/', '-')}/{file}", label, repository,
                         f"github:{repository}", commit, file, hashlib.sha256(data).hexdigest(),
                         "MIT"])  # fmt: skip
    return _listing(tmp_path / name, rows)


def test_the_speech_probe_records_what_it_does_on_other_sources(tmp_path: Path) -> None:
    """`--elsewhere` scores the fitted probe on another set as analysis scores a recording,
    records the figure in the probe, and its explanations quote it; a set that shares a
    source with the training set is refused before anything is fitted."""
    mirrors = tmp_path / "mirrors"
    listing = _speech_listing(tmp_path, mirrors, "speech.csv", (
        ("tts/a", "generated", True, 0), ("tts/b", "generated", True, 3),
        ("mic/a", "real", False, 6), ("mic/b", "real", False, 9),
    ))  # fmt: skip
    # Elsewhere both classes come clean and breathy, and the clips are long enough for two
    # windows each: the ranking is neither perfect nor reversed.
    others = _speech_listing(tmp_path, mirrors, "more.csv", (
        ("tts/c", "generated", True, 20), ("tts/d", "generated", False, 40),
        ("mic/c", "real", False, 30), ("mic/d", "real", True, 50),
    ), seconds=9.0)  # fmt: skip
    data, cache = tmp_path / "data", tmp_path / "cache"
    for manifest_ in (listing, others):
        fetched = _run("trainset", "fetch", "--manifest", manifest_, "--out", data,
                       "--mirrors", mirrors)  # fmt: skip
        assert fetched.returncode == 0, fetched.stderr
    out = tmp_path / "speech.json"
    done = _run("train", "speech", "--manifest", listing, "--data", data, "--out", out,
                "--folds", "2", "--elsewhere", others, "--cache", cache)  # fmt: skip
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text())["metrics"]["elsewhere"]
    assert figures["files"] == {"positive": 6, "negative": 6}
    assert figures["sources"] == 4
    assert figures["manifest"] == "more.csv"

    # The figure is what the shipped analyzer's own arithmetic gives on those recordings,
    # every version of each; and the first version's mean log-odds is the detector's own.
    from veriscan.training import images
    from veriscan.training import speech as training

    entries = manifest.read(others)
    measured = training.features(entries, data, images.Recipe(copies=3), cache=cache)
    probe = speech.SpeechProbe.load(out)
    logits = probe.logits(measured.embeddings)
    keys = sorted({(int(o), int(c)) for o, c in zip(measured.owner, measured.copy, strict=True)})
    assert len(keys) == 36 and np.bincount(measured.owner).max() == 6  # some: 2 windows a version
    scores = {k: float(np.mean(logits[(measured.owner == k[0]) & (measured.copy == k[1])]))
              for k in keys}  # fmt: skip
    labels = [int(entries[o].positive) for o, _ in keys]
    expected = images.auc(labels, [scores[k] for k in keys])
    assert 0.0 < expected < 1.0
    assert figures["auc"] == pytest.approx(expected, abs=1e-4)
    detector = speech.SpeechDetector(probe_path=out)
    for index in (0, 7):
        path = data / entries[index].file
        [finding] = detector.analyze(media_sample(path, MediaKind.AUDIO)).findings
        assert finding.details["logit"] == pytest.approx(scores[(index, 0)], abs=1e-3)
    quoted = clip.measured(probe.metrics, "recordings")
    assert quoted.endswith(
        f"and {figures['auc']:.2f} on 12 recordings from 4 sources outside its training set "
        "(0.50 is chance)"
    )

    refused = _run("train", "speech", "--manifest", listing, "--data", data,
                   "--out", tmp_path / "no.json", "--folds", "2",
                   "--elsewhere", listing)  # fmt: skip
    assert refused.returncode != 0
    assert "shares sources or files" in refused.stderr
    assert "held-out AUC" not in refused.stdout  # refused before any fitting
    assert not (tmp_path / "no.json").exists()


def test_the_figure_elsewhere_fills_unread_traits_as_analysis_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Traits that could not be read take the probe's training means, in float32, and the
    log-odds are averaged over each version's windows: the same as `SpeechProbe.logits`."""
    from veriscan.training import images
    from veriscan.training import speech as training

    rng = np.random.default_rng(0)
    rows = rng.normal(size=(12, speech.WIDTH)).astype(np.float32)
    rows[::3, speech.AASIST_WIDTH + 2] = np.nan  # an unread trait in some windows
    rows[1::4, speech.AASIST_WIDTH :] = np.nan  # every trait unread in others
    owner = np.repeat([0, 1, 2, 3], 3)
    copy = np.tile([0, 0, 1], 4)
    measured = images.Embedded(rows, owner, copy)
    monkeypatch.setattr(training, "features", lambda *args, **kwargs: measured)
    weights = rng.normal(size=speech.WIDTH).astype(np.float32)
    weights[: speech.AASIST_WIDTH - 1] = 0
    probe = {"weights": weights.tolist(), "bias": 0.3, "impute": rng.normal(size=8).tolist(),
             "calibration": {"a": 1.0, "b": 0.0}, "traits": list(speech.CUES), "mean_logit": 0.0,
             "name": "p", "positive": "generated", "metrics": {}}  # fmt: skip
    path = tmp_path / "p.json"
    path.write_text(json.dumps(probe))
    entries = [
        manifest.Entry(
            f"{label}/{i}.wav", label, "g", f"github:o/{i}", "a" * 40, "x", "b" * 64, "MIT"
        )
        for i, label in enumerate(("generated", "real", "generated", "real"))
    ]
    figures = training.elsewhere(probe, entries, tmp_path, images.Recipe())
    logits = speech.SpeechProbe.load(path).logits(rows)
    keys = sorted(set(zip(owner.tolist(), copy.tolist(), strict=True)))
    scores = [float(np.mean(logits[(owner == o) & (copy == c)])) for o, c in keys]
    assert figures["auc"] == round(images.auc([int(o % 2 == 0) for o, _ in keys], scores), 4)
    assert figures["files"] == {"positive": 2, "negative": 2} and figures["sources"] == 4


def test_a_noise_gate_silences_the_pauses_and_room_noise_fills_them() -> None:
    from veriscan.training import speech as training

    rate = 16_000
    t = np.arange(rate * 2) / rate
    voice = 0.3 * np.sin(2 * np.pi * 150 * t) * (t < 1.0)  # a second of voice
    pause = np.random.default_rng(0).normal(0, 3e-4, t.size) * (t >= 1.0)  # -70 dB hiss
    recording = voice + pause
    kept = recording.copy()
    speech_db = 10 * np.log10(np.mean(recording[:rate] ** 2))
    gates, slopes = 0, []
    for seed in range(40):  # the condition is drawn at random: both kinds come up
        out = training._conditioned(recording, np.random.default_rng(seed))
        again = training._conditioned(recording, np.random.default_rng(seed))
        assert np.array_equal(out, again)  # the same draw, the same version
        assert np.array_equal(recording, kept)  # the input is left as it was
        if np.all(out[rate + 160 :] == 0):  # gated: the pause is digital silence
            gates += 1
            assert np.array_equal(out[: rate - 160], recording[: rate - 160])  # voice kept
            continue
        hiss = out - recording
        hiss_db = 10 * np.log10(np.mean(hiss**2))
        assert 45 - 0.5 <= speech_db - hiss_db <= 60 + 0.5  # 45-60 dB under the voice
        power = np.abs(np.fft.rfft(hiss)) ** 2
        low, high = power[50:500].mean(), power[5_000:15_000].mean()  # ~25-250 Hz, 2.5-7.5 kHz
        slopes.append(low / high)
    assert 10 <= gates <= 30 and len(slopes) == 40 - gates
    white = [r for r in slopes if 0.5 < r < 2]
    pink = [r for r in slopes if 20 < r < 120]  # power as 1/f: ~47x over those bands
    assert white and pink and len(white) + len(pink) == len(slopes)


def test_an_image_probe_is_measured_on_other_sources_and_quotes_the_figure(
    tmp_path: Path,
) -> None:
    """`veriscan train measure-image` scores each picture of another set as analysis does,
    records the figures in the probe (its weights untouched) and the detector's explanation
    quotes them; a set that shares a source with the probe's sets is refused."""
    from veriscan.analyzers.detectors import PROBE_FILE, ImageDetector
    from veriscan.training.images import auc

    listing, mirrors = _image_set(tmp_path)
    rows = []
    for repository, label, make, seed in (
        ("gen/x", "generated", _smooth, 1000), ("gen/y", "generated", _smooth, 1010),
        ("cam/x", "real", _grainy, 1020), ("cam/y", "real", _grainy, 1030),
    ):  # fmt: skip
        files = {f"p/{i}.img": make(seed + i) for i in range(3)}
        if repository == "cam/y":  # an icon: the detector does not judge it
            icon = io.BytesIO()
            Image.new("RGB", (40, 40), (90, 120, 30)).save(icon, "PNG")
            files["p/icon.img"] = icon.getvalue()
        commit = _mirror(mirrors, repository, files)
        for name, data in files.items():
            rows.append([f"{label}/{repository.replace('/', '-')}/{name}", label,
                         f"{label} from {repository}", f"github:{repository}", commit, name,
                         hashlib.sha256(data).hexdigest(), "MIT"])  # fmt: skip
    other = _listing(tmp_path / "other.csv", rows)
    data = tmp_path / "data"
    for listed in (listing, other):
        fetched = _run("trainset", "fetch", "--manifest", listed, "--out", data,
                       "--mirrors", mirrors)  # fmt: skip
        assert fetched.returncode == 0, fetched.stderr
    probe = tmp_path / "image_probe.json"
    probe.write_bytes(PROBE_FILE.read_bytes())

    done = _run("train", "measure-image", "--manifest", other, "--data", data,
                "--probe", probe, "--fitted-on", listing)  # fmt: skip
    assert done.returncode == 0, done.stderr
    measured, shipped = json.loads(probe.read_text()), json.loads(PROBE_FILE.read_text())
    figures = measured["metrics"].pop("elsewhere")
    shipped["metrics"].pop("elsewhere", None)
    assert measured == shipped  # nothing but the figures changed
    assert figures["files"] == {"positive": 6, "negative": 6}
    assert (figures["not_judged"], figures["sources"], figures["manifest"]) == (1, 4, "other.csv")

    # The figure is the AUC of what the detector itself gives on each file.
    entries = manifest.read(other)
    detector = ImageDetector(probe_path=probe)
    scores = {}
    for entry in entries:
        [finding] = detector.analyze(media_sample(data / entry.file, MediaKind.IMAGE)).findings
        scores[entry.file] = finding.score
    judged = [e for e in entries if scores[e.file] is not None]
    assert [e.file for e in entries if e not in judged] == ["real/cam-y/p/icon.img"]
    expected = auc([int(e.positive) for e in judged], [scores[e.file] for e in judged])
    assert figures["auc"] == pytest.approx(expected, abs=1e-4)
    low, high = figures["interval_95"]
    assert 0.0 <= low <= figures["auc"] <= high <= 1.0
    for group in ("generated: generated from gen/x", "real: github:cam/y"):
        inside = [scores[e.file] for e in judged
                  if f"{e.label}: {e.generator if e.positive else e.group}" == group]  # fmt: skip
        assert figures["by_group"][group] == {
            "files": len(inside),
            "called_generated": round(float(np.mean(np.asarray(inside) >= 0.5)), 3),
            "suspicious_or_more": round(float(np.mean(np.asarray(inside) >= 0.4)), 3),
        }
    [finding] = detector.analyze(media_sample(data / entries[0].file, MediaKind.IMAGE)).findings
    assert (
        f"and {figures['auc']:.2f} on 12 pictures from 4 sources outside its training set "
        "(0.50 is chance)"
    ) in finding.summary

    before = probe.read_bytes()
    refused = _run("train", "measure-image", "--manifest", other, "--data", data,
                   "--probe", probe, "--fitted-on", listing, "--fitted-on", other)  # fmt: skip
    assert refused.returncode != 0
    assert "shares sources or files" in refused.stderr
    # A file whose bytes are not the manifest's is refused before anything is scored.
    (data / entries[0].file).write_bytes(b"not the picture")
    altered = _run("train", "measure-image", "--manifest", other, "--data", data,
                   "--probe", probe, "--fitted-on", listing)  # fmt: skip
    assert altered.returncode != 0
    assert "sha256 is not the manifest's" in altered.stderr
    assert "scored" not in altered.stdout
    assert probe.read_bytes() == before


def test_the_figures_elsewhere_are_those_of_the_scores() -> None:
    """`elsewhere.figures` on scores given by hand; `elsewhere.shared` by source and by
    file; `elsewhere.problems` on a row about a region and a set of one class."""
    from veriscan.training import elsewhere

    def entry(label: str, source: str, generator: str, number: int) -> manifest.Entry:
        return manifest.Entry(
            f"{label}/{source}/{number}.png", label, generator, f"github:{source}", "c" * 40,
            f"{number}.png", f"{number:064x}", "MIT",
        )  # fmt: skip

    made = [entry("generated", "gen/a", "G", i) for i in range(4)]
    photos = [entry("real", "cam/a", "camera", 10 + i) for i in range(4)]
    # Apart: every generated picture above every photo; one photo at 0.45 is SUSPICIOUS.
    apart = elsewhere.figures(made + photos, [0.9, 0.8, 0.7, 0.6, 0.45, 0.3, 0.2, None])
    assert (apart["auc"], apart["interval_95"]) == (1.0, [1.0, 1.0])
    assert apart["files"] == {"positive": 4, "negative": 3} and apart["not_judged"] == 1
    assert apart["by_group"]["real: github:cam/a"] == {
        "files": 3, "called_generated": 0.0, "suspicious_or_more": 0.333,
    }  # fmt: skip
    assert apart["by_group"]["generated: G"]["called_generated"] == 1.0
    # Mixed: AUC by ranks, ties counted half, and an interval that holds it.
    mixed = elsewhere.figures(made + photos, [0.9, 0.5, 0.3, 0.2, 0.6, 0.3, 0.1, 0.05])
    assert mixed["auc"] == pytest.approx((4 + 3 + 2.5 + 2) / 16, abs=1e-4)
    low, high = mixed["interval_95"]
    assert 0.0 < low < mixed["auc"] < high <= 1.0
    with pytest.raises(ValueError, match="no picture of one class"):
        elsewhere.figures(made + photos, [0.9, 0.8, 0.7, 0.6, None, None, None, None])

    same_source = entry("real", "gen/a", "camera", 99)
    assert elsewhere.shared([same_source], made) == ["github:gen/a"]
    assert elsewhere.shared(photos[:1], made + photos[:1]) == ["github:cam/a"]
    assert elsewhere.shared(photos, made) == []
    copied = manifest.Entry("real/x/y.png", "real", "camera", "github:x/y", "c" * 40, "y.png",
                            made[0].sha256, "MIT")  # fmt: skip
    assert elsewhere.shared([copied], made) == [made[0].sha256]
    regional = manifest.Entry(*(photos[0].file, "real", "camera", "github:cam/a", "c" * 40,
                                "10.png", photos[0].sha256, "MIT", "", "0,0,0.5,1"))  # fmt: skip
    found = elsewhere.problems([regional, *made], Path("/nonexistent"))
    assert found[0].endswith("a row about a region is not a file analysis sees")
    assert "not in /nonexistent" in found[1]
    assert elsewhere.problems(made, Path("/nonexistent"))[-1] == (
        "the set needs both real and generated pictures"
    )
