"""Learned detectors of generated and manipulated pictures: Veriscan's probe on CLIP
embeddings (analyzers.clip), for still images and for video.

- `ImageDetector` (`image_detector`): the picture's views (whole, and tiles at its own
  resolution) through the encoder and the probe; their log-odds are averaged and calibrated
  into P(generated or manipulated).
- `VideoDetector` (`video_detector`): `FRAMES` frames spread over the video (or animation),
  each scored like a still, and every face found in them cropped and scored on its own;
  the frames' and the faces' mean log-odds are calibrated, and the higher probability counts
  (a face swap changes only the face; a generated clip changes every pixel).

Both are calibrated findings (`Finding.calibrated`): fusion reads their scores as
probabilities. The probe, its calibration and its held-out figures come from
`veriscan train image` (`models/image_probe.json`, described in `models/image-probe.md`).
The encoder is loaded once per process; a missing or altered model file is reported by
every scan that needed it, never replaced by a made-up score.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import av
import numpy as np
from PIL import Image, UnidentifiedImageError

from veriscan.analyzers import models
from veriscan.analyzers.base import (
    Analyzer,
    AnalyzerFailed,
    Finding,
    MediaKind,
    MediaSample,
    Report,
)
from veriscan.analyzers.clip import (
    SIDE,
    ClipEncoder,
    ImageProbe,
    Views,
    crops,
    measured,
    pixels,
)
from veriscan.analyzers.pictures import open_bounded

if TYPE_CHECKING:
    from veriscan.analyzers.frames import Sampled

logger = logging.getLogger("veriscan.analyzers")

PROBE_FILE = models.PACKAGE_DIR / "image_probe.json"
FRAMES = 8  # frames a video is judged on: about 0.4 s each on two cores
FACES_PER_FRAME = 2
FACE_MARGIN = 0.3  # around a face box, as a share of its side: hair, jaw and blending edge
FACE_VIEWS = Views(global_view=True, tiles=0)
MIN_SIDE = 64  # below this a picture is an icon: too little of it to judge
MAX_ASPECT = 8  # a strip longer than this would be enlarged into gigabytes, not judged


class _Loaded:
    """The encoder and probe, loaded once per process and shared by every detector."""

    lock = threading.Lock()
    encoders: ClassVar[dict[Path, ClipEncoder]] = {}
    probes: ClassVar[dict[Path, ImageProbe]] = {}


def _encoder(model_dir: Path | None) -> ClipEncoder:
    path = models.locate(models.CLIP_ENCODER, model_dir)
    with _Loaded.lock:
        encoder = _Loaded.encoders.get(path)
        if encoder is None:
            encoder = _Loaded.encoders[path] = ClipEncoder(model_dir)
        return encoder


def _probe(path: Path) -> ImageProbe:
    with _Loaded.lock:
        probe = _Loaded.probes.get(path)
        if probe is None:
            probe = _Loaded.probes[path] = ImageProbe.load(path)
        return probe


class _ProbeAnalyzer(Analyzer):
    """What both detectors share: the model, loaded at construction or the reason not."""

    def __init__(self, model_dir: Path | None = None, probe_path: Path = PROBE_FILE) -> None:
        self.unavailable: str | None = None
        try:
            self.encoder = _encoder(model_dir)
            self.probe = _probe(probe_path)
        except Exception as exc:  # a missing file, a bad probe, a graph onnxruntime refuses
            self.unavailable = f"the learned detector is not available: {exc}"
            logger.warning("analyzers.detector_unavailable reason=%s", exc)

    def _ready(self) -> tuple[ClipEncoder, ImageProbe]:
        if self.unavailable is not None:
            raise AnalyzerFailed(self.unavailable)
        return self.encoder, self.probe

    def _logits(self, pictures: list[Image.Image], views: Views) -> list[float]:
        """One mean log-odds per picture."""
        encoder, probe = self._ready()
        cut = [crops(p, views) for p in pictures]
        embeddings = encoder.embed([c for group in cut for c in group])
        logits = probe.view_logits(embeddings)
        out, start = [], 0
        for group in cut:
            out.append(float(np.mean(logits[start : start + len(group)])))
            start += len(group)
        return out


def unjudgeable(picture: Image.Image) -> str | None:
    """Why the detector should not judge this picture, or None: a picture with fewer
    than MIN_SIDE pixels a side, or of one flat colour, shows nothing a probability
    could be read from (the detector would only be guessing)."""
    width, height = picture.size
    if min(width, height) < MIN_SIDE:
        return f"the picture ({width}x{height}) is too small to judge"
    if max(width, height) > MAX_ASPECT * min(width, height):
        return f"the picture ({width}x{height}) is a strip too narrow to judge"
    extrema = picture.getextrema()
    bands = extrema if isinstance(extrema[0], tuple) else (extrema,)
    if all(band[0] == band[1] for band in bands):
        return "the picture is one flat colour: there is nothing to judge"
    return None


class ImageDetector(_ProbeAnalyzer):
    name: ClassVar[str] = "image_detector"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE})

    def analyze(self, sample: MediaSample) -> Report:
        _, probe = self._ready()
        picture = _decode(sample.path, max(SIDE, probe.views.tile_side))
        reason = unjudgeable(picture)
        if reason is not None:
            summary = f"The learned image detector did not judge the file: {reason}"
            return Report(self.name, findings=[Finding("image_detector", None, 0.0, summary)])
        [logit] = self._logits([picture], probe.views)
        probability = probe.calibration.probability(logit)
        summary = (
            "the learned image detector (CLIP ViT-B/16 with Veriscan's probe; "
            f"{measured(probe.metrics, 'pictures')}) rates the picture {probability:.0%} "
            "likely to be generated or manipulated"
        )
        details = {
            "model": probe.name,
            "logit": round(logit, 4),
            "probability": round(probability, 4),
            "views": probe.views.as_dict(),
            "measured": {k: probe.metrics.get(k) for k in ("auc", "accuracy", "files")},
        }
        finding = Finding(
            "image_detector", round(probability, 4), 1.0, summary, details, calibrated=True
        )
        return Report(self.name, findings=[finding])


def _decode(path: Path, shorter: int) -> Image.Image:
    """The picture, upright RGB; a large JPEG decoded reduced (libjpeg's DCT scaling) as
    far as keeps its shorter side at least `shorter`."""
    try:
        with open_bounded(path, "analyse") as sized:  # headers only: nothing is decoded
            smallest = min(sized.size)
        reduction = 1
        while reduction < 8 and smallest // (reduction * 2) >= shorter:
            reduction *= 2
        with open_bounded(path, "analyse", least_reduction=reduction) as opened:
            opened.image.load()
            return pixels(opened.image)
    except (OSError, UnidentifiedImageError, ValueError, EOFError, SyntaxError) as exc:
        raise AnalyzerFailed(f"cannot decode image: {exc}") from exc
    except Image.DecompressionBombError as exc:
        raise AnalyzerFailed(f"image is too large to analyse safely: {exc}") from exc


def face_crops(frame: Image.Image) -> list[Image.Image]:
    """Each face found in the frame (up to FACES_PER_FRAME, largest first), with a margin."""
    from veriscan.analyzers.image import detect_faces, to_gray

    rgb = np.asarray(frame)
    boxes = detect_faces(to_gray(rgb))[:FACES_PER_FRAME]
    width, height = frame.size
    out = []
    for x, y, w, h in boxes:
        side = max(w, h) * (1 + 2 * FACE_MARGIN)
        cx, cy = x + w / 2, y + h / 2
        left, top = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
        right, bottom = min(width, round(cx + side / 2)), min(height, round(cy + side / 2))
        if min(right - left, bottom - top) >= 32:
            out.append(frame.crop((left, top, right, bottom)))
    return out


class VideoDetector(_ProbeAnalyzer):
    name: ClassVar[str] = "video_detector"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.VIDEO})
    frame_samples: ClassVar[int] = FRAMES

    def analyze(self, sample: MediaSample) -> Report:
        _, probe = self._ready()
        times: list[float] = []
        frame_logits: list[float] = []
        faces: list[Image.Image] = []
        face_times: list[float] = []
        first_reason: str | None = None
        decoded = 0
        for sampled in self._frames(sample):
            decoded += 1
            frame = Image.fromarray(sampled.frame)
            reason = unjudgeable(frame)
            if reason is not None:
                first_reason = first_reason or reason
                continue
            # Each frame's views in a call of their own, as each training picture's were:
            # the encoder quantizes a call's crops together, so neighbours would change them.
            [logit] = self._logits([frame], probe.views)
            times.append(round(sampled.time, 3))
            frame_logits.append(logit)
            found = face_crops(frame)
            faces += found
            face_times += [times[-1]] * len(found)
        if not decoded:
            summary = "No video frames could be decoded for the learned detector"
            return Report(self.name, findings=[Finding("video_detector", None, 0.0, summary)])
        if not frame_logits:
            summary = f"The learned detector did not judge the video's frames: {first_reason}"
            return Report(self.name, findings=[Finding("video_detector", None, 0.0, summary)])
        # A video's faces together, in calls of up to eight, as training/faces.py embeds them.
        face_logits = self._logits(faces, FACE_VIEWS) if faces else []
        p_frames = probe.calibration.probability(float(np.mean(frame_logits)))
        p_faces = probe.calibration.probability(float(np.mean(face_logits))) if faces else None
        probability = max(p_frames, p_faces or 0.0)
        what = f"{len(frame_logits)} frames"
        if faces:
            what += f" and {len(faces)} face crops"
        summary = (
            "the learned image detector (CLIP ViT-B/16 with Veriscan's probe; "
            f"{measured(probe.metrics, 'pictures')}, measured on still pictures, not on video) "
            f"rates the video's {what} "
            f"{probability:.0%} likely to be generated or manipulated"
        )
        if p_faces is not None:
            summary += f" (frames {p_frames:.0%}, faces {p_faces:.0%})"
        details: dict[str, Any] = {
            "model": probe.name,
            "frames": [
                {"time": t, "logit": round(v, 4)} for t, v in zip(times, frame_logits, strict=True)
            ],
            "faces": [
                {"time": t, "logit": round(v, 4)}
                for t, v in zip(face_times, face_logits, strict=True)
            ],
            "frames_probability": round(p_frames, 4),
            "faces_probability": None if p_faces is None else round(p_faces, 4),
        }
        finding = Finding(
            "video_detector", round(probability, 4), 1.0, summary, details, calibrated=True
        )
        return Report(self.name, findings=[finding])

    def _frames(self, sample: MediaSample) -> Iterator[Sampled]:
        """The sampled frames; damage after the first frame ends them quietly."""
        from veriscan.analyzers.frames import frames_of

        count = 0
        try:
            for sampled in frames_of(sample, self.name, FRAMES):
                count += 1
                yield sampled
        except av.FFmpegError as exc:
            if not count:
                raise AnalyzerFailed(f"cannot decode video: {exc}") from exc
        except (OSError, ValueError, EOFError) as exc:
            raise AnalyzerFailed(f"cannot decode video: {exc}") from exc
