"""A shipped image probe measured on pictures from sources outside its training set
(`veriscan train measure-image`).

A probe's held-out figure comes from folds of its own set: every file is scored by a fold
model that never saw its repository, but the repositories are all of the same kinds. A set
gathered elsewhere says whether that figure carries. Each file is scored as analysis
scores it (`ImageDetector`, the file as it is: whole view and tiles, metadata unread), and
the figures are written into the probe file as `metrics.elsewhere`, which the detector's
explanation quotes beside the held-out one (`clip.measured`). The probe's weights are not
touched.
"""

from __future__ import annotations

import mimetypes
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from veriscan.analyzers.base import MediaKind, MediaSample
from veriscan.analyzers.detectors import ImageDetector
from veriscan.analyzers.fusion import Thresholds
from veriscan.training.images import auc
from veriscan.training.manifest import Entry, ManifestError, load_bytes

SUSPICIOUS = Thresholds().suspicious / 100  # a SUSPICIOUS verdict's default, as a probability
BOOTSTRAP = 2000


def shared(entries: Sequence[Entry], fitted: Sequence[Entry]) -> list[str]:
    """Sources or files the set to measure on has in common with the probe's own sets."""
    sources = sorted({e.group for e in entries} & {e.group for e in fitted})
    return sources or sorted({e.sha256 for e in entries} & {e.sha256 for e in fitted})


def problems(entries: Sequence[Entry], data: Path) -> list[str]:
    """What would stop the set from being scored, found before any scoring: a row about a
    region of a file (analysis sees whole files), a missing file, bytes that are not the
    manifest's, or a class with no file."""
    found = []
    for entry in entries:
        path = data / entry.file
        if entry.region:
            found.append(f"{entry.file}: a row about a region is not a file analysis sees")
        elif not path.is_file():
            found.append(f"{entry.file}: not in {data} (fetch it with `veriscan trainset fetch`)")
        else:
            try:
                load_bytes(data, entry)
            except ManifestError:
                found.append(f"{entry.file}: its sha256 is not the manifest's")
    if len({e.positive for e in entries}) < 2:
        found.append("the set needs both real and generated pictures")
    return found


def score_images(
    entries: Sequence[Entry],
    data: Path,
    probe_path: Path,
    *,
    model_dir: Path | None = None,
    report: Callable[[str], None] = print,
) -> list[float | None]:
    """The probe's calibrated probability for each file as analysis gives it (None: the
    detector did not judge the picture, e.g. too small)."""
    detector = ImageDetector(model_dir, probe_path)
    scores: list[float | None] = []
    for index, entry in enumerate(entries):
        path = data / entry.file
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        sample = MediaSample(path, MediaKind.IMAGE, mime, path.stat().st_size, entry.sha256)
        [finding] = detector.analyze(sample).findings
        scores.append(finding.score)
        if (index + 1) % 50 == 0:
            report(f"scored {index + 1}/{len(entries)} pictures")
    return scores


def figures(
    entries: Sequence[Entry], scores: Sequence[float | None], *, seed: int = 0
) -> dict[str, Any]:
    """ROC AUC over the judged files with a 95 % bootstrap interval (files resampled within
    each class), and per generator and per real source the share called generated (0.5)
    and at least SUSPICIOUS (0.40). Both classes must have a judged file."""
    judged = [(e, s) for e, s in zip(entries, scores, strict=True) if s is not None]
    labels = np.asarray([int(e.positive) for e, _ in judged])
    values = np.asarray([s for _, s in judged], np.float32)
    rng = np.random.default_rng(seed)
    positive, negative = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if positive.size == 0 or negative.size == 0:
        raise ValueError("the detector judged no picture of one class: no AUC to give")
    draws = []
    for _ in range(BOOTSTRAP):
        chosen = np.concatenate(
            [rng.choice(positive, positive.size), rng.choice(negative, negative.size)]
        )
        draws.append(auc(labels[chosen], values[chosen]))
    low, high = np.quantile(draws, [0.025, 0.975])
    groups: dict[str, list[float]] = defaultdict(list)
    for entry, score in judged:
        key = f"{entry.label}: {entry.generator if entry.positive else entry.group}"
        groups[key].append(score)
    return {
        "what": "pictures from sources outside the probe's sets, scored as analysis scores them",
        "auc": round(auc(labels, values), 4),
        "interval_95": [round(float(low), 4), round(float(high), 4)],
        "files": {"positive": int(positive.size), "negative": int(negative.size)},
        "not_judged": len(entries) - len(judged),
        "sources": len({e.group for e, _ in judged}),
        "by_group": {
            key: {
                "files": len(group),
                "called_generated": round(float(np.mean(np.asarray(group) >= 0.5)), 3),
                "suspicious_or_more": round(float(np.mean(np.asarray(group) >= SUSPICIOUS)), 3),
            }
            for key, group in sorted(groups.items())
        },
    }
