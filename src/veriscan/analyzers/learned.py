"""Optional learned detectors: ONNX models an operator points the settings at.

None ship with Veriscan (weights are large, licensed separately, and nothing may be
fetched at run time), so this is a loader and an adapter: it checks, when the model is
loaded, that the file is a detector this code can feed (one float input shaped as an
image batch or an audio batch, one probability out) and fails then with a message that
names the problem, rather than on the first upload. Each model becomes an analyzer that
reports one finding, `learned:<name>`, whose score is the model's own probability.

Image models see the picture (or up to `frames` frames of a video, averaged); audio
models see 16 kHz mono windows of `input_size` samples (averaged over the first minute).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import av
import numpy as np
import numpy.typing as npt
import onnxruntime
from PIL import Image, ImageOps, UnidentifiedImageError

from veriscan.analyzers import models
from veriscan.analyzers.audio import RATE, decode_audio, to_rate
from veriscan.analyzers.base import (
    Analyzer,
    AnalyzerFailed,
    Finding,
    MediaKind,
    MediaSample,
    Report,
)
from veriscan.analyzers.pictures import open_bounded

logger = logging.getLogger("veriscan.analyzers")

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_IMAGE_KINDS = frozenset({MediaKind.IMAGE, MediaKind.VIDEO})
_AUDIO_KINDS = frozenset({MediaKind.AUDIO, MediaKind.VIDEO})


class ModelError(Exception):
    """The model file cannot serve as a detector (missing, not ONNX, wrong signature)."""


@dataclass(frozen=True)
class DetectorSpec:
    """One configured model, as the settings describe it."""

    name: str
    path: Path
    kinds: frozenset[MediaKind]
    # Image models: the side (or (height, width)) pictures are resized to.
    # Audio models: the number of 16 kHz samples per window.
    input_size: int | tuple[int, int]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    # "probability": the output already is P(synthetic); "logit": a sigmoid is applied.
    output: Literal["probability", "logit"] = "probability"
    weight: float = 0.5
    frames: int = 8


def load_detectors(specs: Iterable[DetectorSpec]) -> list[OnnxDetector]:
    """Load every configured model; the first bad one stops start-up with its reason."""
    return [
        OnnxDetector(
            spec.path,
            spec.kinds,
            spec.input_size,
            spec.name,
            mean=spec.mean,
            std=spec.std,
            output=spec.output,
            weight=spec.weight,
            frames=spec.frames,
        )
        for spec in specs
    ]


def _dims(shape: Sequence[Any]) -> list[int | None]:
    """Fixed dimensions as ints; symbolic or unknown ones as None."""
    return [dim if isinstance(dim, int) and dim > 0 else None for dim in shape]


class OnnxDetector(Analyzer):
    # One class serves every model, so the per-model name and kinds live on the instance
    # (`label`, `model_kinds`); `accepts` and `run` use them.
    name: ClassVar[str] = "learned"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset(MediaKind)

    def __init__(
        self,
        path: Path | str,
        kinds: Iterable[MediaKind],
        input_size: int | tuple[int, int],
        name: str,
        *,
        mean: Sequence[float] = IMAGENET_MEAN,
        std: Sequence[float] = IMAGENET_STD,
        output: Literal["probability", "logit"] = "probability",
        weight: float = 0.5,
        frames: int = 8,
    ) -> None:
        self.path = Path(path)
        self.label = f"learned:{name}"
        self.model_kinds = frozenset(kinds)
        self.logits = output == "logit"
        self.weight = weight
        self.frames = max(1, frames)
        self.mean = np.asarray(mean, np.float32).reshape(3, 1, 1)
        self.std = np.asarray(std, np.float32).reshape(3, 1, 1)
        if output not in ("probability", "logit"):
            raise ModelError(f"{self.label}: output must be 'probability' or 'logit'")
        if not self.model_kinds:
            raise ModelError(f"{self.label}: no media kinds configured")
        try:
            content = self.path.read_bytes()
        except OSError as exc:
            raise ModelError(f"{self.label}: cannot read {self.path} ({exc.strerror})") from exc
        self.version = hashlib.sha256(content).hexdigest()[:16]
        try:
            self.session = onnxruntime.InferenceSession(
                content,
                models.session_options(exact=models.saturates()),
                providers=["CPUExecutionProvider"],
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors here
            raise ModelError(
                f"{self.label}: {self.path} is not a usable ONNX model: {exc}"
            ) from exc
        self.modality, self.layout, self.size = self._check_signature(input_size)
        self._dry_run()

    def _check_signature(
        self, input_size: int | tuple[int, int]
    ) -> tuple[Literal["image", "audio"], Literal["nchw", "nhwc", "ns"], tuple[int, int]]:
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        where = f"{self.label} ({self.path.name})"
        if len(inputs) != 1:
            raise ModelError(f"{where}: a detector takes one input, this model takes {len(inputs)}")
        [tensor] = inputs
        if tensor.type != "tensor(float)":
            raise ModelError(f"{where}: the input must be float32, not {tensor.type}")
        dims = _dims(tensor.shape)
        if dims[0] not in (None, 1):
            raise ModelError(f"{where}: the batch dimension must be 1 or free, not {dims[0]}")
        if not outputs or outputs[0].type != "tensor(float)":
            raise ModelError(f"{where}: the first output must be a float32 probability")
        out = _dims(outputs[0].shape)
        if len(out) > 2 or (len(out) == 2 and out[1] not in (None, 1)):
            raise ModelError(
                f"{where}: a detector gives one probability per input, this model's output "
                f"has shape {list(outputs[0].shape)}"
            )
        if len(dims) == 4:
            layout: Literal["nchw", "nhwc"] = "nchw" if dims[1] == 3 else "nhwc"
            if (dims[1] if layout == "nchw" else dims[3]) != 3:
                raise ModelError(f"{where}: an image input must have 3 colour channels")
            if not self.model_kinds <= _IMAGE_KINDS:
                raise ModelError(f"{where}: an image model can only judge images and video")
            height, width = (
                (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
            )
            fixed = dims[2:4] if layout == "nchw" else dims[1:3]
            for want, have in zip((height, width), fixed, strict=True):
                if have is not None and have != want:
                    raise ModelError(
                        f"{where}: the model expects {fixed[0]}x{fixed[1]} pictures, "
                        f"the settings say {height}x{width}"
                    )
            return "image", layout, (height, width)
        if len(dims) == 2:
            if not isinstance(input_size, int):
                raise ModelError(f"{where}: an audio model's input size is a sample count")
            if dims[1] is not None and dims[1] != input_size:
                raise ModelError(
                    f"{where}: the model expects {dims[1]} samples, the settings say {input_size}"
                )
            if not self.model_kinds <= _AUDIO_KINDS:
                raise ModelError(f"{where}: an audio model can only judge audio and video")
            return "audio", "ns", (1, input_size)
        raise ModelError(
            f"{where}: the input shape {list(tensor.shape)} is neither an image batch "
            "[N, 3, H, W] / [N, H, W, 3] nor an audio batch [N, samples]"
        )

    def _dry_run(self) -> None:
        """One inference on a blank input, so a graph that cannot run fails at load."""
        if self.modality == "image":
            blank = np.zeros((1, 3, *self.size), np.float32)
            if self.layout == "nhwc":
                blank = blank.transpose(0, 2, 3, 1)
        else:
            blank = np.zeros((1, self.size[1]), np.float32)
        try:
            self._infer(blank)
        except Exception as exc:  # any failure here means the model is unusable
            raise ModelError(f"{self.label}: the model fails on a blank input: {exc}") from exc

    def accepts(self, sample: MediaSample) -> bool:
        return sample.kind in self.model_kinds

    async def run(self, sample: MediaSample) -> Report:
        report = await super().run(sample)
        report.analyzer = self.label  # the base names reports after the class
        return report

    def _infer(self, batch: npt.NDArray[np.float32]) -> float:
        [raw, *_] = self.session.run(None, {self.session.get_inputs()[0].name: batch})
        values = np.asarray(raw, np.float64).reshape(-1)
        if values.size != 1 or not math.isfinite(float(values[0])):
            raise AnalyzerFailed(f"{self.label} returned {values.size} values, not one")
        value = float(values[0])
        if self.logits:
            return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, value))))
        if not 0.0 <= value <= 1.0:
            raise AnalyzerFailed(
                f"{self.label} returned {value:.3g}, not a probability (is its output a logit?)"
            )
        return value

    def _picture(self, image: Image.Image) -> npt.NDArray[np.float32]:
        height, width = self.size
        rgb = (
            ImageOps.exif_transpose(image)
            .convert("RGB")
            .resize((width, height), Image.Resampling.BILINEAR)
        )
        pixels = np.asarray(rgb, np.float32).transpose(2, 0, 1) / 255.0
        normalised = ((pixels - self.mean) / self.std)[None]
        return normalised.transpose(0, 2, 3, 1) if self.layout == "nhwc" else normalised

    def _video_frames(self, path: Path) -> list[Image.Image]:
        """Up to `frames` frames spread over the first minute, decoded one by one."""
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise AnalyzerFailed("the file has no video stream")
            stream = container.streams.video[0]
            seconds = 0.0
            if stream.duration and stream.time_base:
                seconds = float(stream.duration * stream.time_base)
            span = min(seconds or 60.0, 60.0)
            targets = [span * (i + 0.5) / self.frames for i in range(self.frames)]
            picked: list[Image.Image] = []
            for frame in container.decode(stream):
                moment = float(frame.time or 0.0)
                if moment >= targets[len(picked)] or moment > 60.0:
                    picked.append(Image.fromarray(frame.to_ndarray(format="rgb24")))
                    if len(picked) == len(targets) or moment > 60.0:
                        break
        return picked

    def _audio_windows(self, path: Path) -> list[npt.NDArray[np.float32]]:
        decoded = decode_audio(path, max_seconds=60.0)
        speech = to_rate(decoded.samples, decoded.rate, RATE).astype(np.float32)
        length = self.size[1]
        if speech.size < length:
            speech = np.pad(speech, (0, length - speech.size))
        count = speech.size // length
        return [speech[i * length : (i + 1) * length][None] for i in range(count)]

    def analyze(self, sample: MediaSample) -> Report:
        try:
            if self.modality == "audio":
                batches = self._audio_windows(sample.path)
                unit = "window"
            elif sample.kind is MediaKind.VIDEO:
                batches = [self._picture(image) for image in self._video_frames(sample.path)]
                unit = "frame"
            else:
                with open_bounded(sample.path, "analyse") as opened:
                    batches = [self._picture(opened.image)]
                unit = "image"
        except (OSError, UnidentifiedImageError, av.FFmpegError) as exc:
            raise AnalyzerFailed(f"{self.label} cannot read the file ({exc})") from exc
        if not batches:
            raise AnalyzerFailed(f"{self.label} found nothing to look at in the file")
        scores = [self._infer(batch) for batch in batches]
        score = float(np.mean(scores))
        details: dict[str, Any] = {
            "model": self.path.name,
            "model_sha256": self.version,
            f"{unit}_scores": [round(value, 4) for value in scores],
        }
        what = {"image": "the picture", "frame": "the video's frames", "window": "the audio"}[unit]
        summary = (
            f"The learned detector {self.label.split(':', 1)[1]!r} rates {what} "
            f"{score:.0%} likely to be synthetic or manipulated."
        )
        return Report(
            self.label,
            findings=[Finding(self.label, round(score, 4), self.weight, summary, details)],
        )
