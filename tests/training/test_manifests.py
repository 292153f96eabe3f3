"""The committed training manifests keep the rules they were built under: nothing from
the evaluation set's sources or the C2PA SDKs' fixtures, and the breadth the image probe
was asked for."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

from tests.analyzers.fixtures import REPO_ROOT, media_eval
from veriscan.training import manifest

MANIFESTS = (
    "images.csv",
    "faces.csv",
    "images-more.csv",
    "images-gan.csv",
    "speech.csv",
    "speech-more.csv",
)


def _entries(name: str) -> list[manifest.Entry]:
    return manifest.read(REPO_ROOT / "training" / name)


def test_no_training_file_comes_from_where_the_evaluation_set_does() -> None:
    root = media_eval()
    with (root / "manifest.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    evaluation_repositories = {r["source_repo"].lower() for r in rows if "/" in r["source_repo"]}
    evaluation_hashes = {hashlib.sha256((root / r["file"]).read_bytes()).hexdigest() for r in rows}
    for name in MANIFESTS:
        for entry in _entries(name):
            repository = entry.source.removeprefix("github:").lower()
            assert repository not in evaluation_repositories, (name, entry.file)
            assert not repository.startswith(("contentauth/", "c2pa-org/")), (name, entry.file)
            assert entry.sha256 not in evaluation_hashes, (name, entry.file)
            assert entry.licence, (name, entry.file)


def test_the_image_set_is_as_broad_as_asked() -> None:
    entries = _entries("images.csv")
    generated = [e for e in entries if e.label == "generated"]
    real = [e for e in entries if e.label == "real"]
    assert len(entries) >= 600
    assert len(generated) >= 300 and len(real) >= 300
    families = Counter(e.generator.split(" ")[0].split("-")[0].lower() for e in generated)
    assert len(families) >= 10
    assert len({e.source for e in real}) >= 10
    assert len({e.sha256 for e in entries}) == len(entries)  # no file twice


def test_the_speech_and_face_sets_hold_both_classes() -> None:
    for name, least in (("faces.csv", 100), ("speech.csv", 100), ("speech-more.csv", 50)):
        labels = Counter(e.positive for e in _entries(name))
        assert labels[True] >= least and labels[False] >= least, name


def test_the_speech_sources_kept_apart_share_nothing_with_the_probe_s_set() -> None:
    """`speech-more.csv` measured the speech probe of the ninth session on sources it never
    saw; since the tenth the probe is fitted on both, and the two still share no file and
    no repository, so that the ninth session's comparison (`compare_speech.py`) reproduces."""
    fitted = _entries("speech.csv")
    more = _entries("speech-more.csv")
    assert not {e.sha256 for e in fitted} & {e.sha256 for e in more}
    assert not {e.source for e in fitted} & {e.source for e in more}


def test_the_image_sources_kept_apart_share_nothing_with_the_probe_s_sets() -> None:
    """`images-more.csv` measures the image probe on sources it never saw (`veriscan train
    measure-image`): no file and no repository of it may be in the sets it was fitted on."""
    fitted = _entries("images.csv") + _entries("faces.csv")
    more = _entries("images-more.csv")
    assert len(more) >= 200
    assert not {e.sha256 for e in fitted} & {e.sha256 for e in more}
    assert not {e.group for e in fitted} & {e.group for e in more}
    labels = Counter(e.positive for e in more)
    assert labels[True] >= 100 and labels[False] >= 100


def test_the_gan_era_pictures_share_nothing_with_the_other_image_sets() -> None:
    """`images-gan.csv` measures the image probe on GAN-era pictures from sources it never
    saw, apart from `images-more.csv` too (each measures a kind of its own)."""
    others = _entries("images.csv") + _entries("faces.csv") + _entries("images-more.csv")
    gan = _entries("images-gan.csv")
    assert not {e.sha256 for e in others} & {e.sha256 for e in gan}
    assert not {e.group for e in others} & {e.group for e in gan}
    assert not [e.file for e in gan if e.region], "measure-image scores whole files"
    labels = Counter(e.positive for e in gan)
    assert labels[True] >= 60 and labels[False] >= 60


def test_every_manifest_names_its_files_once(tmp_path: Path) -> None:
    for name in MANIFESTS:
        entries = _entries(name)
        assert len({(e.file, e.region) for e in entries}) == len(entries)
