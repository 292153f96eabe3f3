"""Opening still pictures within the pixel bound, large phone photos included.

Pillow's `MAX_IMAGE_PIXELS` (89 megapixels) bounds what a picture may make an analyzer
allocate, and `Image.open` refuses anything over twice it. Phones now take 108 and 200
megapixel photos, so a JPEG over the bound is decoded reduced instead: libjpeg scales in
the DCT domain (1/2, 1/4), never holding the full-size picture, so the decoded pixels
stay within the bound. Only beyond 1/4 (16 times the bound, 1.4 gigapixels: no camera
makes such a JPEG) is it refused. Only a sequential JPEG whose first scan holds every
component is reduced: for a progressive one (or one whose components come in separate
scans) libjpeg keeps every DCT coefficient of the full-size picture, about 2 bytes per pixel
per component whatever the output scale, so those keep the plain bound, as do formats
without a cheap reduced decode.

A JPEG's headers are read without `Image.open`'s own check (its warning cannot be silenced
per thread, and its error would refuse the photo before it can be reduced); the bound is
checked here, on what will actually be decoded.

HEIF pictures (HEIC, the iPhone's default) are read through pillow-heif's libheif, which
registers with Pillow here, so every analyzer opens them like any other picture (within
the same bound, which Pillow checks for every format).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pillow_heif
from numpy.typing import NDArray
from PIL import Image, JpegImagePlugin

from veriscan.analyzers.base import AnalyzerFailed

# Thumbnails are not analysed; the primary picture is.
pillow_heif.register_heif_opener(thumbnails=False)

#: The most a JPEG over the pixel bound is reduced by when decoded.
JPEG_MAX_REDUCTION = 4
_JPEG_MAGIC = b"\xff\xd8\xff"
# Start-of-frame markers: sequential (baseline, extended; Huffman or arithmetic) and the rest
# (progressive, lossless, hierarchical).
_SEQUENTIAL_FRAMES = frozenset({0xC0, 0xC1, 0xC9})
_OTHER_FRAMES = frozenset({0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})  # markers without a length
_MAX_SEGMENTS = 1000  # before the first scan; a photo has a dozen


@dataclass(frozen=True)
class Opened:
    image: Image.Image
    #: The picture's size as its headers declare it (before any reduction or rotation).
    size: tuple[int, int]
    #: 1 when decoded at full size, else 2, 4 or 8 (JPEG only): the decoded picture is
    #: about size / reduction.
    reduction: int


def _reduced(size: tuple[int, int], reduction: int) -> int:
    """How many pixels a picture of `size` has once decoded at 1/reduction scale."""
    width, height = size
    return -(-width // reduction) * -(-height // reduction)


def _open_jpeg(path: Path) -> Image.Image | None:
    """The JPEG's headers, without Pillow's bomb check; None when its parser refuses the
    file (then `Image.open` decides, as for any other file)."""
    with path.open("rb") as probe:
        if probe.read(3) != _JPEG_MAGIC:
            return None
    try:
        return JpegImagePlugin.jpeg_factory(str(path))  # type: ignore[arg-type]
    except (SyntaxError, ValueError, OSError, IndexError, TypeError):
        return None


def decodes_in_one_pass(path: Path) -> bool:
    """Whether libjpeg decodes this JPEG straight to its output, holding no full-size
    coefficient buffer: a sequential frame whose first scan interleaves every component
    (libjpeg's own test for `has_multiple_scans`). Reads the headers up to the first scan;
    anything unexpected answers False, the cautious answer."""
    with path.open("rb") as stream:
        if stream.read(2) != b"\xff\xd8":
            return False
        sequential, components = False, 0
        for _ in range(_MAX_SEGMENTS):
            if stream.read(1) != b"\xff":
                return False
            marker = stream.read(1)
            while marker == b"\xff":  # fill bytes
                marker = stream.read(1)
            if not marker:
                return False
            code = marker[0]
            if code in _STANDALONE:
                continue
            length = stream.read(2)
            if len(length) < 2 or int.from_bytes(length, "big") < 2:
                return False
            size = int.from_bytes(length, "big") - 2
            if code in _SEQUENTIAL_FRAMES or code in _OTHER_FRAMES:
                frame = stream.read(size)
                if len(frame) < 6:
                    return False
                sequential, components = code in _SEQUENTIAL_FRAMES, frame[5]
            elif code == 0xDA:  # start of scan: its first byte is how many components
                scan = stream.read(1)
                return bool(scan) and sequential and scan[0] == components > 0
            else:
                stream.seek(size, 1)
    return False


@contextmanager
def open_bounded(path: Path, verb: str, least_reduction: int = 1) -> Iterator[Opened]:
    """Open a still picture whose decoded pixels stay within `Image.MAX_IMAGE_PIXELS`.

    A JPEG is set to decode at `least_reduction` (1, 2, 4 or 8) or more if the bound needs
    it; nothing is decoded yet. Over the bound: AnalyzerFailed("image is too large to
    {verb} safely: ..."). Pillow's own errors pass through to the caller."""
    limit = Image.MAX_IMAGE_PIXELS  # None: the operator turned the check off
    jpeg = _open_jpeg(path)
    try:
        image: Any = jpeg if jpeg is not None else Image.open(path)
    # Image.open refuses over twice the bound, and warns over it (an error where warnings
    # are, as under pytest).
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise AnalyzerFailed(f"image is too large to {verb} safely: {exc}") from exc
    with image:
        size: tuple[int, int] = image.size
        width, height = size
        reducible = jpeg is not None and decodes_in_one_pass(path)
        # The same rule whatever the caller's least reduction, so every analyzer agrees.
        most = JPEG_MAX_REDUCTION if reducible else 1
        if limit is not None and _reduced(size, most) > limit:
            if reducible:
                beyond = f" even decoded at 1/{most} scale"
            elif jpeg is not None:
                beyond = " (a progressive or multi-scan JPEG cannot be decoded reduced)"
            else:
                beyond = ""
            raise AnalyzerFailed(
                f"image is too large to {verb} safely: {width}x{height} pixels, "
                f"over the limit of {limit}{beyond}"
            )
        reduction = 1
        if jpeg is not None:
            wanted = least_reduction
            while reducible and limit is not None and _reduced(size, wanted) > limit:
                wanted *= 2
            if wanted > 1:
                # draft picks the largest DCT scale giving at least the size asked for.
                box = image.draft(image.mode, (max(1, width // wanted), max(1, height // wanted)))
                reduction = 1 if box is None else round(width / box[1][2])
        yield Opened(image, size, reduction)


#: Rows converted at a time by `rgb_array`: a few MB of any picture a camera makes.
STRIP_ROWS = 256


def rgb_array(image: Image.Image) -> NDArray[np.uint8]:
    """The picture as one height x width x 3 uint8 array, converted a strip of rows at a
    time. `np.asarray(image.convert("RGB"))` holds Pillow's RGB copy (4 bytes a pixel),
    the bytes it exports and the array at once: about 10 bytes a pixel at its peak (672 MB
    for a 64-megapixel greyscale PNG, measured), on top of the decoded picture. Strips hold
    only the array, 3 bytes a pixel (331 MB for that PNG, the picture included)."""
    width, height = image.size
    out = np.empty((height, width, 3), np.uint8)
    for top in range(0, height, STRIP_ROWS):
        bottom = min(height, top + STRIP_ROWS)
        strip = image.crop((0, top, width, bottom))
        out[top:bottom] = np.asarray(strip if strip.mode == "RGB" else strip.convert("RGB"))
    return out
