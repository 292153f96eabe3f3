"""Animated pictures (GIF, WebP, APNG) are video: frames over time, not a single still.

A generator's animation (AnimateDiff and the like) often arrives as a GIF or WebP, and its
first frame alone says little. Such files are scanned as VIDEO; their frames are read with
Pillow, which decodes all three formats (FFmpeg here cannot decode animated WebP), one at a
time, each within Pillow's pixel bound.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from veriscan.analyzers.base import AnalyzerFailed

ANIMATED_FORMATS = frozenset({"GIF", "WEBP", "PNG"})
# Frames x pixels an animation may have: reaching frame n of a GIF or APNG composes every
# frame before it on the whole canvas, so a small file of many large frames would cost
# hours. 1 gigapixel-frame is 1,000 frames of 1 megapixel, a few seconds to walk.
FRAME_PIXEL_BUDGET = 1_000_000_000
PILLOW_ERRORS = (OSError, EOFError, SyntaxError, ValueError, struct.error)
DEFAULT_FRAME_MS = 100  # browsers show a frame without a duration for about this long
MIN_FRAME_MS = 20  # ... and clamp shorter ones (a 0 ms GIF frame plays at ~10-20 ms)
MAX_FRAMES = 20_000  # bounds the walk over a hostile file's frame table

RGB = npt.NDArray[np.uint8]


def is_animated(path: Path) -> bool:
    """Whether the file is a GIF, WebP or PNG with more than one frame."""
    try:
        with Image.open(path) as image:
            return image.format in ANIMATED_FORMATS and bool(getattr(image, "is_animated", False))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return False
    except Image.DecompressionBombError:
        return False


def _seconds(raw: object) -> float:
    ms = float(raw) if isinstance(raw, int | float) and raw > 0 else DEFAULT_FRAME_MS
    return max(ms, MIN_FRAME_MS) / 1000.0


def _durations(image: Image.Image) -> list[float]:
    """Each frame's display time in seconds, read from the frames' headers (no frame is
    decoded for it)."""
    count = min(int(getattr(image, "n_frames", 1)), MAX_FRAMES)
    width, height = image.size
    if count * width * height > FRAME_PIXEL_BUDGET:
        raise AnalyzerFailed(
            f"animation is too large to analyse safely: {count} frames of {width}x{height}"
        )
    if image.format == "WEBP":
        return _webp_durations(image)
    durations = []
    for index in range(count):
        image.seek(index)
        durations.append(_seconds(image.info.get("duration")))
    return durations


def _webp_durations(image: Image.Image) -> list[float]:
    """An animated WebP's frame durations, from its ANMF chunks: Pillow learns a WebP
    frame's duration only by decoding it."""
    handle = getattr(image, "fp", None)
    if handle is None:
        return [_seconds(None)]
    handle.seek(12)  # past "RIFF", the size and "WEBP"
    durations: list[float] = []
    while len(durations) < MAX_FRAMES:
        header = handle.read(8)
        if len(header) < 8:
            break
        size = int.from_bytes(header[4:], "little")
        if header[:4] == b"ANMF":
            payload = handle.read(16)
            if len(payload) < 16:
                break
            durations.append(_seconds(int.from_bytes(payload[12:15], "little")))
            handle.seek(size + (size & 1) - 16, 1)
        else:
            handle.seek(size + (size & 1), 1)
    return durations or [_seconds(None)] * min(int(getattr(image, "n_frames", 1)), MAX_FRAMES)


def facts(path: Path) -> dict[str, Any]:
    """What the metadata analyzer reports of an animation (as for a video)."""
    try:
        return _facts(path)
    except PILLOW_ERRORS as exc:
        raise AnalyzerFailed(f"animation is corrupt or truncated: {exc}") from exc


def _facts(path: Path) -> dict[str, Any]:
    with Image.open(path) as image:
        durations = _durations(image)
        codec = {"GIF": "gif", "WEBP": "webp", "PNG": "apng"}[str(image.format)]
        width, height = image.size
    seconds = sum(durations)
    return {
        "codec": codec,
        "format": "png" if codec == "apng" else codec,
        "resolution": f"{width}x{height}",
        "duration": round(seconds, 3),
        "fps": round(len(durations) / seconds, 3) if seconds else None,
        "frames": len(durations),
        "has_audio": False,
    }


def sampled_frames(path: Path, samples: int) -> Iterator[tuple[float, RGB, RGB | None]]:
    """Up to `samples` frames spread over the animation, each with the frame after it
    (None for the last), as (time in seconds, RGB, following RGB). A damaged file raises
    AnalyzerFailed, after the frames that could be read."""
    try:
        yield from _sampled_frames(path, samples)
    except PILLOW_ERRORS as exc:
        raise AnalyzerFailed(f"animation is corrupt or truncated: {exc}") from exc


def _sampled_frames(path: Path, samples: int) -> Iterator[tuple[float, RGB, RGB | None]]:
    with Image.open(path) as image:
        durations = _durations(image)
        count = len(durations)
        starts = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
        wanted = sorted({min(count - 1, int((i + 0.5) * count / samples)) for i in range(samples)})
        for index in wanted:
            image.seek(index)
            frame = np.asarray(image.convert("RGB"), dtype=np.uint8)
            following = None
            if index + 1 < count:
                image.seek(index + 1)
                following = np.asarray(image.convert("RGB"), dtype=np.uint8)
            yield float(starts[index]), frame, following
