"""CLIP ViT-B/16 features of a picture, and the views of it the probes look at.

The encoder (`models.CLIP_ENCODER`, OpenAI's image tower as an INT8 ONNX graph) reads a
224x224 RGB crop, normalised with CLIP's mean and deviation, through 12 transformer
blocks. What a probe sees of a crop (`FEATURES`) is taken from the later half of them,
not only from the final embedding: for each of blocks 6-11, the class token and the mean
of the 196 patch tokens, each brought to mean 0 and unit spread (LayerNorm without its
learned scale) and divided by sqrt(768), then laid side by side (12 x 768 = 9,216
numbers). The final embedding is made to name what a picture shows; the traces a
generator leaves are better kept in the middle blocks, so probes on them separate
generated from camera pictures better (Koutlis and Papadopoulos 2024, "Leveraging
representations from intermediate encoder-blocks for synthetic image detection"; here,
held-out AUC 0.877 against 0.849 for the final embedding on the training set's folds, see
models/image-probe.md).

Which crops a picture gives is the probe's `views` recipe, recorded with it by `veriscan
train`, so that training and analysis always cut the same crops:

- `global`: the whole picture, its shorter side resized to 224, centre-cropped: what the
  picture shows.
- `tiles`: up to `tiles` crops of 224 pixels at the picture's own resolution (once its
  shorter side is brought down to `tile_side`, if larger), spread over it: the fine
  texture generators leave behind, which resizing the whole picture would blur away.

A probe scores each view and averages their log-odds (`ImageProbe.logit`).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime
from PIL import Image, ImageOps

from veriscan.analyzers import models

logger = logging.getLogger("veriscan.analyzers")

SIDE = 224
MEAN = np.asarray([0.48145466, 0.4578275, 0.40821073], np.float32).reshape(3, 1, 1)
STD = np.asarray([0.26862954, 0.26130258, 0.27577711], np.float32).reshape(3, 1, 1)
BATCH = 8  # crops per encoder call: bounds memory, keeps onnxruntime's batching gain
WIDTH = 768  # a token's size inside the encoder
BLOCKS = tuple(range(6, models.CLIP_BLOCKS))  # the blocks whose tokens are features
FEATURES = "clip-b16-blocks6-11-cls-meanpatch"  # recorded in probe files, checked on load
FEATURE_SIZE = 2 * len(BLOCKS) * WIDTH

Floats = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Views:
    """Which crops of a picture are embedded (see the module's docstring)."""

    global_view: bool = True
    tiles: int = 4
    tile_side: int = 512  # the picture's shorter side, at most, before tiles are cut

    def as_dict(self) -> dict[str, Any]:
        return {"global": self.global_view, "tiles": self.tiles, "tile_side": self.tile_side}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Views:
        return cls(bool(raw["global"]), int(raw["tiles"]), int(raw["tile_side"]))


def pixels(image: Image.Image) -> Image.Image:
    """What the probes see of a picture: upright, RGB, transparency laid on white; nothing
    of its metadata (training and analysis both go through here)."""
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("I", "F") or upright.mode.startswith("I;16"):
        upright = _eight_bits(upright)
    if upright.mode in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        rgba = upright.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    # exif_transpose always returns a new picture: convert would copy an RGB one again.
    return upright if upright.mode == "RGB" else upright.convert("RGB")


def _eight_bits(image: Image.Image) -> Image.Image:
    """A 16-bit, 32-bit or float greyscale picture scaled into 0-255 (Pillow's own convert
    clips it at 255: a 16-bit scan would come out white)."""
    values = np.asarray(image, np.float64)
    if image.mode.startswith("I;16"):
        top = 65535.0
    else:
        peak = float(np.nanmax(values)) if values.size else 0.0
        top = 255.0 if peak <= 255 else (65535.0 if peak <= 65535 else peak)
        if image.mode == "F":
            top = 1.0 if peak <= 1.0 else top
    scaled = np.clip(np.nan_to_num(values) / top * 255.0, 0, 255).astype(np.uint8)
    return Image.fromarray(scaled, "L")


def _tensor(rgb: Image.Image) -> Floats:
    pixels = np.asarray(rgb, np.float32).transpose(2, 0, 1) / 255.0
    normalised: Floats = (pixels - MEAN) / STD
    return normalised


def _resized(image: Image.Image, shorter: int) -> Image.Image:
    width, height = image.size
    scale = shorter / min(width, height)
    size = (max(shorter, round(width * scale)), max(shorter, round(height * scale)))
    return image.resize(size, Image.Resampling.BICUBIC)


def _centre(image: Image.Image) -> Image.Image:
    width, height = image.size
    left, top = (width - SIDE) // 2, (height - SIDE) // 2
    return image.crop((left, top, left + SIDE, top + SIDE))


def _tile_origins(width: int, height: int, count: int) -> list[tuple[int, int]]:
    """`count` crop corners spread over the picture: its centre first, then the centres
    of its quadrants (for 5 or fewer), or a grid."""
    if count <= 0:
        return []
    span_x, span_y = max(0, width - SIDE), max(0, height - SIDE)
    spots = [(0.5, 0.5), (0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)]
    if count > len(spots):
        side = math.ceil(math.sqrt(count))
        spots = [((i + 0.5) / side, (j + 0.5) / side) for j in range(side) for i in range(side)]
    origins = []
    for fx, fy in spots[:count]:
        origin = (round(span_x * fx), round(span_y * fy))
        if origin not in origins:
            origins.append(origin)
    return origins


def crops(image: Image.Image, views: Views) -> list[Image.Image]:
    """The picture's crops (RGB, 224x224) under `views`."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    out: list[Image.Image] = []
    if views.global_view:
        out.append(_centre(_resized(rgb, SIDE)))
    if views.tiles:
        base = rgb if min(rgb.size) <= views.tile_side else _resized(rgb, views.tile_side)
        if min(base.size) < SIDE:
            base = _resized(base, SIDE)
        width, height = base.size
        out += [
            base.crop((x, y, x + SIDE, y + SIDE))
            for x, y in _tile_origins(width, height, views.tiles)
        ]
    return out


REFERENCE_FILE = models.PACKAGE_DIR / "clip_reference.json"
REFERENCE_STRIDE = 8  # every 8th feature of `reference_picture` is kept: 1,152 numbers
# The least correlation with the reference an encoder must reach to be used. Measured: the
# exact kernels reach 1.000 on the CPU the reference was written on (AVX-512 with VNNI) and
# 0.991 on an emulated Haswell CPU (AVX2, float kernels rounding differently); the
# saturating ones of models.saturates' docstring reach 0.21.
AGREEMENT = 0.97


class EncoderDisagrees(Exception):
    """The encoder, as this machine runs it, does not give the features the probes were
    fitted on: their scores would mean nothing."""


def reference_picture() -> Image.Image:
    """A 224x224 picture made by arithmetic alone (no file, no random numbers), the same
    on every machine: smooth colour waves with a fine interference pattern over them."""
    y, x = np.mgrid[0:SIDE, 0:SIDE].astype(np.float64) / SIDE
    red = 0.5 + 0.5 * np.sin(2 * np.pi * (3 * x + 0.5 * y))
    green = 0.5 + 0.5 * np.sin(2 * np.pi * (5 * x * y + 1.5 * y))
    blue = 0.5 + 0.5 * np.cos(2 * np.pi * (7 * (x - 0.5) ** 2 + 9 * (y - 0.3) ** 2))
    fine = 0.5 + 0.5 * np.sin(97 * x + 61 * y) * np.sin(83 * y - 29 * x)
    mixed = np.stack([red, green, blue], axis=-1) * 0.8 + fine[..., None] * 0.2
    return Image.fromarray(np.round(mixed * 255).astype(np.uint8), "RGB")


class ClipEncoder:
    """The process's CLIP image encoder (one onnxruntime session, shared).

    Before it is used, it encodes `reference_picture` and compares the result with the
    features recorded in `reference` (`veriscan models check --write` made them). If
    onnxruntime's fast integer kernels compute something else on this CPU (see
    `models.saturates`, which decides which kernels are tried first), the encoder is
    loaded again with the exact ones; if those disagree too, it is refused with
    `EncoderDisagrees` rather than trusted with every picture's verdict. `exact` forces
    one kind of kernel; `reference=None` skips the check (to write a new reference, or to
    measure the fast kernels)."""

    def __init__(
        self,
        model_dir: Path | None = None,
        reference: Path | None = REFERENCE_FILE,
        *,
        exact: bool | None = None,
    ) -> None:
        self.model_dir = model_dir
        self._load(models.saturates() if exact is None else exact)
        self.agreement: float | None = None
        if reference is None:
            return
        self.agreement = self.agreement_with(reference)
        if self.agreement < AGREEMENT and not self.exact and exact is None:
            logger.warning(
                "analyzers.clip_fast_kernels_disagree correlation=%.3f: loading exact ones",
                self.agreement,
            )
            models.forget(models.CLIP_ENCODER, model_dir, exact=False)
            self._load(True)
            self.agreement = self.agreement_with(reference)
        if self.agreement < AGREEMENT:
            raise EncoderDisagrees(
                f"the CLIP encoder's features on this machine do not match its reference "
                f"(correlation {self.agreement:.3f}, at least {AGREEMENT} needed): "
                f"onnxruntime {onnxruntime.__version__} computes something else on this "
                "CPU, and the image probe's scores would be wrong"
            )

    def _load(self, exact: bool) -> None:
        self.exact = exact
        self.session = models.session(models.CLIP_ENCODER, self.model_dir, exact=exact)
        self.input = self.session.get_inputs()[0].name
        # Block b's tokens: blocks 0-10 are exposed values, block 11's the second output.
        last = self.session.get_outputs()[1].name
        states = [*models.CLIP_ENCODER.exposed, last]
        self.outputs = [states[block] for block in BLOCKS]

    @property
    def kernels(self) -> str:
        """Which integer kernels this encoder runs on: "exact" or "fast"."""
        return "exact" if self.exact else "fast"

    def reference_values(self) -> Floats:
        """The features of `reference_picture` that a reference file records."""
        values: Floats = self.embed([reference_picture()])[0][::REFERENCE_STRIDE]
        return values

    def agreement_with(self, reference: Path) -> float:
        """The correlation of this encoder's reference features with those recorded."""
        raw = json.loads(reference.read_text(encoding="utf-8"))
        if raw.get("features") != FEATURES or raw.get("stride") != REFERENCE_STRIDE:
            raise EncoderDisagrees(f"{reference.name} records other features than {FEATURES}")
        expected = np.asarray(raw["values"], np.float64)
        found = self.reference_values().astype(np.float64)
        if expected.shape != found.shape:
            raise EncoderDisagrees(f"{reference.name} records {expected.size} values")
        return float(np.corrcoef(expected, found)[0, 1])

    def write_reference(self, reference: Path) -> None:
        values = [round(float(v), 5) for v in self.reference_values()]
        record = {"features": FEATURES, "stride": REFERENCE_STRIDE, "values": values}
        reference.write_text(json.dumps(record) + "\n", encoding="utf-8")

    def embed(self, pictures: Sequence[Image.Image]) -> Floats:
        """`FEATURE_SIZE` numbers per 224x224 RGB picture (see the module's docstring)."""
        rows: list[Floats] = []
        for start in range(0, len(pictures), BATCH):
            batch = np.stack([_tensor(p) for p in pictures[start : start + BATCH]])
            states = self.session.run(self.outputs, {self.input: batch})
            tokens = [state[:, 0, :] for state in states]
            tokens += [state[:, 1:, :].mean(axis=1) for state in states]
            rows.append(np.concatenate([_standardised(t) for t in tokens], axis=1))
        if not rows:
            return np.zeros((0, FEATURE_SIZE), np.float32)
        features: Floats = np.concatenate(rows).astype(np.float32)
        return features


def _standardised(tokens: npt.NDArray[Any]) -> Floats:
    """Each row at mean 0 and spread 1/sqrt(WIDTH) (so a row of WIDTH has unit length)."""
    values = np.asarray(tokens, np.float32)
    centred = values - values.mean(axis=1, keepdims=True)
    spread = np.maximum(centred.std(axis=1, keepdims=True), 1e-6)
    out: Floats = centred / spread / np.float32(math.sqrt(WIDTH))
    return out


@dataclass(frozen=True)
class Calibration:
    """Platt scaling fitted on held-out folds: P(positive) = sigmoid(a * logit + b)."""

    a: float
    b: float

    def probability(self, logit: float) -> float:
        if not math.isfinite(logit):
            raise ValueError(f"the probe's log-odds are not a number ({logit})")
        z = max(-50.0, min(50.0, self.a * logit + self.b))
        return 1.0 / (1.0 + math.exp(-z))


@dataclass(frozen=True)
class LinearProbe:
    """What every probe file `veriscan train` writes holds: weights over a model's
    features, a bias, a Platt calibration and the held-out figures."""

    name: str
    weights: Floats
    bias: float
    calibration: Calibration
    metrics: dict[str, Any]
    raw: dict[str, Any]  # the whole file, for what a kind of probe adds

    @classmethod
    def read(cls, path: Path, size: int, what: str = "a probe") -> LinearProbe:
        raw = json.loads(path.read_text(encoding="utf-8"))
        weights = np.asarray(raw["weights"], np.float32)
        if weights.shape != (size,) or not np.all(np.isfinite(weights)):
            raise ValueError(f"{path.name}: {what} needs {size} finite weights")
        numbers = (raw["bias"], raw["calibration"]["a"], raw["calibration"]["b"])
        if not all(math.isfinite(float(n)) for n in numbers):
            raise ValueError(f"{path.name}: the probe's bias and calibration must be numbers")
        calibration = Calibration(float(raw["calibration"]["a"]), float(raw["calibration"]["b"]))
        metrics = dict(raw.get("metrics") or {})
        return cls(str(raw["name"]), weights, float(raw["bias"]), calibration, metrics, raw)


def measured(metrics: dict[str, Any], noun: str) -> str:
    """The held-out figure a detector's explanation quotes, and the figure measured on
    sources outside its training set when one was (`metrics["elsewhere"]`)."""
    if "auc" not in metrics:
        return f"not measured on held-out {noun}"
    count = _count(metrics)
    text = f"held-out AUC {metrics['auc']:.2f} on {count} {noun} from sources it was not trained on"
    other = metrics.get("elsewhere")
    if isinstance(other, dict) and "auc" in other:
        text += (
            f", and {other['auc']:.2f} on {_count(other)} {noun} from {other.get('sources', '?')} "
            "sources outside its training set (0.50 is chance)"
        )
    return text


def _count(metrics: dict[str, Any]) -> int:
    files = metrics.get("files") or {}
    return int(files.get("positive", 0)) + int(files.get("negative", 0))


@dataclass(frozen=True)
class ImageProbe:
    """A linear probe on CLIP features (`FEATURES`), as `veriscan train` writes it (JSON)."""

    name: str
    views: Views
    weights: Floats
    bias: float
    calibration: Calibration
    metrics: dict[str, Any] = field(default_factory=dict)  # held-out figures from training
    positive: str = "generated"

    @classmethod
    def load(cls, path: Path) -> ImageProbe:
        probe = LinearProbe.read(path, FEATURE_SIZE)
        features = probe.raw.get("features")
        if features != FEATURES:
            raise ValueError(
                f"{path.name}: the probe was fitted on {features or 'other'} features, "
                f"not {FEATURES}: refit it with `veriscan train image`"
            )
        return cls(
            name=probe.name,
            views=Views.from_dict(probe.raw["views"]),
            weights=probe.weights,
            bias=probe.bias,
            calibration=probe.calibration,
            metrics=probe.metrics,
            positive=str(probe.raw.get("positive", "generated")),
        )

    def view_logits(self, embeddings: Floats) -> Floats:
        logits: Floats = embeddings @ self.weights + np.float32(self.bias)
        return logits

    def logit(self, embeddings: Floats) -> float:
        """The probe's raw log-odds for one picture: the mean over its views."""
        return float(np.mean(self.view_logits(embeddings)))

    def probability(self, embeddings: Floats) -> float:
        return self.calibration.probability(self.logit(embeddings))
