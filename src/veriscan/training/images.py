"""Fitting the image probe: CLIP features (`clip.FEATURES`) of a labelled set, a logistic
regression on them, its held-out figures and its calibration (`veriscan train image`).

What the probe must not learn is the file rather than the picture, so before a picture is
embedded it is decoded to pixels (metadata, the generator's own included, is gone: that is
provenance's job) and re-encoded the same way whatever its class: resized so its shorter
side is a random length in [min_side, max_side] (never enlarged), with a random filter,
then saved as a JPEG of random quality. Each file gives `copies` such versions, all drawn
from a generator seeded by the file's sha256, so the same manifest gives the same probe.

Figures are held out by source: the folds never split a repository or package, so every
file is scored by a probe that saw nothing from where it came (`StratifiedGroupKFold`).
Calibration is Platt scaling of those out-of-fold log-odds. The final probe is fitted on
every file; its calibration and figures are the held-out ones.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from veriscan.analyzers import models
from veriscan.analyzers.clip import FEATURE_SIZE, FEATURES, ClipEncoder, Views, crops, pixels
from veriscan.training.manifest import Entry, load_bytes

FILTERS = (
    Image.Resampling.BILINEAR,
    Image.Resampling.BICUBIC,
    Image.Resampling.LANCZOS,
    Image.Resampling.BOX,
)
DECODE_SIDE = 2048  # JPEGs are decoded reduced (libjpeg's DCT scaling) down to about this


@dataclass(frozen=True)
class Recipe:
    views: Views = field(default_factory=Views)
    copies: int = 2
    min_side: int = 256
    max_side: int = 1024
    quality: tuple[int, int] = (65, 95)
    regularisation: float = 1.0  # scikit-learn's C: smaller is stronger
    folds: int = 5
    seed: int = 0

    def key(self) -> str:
        """What the embeddings depend on (not the regression's settings)."""
        raw = {k: v for k, v in asdict(self).items() if k not in ("regularisation", "folds")}
        return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:16]


def _rng(entry: Entry, copy: int, seed: int) -> np.random.Generator:
    digest = hashlib.sha256(f"{entry.sha256}:{copy}:{seed}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "big"))


def decode(data: io.BytesIO) -> Image.Image:
    """Pixels only, upright, RGB (as analysis sees them); large JPEGs decoded reduced."""
    with Image.open(data) as opened:
        if opened.format == "JPEG" and min(opened.size) > 2 * DECODE_SIDE:
            opened.draft("RGB", (opened.size[0] // 4, opened.size[1] // 4))
        return pixels(opened)


def augment(image: Image.Image, rng: np.random.Generator, recipe: Recipe) -> Image.Image:
    shorter = min(image.size)
    side = int(rng.integers(recipe.min_side, recipe.max_side + 1))
    side = min(side, shorter)
    chosen = FILTERS[int(rng.integers(len(FILTERS)))]
    if side < shorter:
        scale = side / shorter
        size = (max(1, round(image.size[0] * scale)), max(1, round(image.size[1] * scale)))
        image = image.resize(size, chosen)
    quality = int(rng.integers(recipe.quality[0], recipe.quality[1] + 1))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as saved:
        return saved.convert("RGB")


Floats = npt.NDArray[np.float32]


@dataclass
class Embedded:
    """Every view embedding of the set: row i belongs to `owner[i]` (an entry index) and
    `copy[i]`."""

    embeddings: Floats
    owner: npt.NDArray[np.int64]
    copy: npt.NDArray[np.int64]


Pictures = Callable[[Entry, Path, int, Recipe], list[Image.Image]]


def picture_views(entry: Entry, data: Path, copy: int, recipe: Recipe) -> list[Image.Image]:
    """The crops the image probe sees of one re-encoded version of a file."""
    image = decode(load_bytes(data, entry))
    if entry.region:
        image = crop_region(image, entry.region)
    version = augment(image, _rng(entry, copy, recipe.seed), recipe)
    return crops(version, recipe.views)


def crop_region(image: Image.Image, region: str) -> Image.Image:
    """The part of a composite picture a manifest row is about: "left,top,right,bottom" as
    shares of the width and height (e.g. "0.5,0,1,1", the right half)."""
    left, top, right, bottom = (float(part) for part in region.split(","))
    width, height = image.size
    return image.crop(
        (round(left * width), round(top * height), round(right * width), round(bottom * height))
    )


def measure(
    entries: Sequence[Entry],
    recipe: Recipe,
    vectors_of: Callable[[Entry, int], Floats],
    *,
    width: int,
    cache_file: Path | None = None,
    report: Callable[[str], None] = print,
    noun: str = "files",
) -> Embedded:
    """`vectors_of(entry, copy)` for every entry and copy, rows tagged with their entry
    and copy; kept in `cache_file` (an .npz keyed by sha256, region and copy) between runs."""
    stored: dict[str, Floats] = {}
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        if cache_file.is_file():
            with np.load(cache_file) as saved:
                stored = {name: saved[name] for name in saved.files}
    rows: list[Floats] = []
    owners: list[int] = []
    copies: list[int] = []
    fresh = 0
    for index, entry in enumerate(entries):
        for copy in range(recipe.copies):
            name = f"{entry.sha256}-{entry.region}-{copy}"
            vectors = stored.get(name)
            if vectors is None:
                vectors = stored[name] = vectors_of(entry, copy)
                fresh += 1
            rows.append(vectors)
            owners += [index] * len(vectors)
            copies += [copy] * len(vectors)
        if (index + 1) % 100 == 0:
            report(f"measured {index + 1}/{len(entries)} {noun}")
    if cache_file is not None and fresh:
        np.savez(cache_file, **stored)  # type: ignore[arg-type]
    return Embedded(
        np.concatenate(rows).astype(np.float32) if rows else np.zeros((0, width), np.float32),
        np.asarray(owners, np.int64),
        np.asarray(copies, np.int64),
    )


def embed(
    entries: Sequence[Entry],
    data: Path,
    recipe: Recipe,
    *,
    encoder: ClipEncoder | None = None,
    cache: Path | None = None,
    report: Callable[[str], None] = print,
    pictures: Pictures = picture_views,
    kind: str = "image",
) -> Embedded:
    """CLIP features of every view of every copy of every entry."""
    clip = encoder or ClipEncoder()
    encoder_id = models.CLIP_ENCODER.sha256[:12]
    return measure(
        entries,
        recipe,
        lambda entry, copy: clip.embed(pictures(entry, data, copy, recipe)),
        width=FEATURE_SIZE,
        cache_file=None
        if cache is None
        else cache / f"features-{kind}-{recipe.key()}-{encoder_id}-{FEATURES}.npz",
        report=report,
        noun="pictures",
    )


def auc(labels: Sequence[int] | npt.NDArray[Any], scores: Sequence[float] | Floats) -> float:
    """ROC AUC by ranks (ties counted half)."""
    from scipy.stats import rankdata

    y = np.asarray(labels, bool)
    ranks = rankdata(np.asarray(scores, np.float64))
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return math.nan
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _regression(recipe: Recipe) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(
        C=recipe.regularisation, class_weight="balanced", max_iter=5000, solver="lbfgs"
    )


def _file_logits(
    model: Any, set_: Embedded, rows: npt.NDArray[np.bool_]
) -> dict[tuple[int, int], float]:
    """Mean view log-odds per (entry, copy) among `rows`."""
    logits = model.decision_function(set_.embeddings[rows])
    sums: dict[tuple[int, int], list[float]] = defaultdict(list)
    for owner, copy, value in zip(set_.owner[rows], set_.copy[rows], logits, strict=True):
        sums[(int(owner), int(copy))].append(float(value))
    return {key: float(np.mean(values)) for key, values in sums.items()}


def cross_validate(
    entries: Sequence[Entry], set_: Embedded, recipe: Recipe
) -> dict[tuple[int, int], float]:
    """Out-of-fold log-odds for every (entry, copy), folds grouped by source."""
    from sklearn.model_selection import StratifiedGroupKFold

    labels = np.asarray([int(e.positive) for e in entries])
    groups = np.asarray([e.group for e in entries])
    splitter = StratifiedGroupKFold(n_splits=recipe.folds, shuffle=True, random_state=recipe.seed)
    held_out: dict[tuple[int, int], float] = {}
    for train, _test in splitter.split(np.zeros(len(entries)), labels, groups):
        chosen = np.zeros(len(entries), bool)
        chosen[train] = True
        rows = chosen[set_.owner]
        model = _regression(recipe).fit(set_.embeddings[rows], labels[set_.owner[rows]])
        held_out.update(_file_logits(model, set_, ~rows))
    return held_out


def platt(logits: Floats, labels: npt.NDArray[np.int64]) -> tuple[float, float]:
    from sklearn.linear_model import LogisticRegression

    fitted = LogisticRegression(C=1e6, max_iter=1000).fit(logits.reshape(-1, 1), labels)
    return float(fitted.coef_[0][0]), float(fitted.intercept_[0])


def reliability(
    probabilities: Floats, labels: npt.NDArray[np.int64], bins: int = 5
) -> list[dict[str, Any]]:
    """Confidence of the verdict (P of the side it leans to) against how often it is right."""
    leaning = probabilities >= 0.5
    confidence = np.where(leaning, probabilities, 1 - probabilities)
    right = leaning == labels.astype(bool)
    table = []
    edges = np.linspace(0.5, 1.0, bins + 1)
    for low, high in itertools.pairwise(edges):
        inside = (confidence >= low) & ((confidence < high) | (high == 1.0))
        if inside.any():
            table.append(
                {
                    "confidence": f"{low:.0%}-{high:.0%}",
                    "files": int(inside.sum()),
                    "mean_confidence": round(float(confidence[inside].mean()), 3),
                    "right": round(float(right[inside].mean()), 3),
                }
            )
    return table


def expected_calibration_error(probabilities: Floats, labels: npt.NDArray[np.int64]) -> float:
    table = reliability(probabilities, labels, bins=10)
    total = sum(row["files"] for row in table)
    return float(
        sum(row["files"] * abs(row["mean_confidence"] - row["right"]) for row in table) / total
    )


def fit(
    entries: Sequence[Entry],
    set_: Embedded,
    recipe: Recipe,
    *,
    name: str,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """A probe on `set_`: held-out figures and calibration from source-grouped folds, then
    the regression fitted on everything. Entries without rows (no face found, no speech)
    take no part."""
    labels = np.asarray([int(e.positive) for e in entries])
    held_out = cross_validate(entries, set_, recipe)
    keys = sorted(held_out)
    oof = np.asarray([held_out[k] for k in keys], np.float32)
    oof_labels = np.asarray([labels[k[0]] for k in keys])
    a, b = platt(oof, oof_labels)
    calibrated = (1 / (1 + np.exp(-(a * oof + b)))).astype(np.float32)
    first = np.asarray([k[1] == 0 for k in keys])
    used = sorted({k[0] for k in keys})
    positives = int(labels[used].sum())
    metrics: dict[str, Any] = {
        "held_out": "folds grouped by source (no repository or package in two folds)",
        "auc": round(auc(oof_labels, oof), 4),
        "auc_first_copy": round(auc(oof_labels[first], oof[first]), 4),
        "accuracy": round(float(((calibrated >= 0.5) == oof_labels.astype(bool)).mean()), 4),
        "expected_calibration_error": round(expected_calibration_error(calibrated, oof_labels), 4),
        "reliability": reliability(calibrated, oof_labels),
        "files": {"positive": positives, "negative": len(used) - positives},
        "by_generator": _by_generator(entries, keys, calibrated),
    }
    report(f"held-out AUC {metrics['auc']}, ECE {metrics['expected_calibration_error']}")
    final = _regression(recipe).fit(set_.embeddings, labels[set_.owner])
    return {
        "name": name,
        "positive": "generated",
        "weights": [round(float(w), 7) for w in final.coef_[0]],
        "bias": round(float(final.intercept_[0]), 7),
        "calibration": {"a": round(a, 6), "b": round(b, 6)},
        "metrics": metrics,
        "recipe": {k: v for k, v in asdict(recipe).items() if k != "views"},
        "_held_out": held_out,  # for callers that report parts; not written out
    }


def train(
    entries: Sequence[Entry],
    data: Path,
    recipe: Recipe,
    *,
    name: str,
    faces: Sequence[Entry] = (),
    faces_data: Path | None = None,
    cache: Path | None = None,
    report: Callable[[str], None] = print,
) -> dict[str, Any]:
    """The probe as JSON-ready data: weights, calibration and held-out figures. `faces`
    adds the face crops of further files (analyses judge a video's faces with the same
    probe as its frames); their held-out AUC is reported apart."""
    from veriscan.training.faces import face_views

    pictures = embed(entries, data, recipe, cache=cache, report=report)
    combined = list(entries) + list(faces)
    if faces:
        crops_ = embed(
            faces, faces_data or data, recipe, cache=cache, report=report,
            pictures=face_views, kind="faces",
        )  # fmt: skip
        pictures = Embedded(
            np.concatenate([pictures.embeddings, crops_.embeddings]),
            np.concatenate([pictures.owner, crops_.owner + len(entries)]),
            np.concatenate([pictures.copy, crops_.copy]),
        )
    probe = fit(combined, pictures, recipe, name=name, report=report)
    if faces:
        parts = probe["metrics"].setdefault("parts", {})
        held_out = probe.pop("_held_out")
        for part, faces_part in (("pictures", False), ("faces", True)):
            keys = [k for k in held_out if (k[0] >= len(entries)) == faces_part]
            labels = [int(combined[k[0]].positive) for k in keys]
            parts[part] = {"auc": round(auc(labels, [held_out[k] for k in keys]), 4),
                           "files": len({k[0] for k in keys})}  # fmt: skip
    probe.pop("_held_out", None)
    probe["encoder"] = {"model": models.CLIP_ENCODER.name, "sha256": models.CLIP_ENCODER.sha256}
    probe["features"] = FEATURES
    probe["views"] = recipe.views.as_dict()
    return probe


def _by_generator(
    entries: Sequence[Entry], keys: Sequence[tuple[int, int]], calibrated: Floats
) -> dict[str, dict[str, Any]]:
    """Per generator (or camera/collection): files and the share called on the right side."""
    groups: dict[str, list[bool]] = defaultdict(list)
    for (index, _copy), probability in zip(keys, calibrated, strict=True):
        entry = entries[index]
        key = f"{entry.label}: {entry.generator}" if entry.positive else f"real: {entry.source}"
        groups[key].append(bool((probability >= 0.5) == entry.positive))
    return {
        key: {"views": len(hits), "right": round(sum(hits) / len(hits), 3)}
        for key, hits in sorted(groups.items())
    }
