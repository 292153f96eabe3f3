"""The learned detectors (image, video, speech): each score is recomputed here from the
model files directly, so a detector that mixed up its crops, frames, faces, windows or
calibration would fail; a missing or altered model is reported, never replaced."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from tests.analyzers.fixtures import media_eval, media_sample
from tests.analyzers.test_audio import RATE as VOICE_RATE
from tests.analyzers.test_audio import recorded_voice
from veriscan.analyzers import clip, models, speech
from veriscan.analyzers.base import AnalyzerFailed, MediaKind
from veriscan.analyzers.detectors import PROBE_FILE, ImageDetector, VideoDetector, face_crops
from veriscan.analyzers.frames import sample_frames


def _picture(seed: int, size: tuple[int, int]) -> np.ndarray:
    """A smooth scene with grain: gradients, a disc and noise (no two seeds alike)."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width * 200, y / height * 180, (x + y) / (width + height) * 255], axis=2)
    cx, cy, r = rng.uniform(0.3, 0.7) * width, rng.uniform(0.3, 0.7) * height, height / 4
    disc = ((x - cx) ** 2 + (y - cy) ** 2 < r * r)[..., None]
    base = np.where(disc, rng.uniform(0, 255, 3), base)
    noisy = base + rng.normal(0, 6, base.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8)


def _expected(picture: Image.Image, probe: clip.ImageProbe) -> tuple[float, float]:
    """The probe's log-odds and calibrated probability, from the encoder directly."""
    embeddings = clip.ClipEncoder().embed(clip.crops(clip.pixels(picture), probe.views))
    logit = float(np.mean(embeddings @ probe.weights + np.float32(probe.bias)))
    return logit, 1 / (1 + math.exp(-(probe.calibration.a * logit + probe.calibration.b)))


def test_image_probability_is_the_calibrated_mean_over_its_views(tmp_path: Path) -> None:
    path = tmp_path / "scene.png"
    Image.fromarray(_picture(1, (900, 600))).save(path)
    probe = clip.ImageProbe.load(PROBE_FILE)
    assert (probe.views.global_view, probe.views.tiles) == (True, 4)

    [finding] = ImageDetector().analyze(media_sample(path, MediaKind.IMAGE)).findings

    with Image.open(path) as picture:
        logit, probability = _expected(picture, probe)
    assert finding.details["logit"] == round(logit, 4)
    assert finding.score == round(probability, 4)
    assert finding.calibrated is True
    assert f"{probability:.0%} likely to be generated or manipulated" in finding.summary
    assert f"held-out AUC {probe.metrics['auc']:.2f}" in finding.summary
    # and the figure on pictures from sources outside its sets (`veriscan train
    # measure-image` on training/images-more.csv)
    other = probe.metrics["elsewhere"]
    assert (other["manifest"], other["files"]) == (
        "images-more.csv",
        {"positive": 103, "negative": 113},
    )
    assert (
        f"and {other['auc']:.2f} on 216 pictures from 43 sources outside its training set "
        "(0.50 is chance)"
    ) in finding.summary


def test_a_large_jpeg_is_decoded_reduced_but_keeps_its_tiles_resolution(tmp_path: Path) -> None:
    # 4000x3000: libjpeg's 1/4 scale (1000x750) still has a shorter side >= the 512 the
    # tiles are cut at; 1/8 (500x375) would not, so 1/4 is what the detector must see.
    path = tmp_path / "large.jpg"
    Image.fromarray(_picture(2, (4000, 3000))).save(path, quality=90)
    probe = clip.ImageProbe.load(PROBE_FILE)

    [finding] = ImageDetector().analyze(media_sample(path, MediaKind.IMAGE)).findings

    with Image.open(path) as picture:
        picture.draft("RGB", (1000, 750))
        assert picture.size == (1000, 750)
        logit, probability = _expected(picture, probe)
    assert (finding.details["logit"], finding.score) == (round(logit, 4), round(probability, 4))


def _probe_file(tmp_path: Path, weights: np.ndarray, *, tiles: int = 0) -> Path:
    path = tmp_path / "probe.json"
    body = {
        "name": "test-probe",
        "views": {"global": True, "tiles": tiles, "tile_side": 512},
        "features": clip.FEATURES,
        "weights": [float(w) for w in weights],
        "bias": 0.0,
        "calibration": {"a": 1.0, "b": 0.0},
        "metrics": {"auc": 0.5, "files": {"positive": 1, "negative": 1}},
    }
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_the_score_follows_the_probe_and_the_picture(tmp_path: Path) -> None:
    # A probe pointing at one picture's own features (scaled so that their product is 10)
    # rates that picture sigmoid(10) and another picture lower: the score comes from the
    # pixels, through the probe. Each of the 12 standardised tokens has unit length.
    one, other = tmp_path / "one.png", tmp_path / "other.png"
    Image.fromarray(_picture(3, (400, 300))).save(one)
    Image.fromarray(_picture(4, (400, 300))[:, ::-1]).save(other)
    with Image.open(one) as picture:
        [target] = clip.ClipEncoder().embed(clip.crops(clip.pixels(picture), clip.Views(tiles=0)))
    assert float(target @ target) == pytest.approx(2 * len(clip.BLOCKS), rel=1e-4)
    detector = ImageDetector(probe_path=_probe_file(tmp_path, 10 * target / (target @ target)))

    [mine] = detector.analyze(media_sample(one, MediaKind.IMAGE)).findings
    [theirs] = detector.analyze(media_sample(other, MediaKind.IMAGE)).findings

    assert mine.details["logit"] == pytest.approx(10.0, abs=1e-3)
    assert mine.score == round(1 / (1 + math.exp(-10)), 4)
    assert theirs.score is not None and theirs.score < mine.score


def test_missing_or_altered_models_are_reported_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "scene.png"
    Image.fromarray(_picture(5, (300, 200))).save(path)
    sample = media_sample(path, MediaKind.IMAGE)

    with pytest.raises(AnalyzerFailed, match=r"not installed .*veriscan models install"):
        ImageDetector(model_dir=tmp_path / "empty").analyze(sample)

    altered = tmp_path / "altered"
    altered.mkdir()
    real = models.locate(models.CLIP_ENCODER)
    with real.open("rb") as source, (altered / real.name).open("wb") as out:
        shutil.copyfileobj(source, out, length=1 << 20)
        out.write(b"\0")
    with pytest.raises(AnalyzerFailed, match="not the pinned"):
        ImageDetector(model_dir=altered).analyze(sample)

    broken = _probe_file(tmp_path, np.ones(3, np.float32))
    with pytest.raises(AnalyzerFailed, match=f"{clip.FEATURE_SIZE} finite weights"):
        ImageDetector(probe_path=broken).analyze(sample)

    # A probe fitted on the final 512-number embedding (as shipped before) is refused,
    # not read as if its weights meant the block features.
    body = json.loads(PROBE_FILE.read_text(encoding="utf-8"))
    body.pop("features")
    older = tmp_path / "older.json"
    older.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(AnalyzerFailed, match="fitted on other features, not clip-b16-blocks6"):
        ImageDetector(probe_path=older).analyze(sample)


def test_video_scores_its_frames_and_the_faces_in_them() -> None:
    path = media_eval() / "video/real/icpr-ffpp-youtube_519.mp4"
    probe = clip.ImageProbe.load(PROBE_FILE)
    encoder = clip.ClipEncoder()

    [finding] = VideoDetector().analyze(media_sample(path, MediaKind.VIDEO)).findings

    frames = [Image.fromarray(s.frame) for s in sample_frames(path, 8)]
    faces = [face for frame in frames for face in face_crops(frame)]
    assert (len(frames), len(finding.details["frames"])) == (8, 8)
    assert len(faces) >= 4  # a talking head: a face in most frames
    assert len(finding.details["faces"]) == len(faces)

    def logits(pictures: list[Image.Image], views: clip.Views) -> list[float]:
        # All crops through the encoder in one call: the INT8 graph quantises each call's
        # crops as a whole, so what shares a call is part of the result.
        cut = [clip.crops(p, views) for p in pictures]
        values = encoder.embed([c for group in cut for c in group]) @ probe.weights
        values = values + np.float32(probe.bias)
        sizes = np.cumsum([len(group) for group in cut])[:-1]
        return [float(np.mean(part)) for part in np.split(values, sizes)]

    # Each frame's views in a call of their own (as a training picture's); the faces together.
    frame_logits = [logits([frame], probe.views)[0] for frame in frames]
    face_logits = logits(faces, clip.Views(global_view=True, tiles=0))
    assert [f["logit"] for f in finding.details["frames"]] == [round(v, 4) for v in frame_logits]
    assert [f["logit"] for f in finding.details["faces"]] == [round(v, 4) for v in face_logits]
    p_frames = probe.calibration.probability(float(np.mean(frame_logits)))
    p_faces = probe.calibration.probability(float(np.mean(face_logits)))
    assert finding.details["frames_probability"] == round(p_frames, 4)
    assert finding.details["faces_probability"] == round(p_faces, 4)
    assert finding.score == round(max(p_frames, p_faces), 4)
    assert f"8 frames and {len(faces)} face crops" in finding.summary


def test_an_animation_is_judged_on_frames_spread_over_it(tmp_path: Path) -> None:
    path = tmp_path / "loop.gif"
    frames = [Image.fromarray(_picture(10 + i, (160, 120))) for i in range(12)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=50, loop=0)

    [finding] = VideoDetector().analyze(media_sample(path, MediaKind.VIDEO)).findings

    # 12 frames of 50 ms, 8 samples: frames int((i + 0.5) * 12 / 8) = 0,2,3,5,6,8,9,11.
    times = [f["time"] for f in finding.details["frames"]]
    assert times == [0.0, 0.1, 0.15, 0.25, 0.3, 0.4, 0.45, 0.55]
    assert finding.details["faces"] == []
    assert finding.details["faces_probability"] is None


def test_speech_probability_is_the_calibrated_mean_over_its_windows(tmp_path: Path) -> None:
    path = tmp_path / "voice.wav"
    soundfile.write(path, recorded_voice(seed=2, seconds=12.0), VOICE_RATE)
    probe = speech.SpeechProbe.load(speech.PROBE_FILE)

    [finding] = speech.SpeechDetector().analyze(media_sample(path, MediaKind.AUDIO)).findings

    from veriscan.analyzers.audio import RATE, DecodedAudio, decode_audio, measure_cues, to_rate

    decoded = decode_audio(path, max_seconds=60.0)
    chosen = speech.windows(to_rate(decoded.samples, decoded.rate, RATE))
    assert len(chosen) == 2  # 12 s holds no more than two 4.04 s windows that do not overlap
    assert all(w.shape == (speech.WINDOW,) for w in chosen)
    model = models.session(speech.AASIST_L)
    logits = np.concatenate([model.run(None, {"waveform": w[None, :]})[1] for w in chosen])
    spoof = logits[:, 0] - logits[:, 1]
    # The probe reads AASIST-L's spoof logit and the window's traits as the audio module
    # measures them; nothing of the 160-number embedding.
    traits = []
    for window in chosen:
        decoded_window = DecodedAudio(window.astype(np.float64), RATE, "pcm", 1, None, RATE)
        cues, _, facts = measure_cues(decoded_window)
        assert cues is not None
        sources = [speech.MEASURED_AS.get(n, n) for n in speech.CUES]
        traits.append([cues[n].value if n in cues else facts[n] for n in sources])
    values = np.asarray(traits, np.float64)
    assert np.all(np.isfinite(values))  # a clean voice: every trait is read
    assert not np.any(probe.weights[:160])
    window_logits = (
        spoof * probe.weights[160] + values @ probe.weights[161:] + np.float32(probe.bias)
    )
    probability = probe.calibration.probability(float(np.mean(window_logits)))
    assert finding.details["window_logits"] == pytest.approx(
        [round(float(v), 4) for v in window_logits], abs=2e-4
    )
    assert finding.score == pytest.approx(round(probability, 4), abs=2e-4)
    # The finding quotes how the probe did on its held-out folds, says what it reads, and
    # calls it weak when that figure is under fusion's bar; fusion gets the figure too.
    held = probe.metrics
    assert (
        f"the learned speech detector (AASIST-L's spoof score, with Veriscan's probe; "
        f"held-out AUC {held['auc']:.2f} on {sum(held['files'].values())} recordings from "
        "sources it was not trained on; a weak detector, whose reading is a hint) rates 8 s "
        f"of the voice {probability:.0%} likely to be synthetic"
    ) in finding.summary
    assert held["auc"] < 0.75 and finding.measured_auc == held["auc"]
    assert finding.details["traits"] == pytest.approx(
        {name: float(values[:, k].mean()) for k, name in enumerate(speech.CUES)}, abs=2e-4
    )
    # The probe reads one thing, AASIST-L's logit: its share of the log-odds against the
    # average training window is the one listed, and with nothing to compare it with the
    # summary does not name what weighed (the probability says which way).
    share = float(probe.weights[160] * (spoof.mean() - probe.mean_logit))
    assert finding.details["weighed"] == pytest.approx({"aasist": share}, abs=2e-3)
    assert "what weighed" not in finding.summary
    assert finding.calibrated is True


def test_a_speech_probe_that_reads_the_traits_and_measured_well_says_so(tmp_path: Path) -> None:
    # A probe fitted with `--traits` whose held-out AUC is 0.80: no "weak", the traits named
    # among what it reads, and the two readings that weighed most put in words.
    raw = json.loads(speech.PROBE_FILE.read_text(encoding="utf-8"))
    raw["weights"][161:] = [0.5, -1.0, 2.0, -0.5, 3.0, 1.0, -0.25, 0.75]
    raw["metrics"] = {**raw["metrics"], "auc": 0.8}
    probe_path = tmp_path / "with-traits.json"
    probe_path.write_text(json.dumps(raw), encoding="utf-8")
    path = tmp_path / "voice.wav"
    soundfile.write(path, recorded_voice(seed=2, seconds=12.0), VOICE_RATE)

    detector = speech.SpeechDetector(probe_path=probe_path)
    [finding] = detector.analyze(media_sample(path, MediaKind.AUDIO)).findings

    assert finding.measured_auc == 0.8
    assert finding.summary.startswith(
        "the learned speech detector (AASIST-L and measured traits of the voice, with "
        "Veriscan's probe; held-out AUC 0.80 on "
    )
    assert "weak" not in finding.summary
    weighed = finding.details["weighed"]
    assert set(weighed) == {"aasist", *speech.CUES}  # every reading it reads
    first, second = list(weighed)[:2]
    named = [name for name in (first, second) if abs(weighed[name]) >= speech.WORTH_A_WORD]
    assert named  # this voice is far from the average on some trait
    from veriscan.analyzers.audio import RATE, decode_audio, to_rate

    decoded = decode_audio(path, max_seconds=60.0)
    features = detector.model.features(speech.windows(to_rate(decoded.samples, decoded.rate, RATE)))
    readings = {w.name: w for w in speech.SpeechProbe.load(probe_path).weighed(features)}
    for name in named:
        higher, lower = speech.SAYS[name]
        assert (higher if readings[name].above else lower) in finding.summary
    assert "; what weighed most: " in finding.summary


def test_silence_is_not_judged_as_speech(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    soundfile.write(path, np.zeros(VOICE_RATE * 5, np.float32), VOICE_RATE)

    [finding] = speech.SpeechDetector().analyze(media_sample(path, MediaKind.AUDIO)).findings

    assert (finding.score, finding.weight) == (None, 0.0)
    assert "found no speech" in finding.summary


def test_a_speech_probe_that_cannot_be_read_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "voice.wav"
    soundfile.write(path, recorded_voice(seed=3, seconds=5.0), VOICE_RATE)
    broken = tmp_path / "speech_probe.json"
    broken.write_text(json.dumps({"name": "x", "weights": [1.0], "bias": 0}), encoding="utf-8")

    with pytest.raises(AnalyzerFailed, match="169 finite weights"):
        speech.SpeechDetector(probe_path=broken).analyze(media_sample(path, MediaKind.AUDIO))


def test_a_speech_probe_without_its_training_means_is_refused(tmp_path: Path) -> None:
    raw = json.loads(speech.PROBE_FILE.read_text(encoding="utf-8"))
    for key, message in (
        ("mean_logit", "finite `mean_logit`"),
        ("impute", "8 finite `impute`"),
        ("traits", "must read the traits"),
    ):
        broken = dict(raw)
        del broken[key]
        path = tmp_path / f"without-{key}.json"
        path.write_text(json.dumps(broken), encoding="utf-8")
        with pytest.raises(ValueError, match=message):
            speech.SpeechProbe.load(path)


def test_a_window_with_too_little_voice_for_its_traits_still_gets_a_score(
    tmp_path: Path,
) -> None:
    # 4.5 s of voice, then 5 s of quiet room: the second window holds under a second of
    # voice, so its traits cannot be read and the probe gives them their training means.
    quiet = np.random.default_rng(1).normal(0, 1e-3, VOICE_RATE * 5)
    path = tmp_path / "voice-then-quiet.wav"
    voice = recorded_voice(seed=4, seconds=4.5)
    soundfile.write(path, np.concatenate([voice, quiet]).astype(np.float32), VOICE_RATE)

    [finding] = speech.SpeechDetector().analyze(media_sample(path, MediaKind.AUDIO)).findings

    from veriscan.analyzers.audio import RATE, decode_audio, to_rate

    decoded = decode_audio(path, max_seconds=60.0)
    chosen = speech.windows(to_rate(decoded.samples, decoded.rate, RATE))
    cues = np.asarray([speech.window_cues(w) for w in chosen])
    assert len(chosen) == 2
    assert np.isfinite(cues[0]).all() and np.isnan(cues[1]).all()
    assert finding.score is not None and 0.0 < finding.score < 1.0
    assert finding.details["traits"] == pytest.approx(
        {name: float(cues[0, k]) for k, name in enumerate(speech.CUES)}, abs=2e-4
    )
    assert all(np.isfinite(finding.details["window_logits"]))


def test_a_trait_that_cannot_be_read_is_given_the_probes_training_mean(tmp_path: Path) -> None:
    # A probe that reads the traits (`veriscan train speech --traits`; the shipped one reads
    # AASIST-L's logit alone): the shipped file with weights on them.
    raw = json.loads(speech.PROBE_FILE.read_text(encoding="utf-8"))
    raw["weights"][161:] = [0.5, -1.0, 2.0, -0.5, 3.0, 1.0, -0.25, 0.75]
    path = tmp_path / "with-traits.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    probe = speech.SpeechProbe.load(path)
    assert probe.reads() == "AASIST-L and measured traits of the voice"
    assert speech.SpeechProbe.load(speech.PROBE_FILE).reads() == "AASIST-L's spoof score"
    rng = np.random.default_rng(5)
    row = rng.normal(0, 1, (1, speech.WIDTH)).astype(np.float32)
    blind = row.copy()
    blind[0, 161 + speech.CUES.index("shimmer")] = np.nan

    filled = row.copy()
    filled[0, 161 + speech.CUES.index("shimmer")] = probe.impute[speech.CUES.index("shimmer")]
    assert probe.logits(blind) == pytest.approx(probe.logits(filled))
    assert probe.logits(blind) != pytest.approx(probe.logits(row))
    assert np.isnan(blind).sum() == 1  # the caller's features are left as they were


@pytest.mark.parametrize(
    ("size", "colour", "reason"),
    [
        ((48, 300), None, "the picture (48x300) is too small to judge"),
        ((400, 300), (12, 200, 40), "the picture is one flat colour: there is nothing to judge"),
        ((1000, 100), None, "the picture (1000x100) is a strip too narrow to judge"),
    ],
)
def test_what_shows_nothing_is_not_judged(
    tmp_path: Path, size: tuple[int, int], colour: tuple[int, int, int] | None, reason: str
) -> None:
    path = tmp_path / "nothing.png"
    if colour is None:
        Image.fromarray(_picture(6, size)).save(path)
    else:
        Image.new("RGB", size, colour).save(path)

    [finding] = ImageDetector().analyze(media_sample(path, MediaKind.IMAGE)).findings

    assert (finding.score, finding.weight) == (None, 0.0)
    assert finding.summary == f"The learned image detector did not judge the file: {reason}"


def test_a_sixteen_bit_scan_is_scaled_not_clipped(tmp_path: Path) -> None:
    # The same grey picture as 8 and as 16 bits a sample: Pillow's own convert would clip
    # the 16-bit one to white; scaled, both are the same picture to the detector.
    grey = _picture(7, (320, 240))[:, :, 1]
    eight, sixteen = tmp_path / "eight.png", tmp_path / "sixteen.png"
    Image.fromarray(grey, "L").save(eight)
    Image.fromarray(grey.astype(np.uint16) * 257).save(sixteen)
    with Image.open(sixteen) as opened:
        assert opened.mode.startswith("I")

    [a] = ImageDetector().analyze(media_sample(eight, MediaKind.IMAGE)).findings
    [b] = ImageDetector().analyze(media_sample(sixteen, MediaKind.IMAGE)).findings

    assert a.score is not None and (a.score, a.details["logit"]) == (b.score, b.details["logit"])
