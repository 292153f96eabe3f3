"""Pixel forensics for still images: error levels, upsampling fingerprint, noise, faces.

Every score is measured on the image's own pixels and compared with the rest of the same
image, so no model or reference set is needed. Scores are suspicion in 0..1:

- `ela`: a coherent region whose JPEG error level is higher than blocks of similar texture
  elsewhere (a paste with a different compression history).
- `gan_fingerprint`: sharp spectral peaks at the frequencies that 2x/4x upsampling leaves
  (N/2, N/4), above the spectrum's own smooth decay and beyond what a JPEG 8-px grid
  explains.
- `noise_residual`: a coherent region whose noise level stands out from the rest once
  brightness and structure are accounted for (a retouched, pasted or generated area).
- `faces`: for each frontal face, whether it is smoother, blurrier or differently
  compressed than the ring of pixels around it (a pasted or generated face).

`frame_scores` runs the same measures on one RGB array; the video analyzer calls it per frame.
"""

from __future__ import annotations

import io
import threading
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import cv2
import numpy as np
from cv2.data import haarcascades
from numpy.typing import NDArray
from PIL import Image, ImageOps

from veriscan.analyzers.base import (
    Analyzer,
    AnalyzerFailed,
    EvidenceImage,
    Finding,
    MediaKind,
    MediaSample,
    Report,
)
from veriscan.analyzers.pictures import open_bounded, rgb_array

Gray = NDArray[np.float32]
RGB = NDArray[np.uint8]

WORK_MAX_SIDE = 2048  # ELA, noise and faces run on at most this many pixels a side
SPECTRUM_SIDE = 1024  # the spectral check reads a native-resolution centre crop this large
FACE_MAX_SIDE = 800  # Haar detection is slow on large images; a face this small says little
EVIDENCE_MAX_SIDE = 512
ELA_QUALITY = 90
WEIGHTS = {"ela": 0.5, "gan_fingerprint": 0.5, "noise_residual": 0.4, "faces": 0.5}
_CASCADE_FILE = "haarcascade_frontalface_default.xml"


@dataclass
class Measure:
    score: float | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class FaceBox:
    x: int
    y: int
    w: int
    h: int
    score: float | None  # None: the face fills the frame, nothing to compare it with
    details: dict[str, Any]


def _sigmoid(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-x)))


def _blocks(a: NDArray[Any], size: int) -> NDArray[Any]:
    """View `a` as (rows, cols, size*size) non-overlapping blocks, dropping the ragged edge."""
    rows, cols = a.shape[0] // size, a.shape[1] // size
    cut = a[: rows * size, : cols * size]
    return cut.reshape(rows, size, cols, size).swapaxes(1, 2).reshape(rows, cols, size * size)


def _block_size(gray: Gray) -> int:
    # About 32 blocks on the short side, on the JPEG 8-px grid.
    return int(8 * max(1, min(gray.shape) // 256))


def _robust_z(values: NDArray[np.float64], floor: float) -> NDArray[np.float64]:
    median = float(np.median(values))
    mad = float(np.median(np.abs(values - median))) * 1.4826
    return (values - median) / max(mad, floor)


def _fit_residual(y: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Residual of y after a quadratic fit on x, refitted without outliers so that a
    tampered region cannot pull the fit towards itself."""
    keep = np.ones(y.shape, dtype=bool)
    resid = y - float(np.median(y))
    if len(np.unique(x)) < 4:
        return resid
    for _ in range(2):
        if len(np.unique(x[keep])) < 4:
            break
        with warnings.catch_warnings():
            # Nearly flat content (few distinct x values among the kept blocks) leaves the
            # fit poorly conditioned; the residual is still the best estimate there is.
            warnings.simplefilter("ignore", np.exceptions.RankWarning)
            coef = np.polyfit(x[keep], y[keep], 2)
        resid = y - np.polyval(coef, x)
        z = _robust_z(resid, 1e-3)
        keep = np.abs(z) < 2.5
        if keep.sum() < 8:
            break
    return resid


def _coherent_peak(z_map: NDArray[np.float64], valid: NDArray[np.bool_]) -> tuple[float, float]:
    """Strongest 3x3-block mean of z (a region, not one noisy block) and the share of
    valid blocks inside such regions above 2."""
    z = np.where(valid, z_map, 0.0).astype(np.float32)
    count = cv2.blur(valid.astype(np.float32), (3, 3), borderType=cv2.BORDER_CONSTANT)
    mean = cv2.blur(z, (3, 3), borderType=cv2.BORDER_CONSTANT) / np.maximum(count, 1e-6)
    mean = np.where(count >= 5 / 9, mean, 0.0)
    share = float((mean[valid] > 2.0).mean()) if valid.any() else 0.0
    return float(mean.max(initial=0.0)), share


def to_gray(rgb: RGB) -> Gray:
    # ITU-R 601 luma: the channel a JPEG encoder quantises most finely.
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)


def downscale(a: NDArray[Any], max_side: int) -> NDArray[Any]:
    h, w = a.shape[:2]
    if max(h, w) <= max_side:
        return a
    f = max_side / max(h, w)
    return cv2.resize(a, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)


def error_levels(gray: Gray) -> tuple[Measure, Gray]:
    """Error level analysis on the luma: re-save at a fixed JPEG quality and compare each
    block's error with blocks of similar texture elsewhere in the image. Returns the
    measure and the per-pixel error map."""
    g8 = np.clip(gray, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(g8, "L").save(buffer, "JPEG", quality=ELA_QUALITY)
    resaved = np.asarray(Image.open(buffer).convert("L"), dtype=np.float32)
    ela = np.abs(g8.astype(np.float32) - resaved)
    size = _block_size(gray)
    if min(gray.shape) < 8 * size:
        return Measure(None, {"reason": "image too small"}), ela
    texture = np.abs(gray - cv2.blur(gray, (3, 3)))
    e_b = _blocks(ela, size).mean(axis=2).astype(np.float64)
    t_b = _blocks(texture, size).mean(axis=2).astype(np.float64)
    level = _blocks(gray, size).mean(axis=2)
    # Flat and clipped blocks carry no error whatever their history.
    valid = (t_b > 0.5) & (level > 8) & (level < 247)
    if valid.sum() < 16:
        return Measure(None, {"reason": "too few textured regions"}), ela
    resid = np.zeros_like(e_b)
    # Half a grey level is rounding, not compression history; and error ratios within
    # 25% of each other are indistinguishable in practice.
    resid[valid] = _fit_residual(np.log(e_b[valid] + 0.5), np.log(t_b[valid] + 0.5))
    z = np.zeros_like(e_b)
    z[valid] = _robust_z(resid[valid], 0.25)
    peak, share = _coherent_peak(z, valid)
    details = {"quality": ELA_QUALITY, "block_px": size, "mean_error": round(float(ela.mean()), 3)}
    details.update(peak_region_z=round(peak, 2), outlier_area=round(share, 4))
    # A 3x3 region three robust deviations above its peers; chance gives about one.
    return Measure(_sigmoid((peak - 3.0) / 0.75), details), ela


def _welch_power(a: Gray, tile: int) -> NDArray[np.float64]:
    """Average windowed power spectrum over non-overlapping tiles (Welch), so that a
    single bin is a stable estimate rather than one exponential draw."""
    win = np.outer(np.hanning(tile), np.hanning(tile)).astype(np.float32)
    tiles = _blocks(a, tile).reshape(-1, tile, tile)
    tiles = tiles - tiles.mean(axis=(1, 2), keepdims=True)
    return np.asarray((np.abs(np.fft.fft2(tiles * win)) ** 2).mean(axis=0), dtype=np.float64)


def _lattice_peaks(power: NDArray[np.float64]) -> dict[tuple[int, int], float]:
    """log10 of each (a/8, b/8) cycle-per-pixel bin over the median of its neighbourhood,
    which follows the spectrum's local decay and orientation."""
    n = power.shape[0]
    r = max(3, n // 32)
    offsets = np.arange(-r, r + 1)
    ring = np.maximum(np.abs(offsets)[:, None], np.abs(offsets)[None, :]) > 1
    peaks = {}
    for a in range(8):
        for b in range(8):
            if a == b == 0:
                continue
            ky, kx = a * n // 8, b * n // 8
            hood = power[np.ix_((ky + offsets) % n, (kx + offsets) % n)]
            background = float(np.median(hood[ring])) + 1e-12
            peaks[(a, b)] = float(np.log10(power[ky, kx] / background + 1e-12))
    return peaks


def _radial_profile(power: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    n = power.shape[0]
    f = np.fft.fftfreq(n)
    radius = np.hypot(f[:, None], f[None, :])
    bins = np.round(radius * n).astype(int)
    sums = np.bincount(bins.ravel(), power.ravel())
    counts = np.bincount(bins.ravel())
    keep = slice(1, n // 2 + 1)
    return np.arange(len(sums))[keep] / n, sums[keep] / np.maximum(counts[keep], 1)


def upsampling_fingerprint(
    gray: Gray, side: int = SPECTRUM_SIDE
) -> tuple[Measure, NDArray[np.float64] | None]:
    """Spectral peaks left by 2x/4x upsampling, on native-resolution pixels.

    Two residuals are read: the high-passed image (a transposed convolution adds a
    periodic pattern, i.e. replicas of DC at N/2, N/4) and the magnitude of first
    differences (interpolation makes the local variance periodic). JPEG's 8-px grid puts
    peaks on every multiple of N/8; only the excess of the N/2 and N/4 peaks over the odd
    multiples of N/8 counts as upsampling. Returns the measure and the high-pass spectrum.
    """
    h, w = gray.shape
    crop_h, crop_w = min(h, side), min(w, side)
    if min(crop_h, crop_w) < 128:
        return Measure(None, {"reason": "image too small for a spectrum"}), None
    y0, x0 = (h - crop_h) // 2, (w - crop_w) // 2
    crop = gray[y0 : y0 + crop_h, x0 : x0 + crop_w]
    tile = 128 if min(crop_h, crop_w) >= 512 else 64
    highpass = crop - cv2.blur(crop, (3, 3))
    dx = np.abs(np.diff(crop, axis=1, append=crop[:, -1:]))
    dy = np.abs(np.diff(crop, axis=0, append=crop[-1:, :]))
    spectra = {"highpass": _welch_power(highpass, tile), "gradient": _welch_power(dx + dy, tile)}
    details: dict[str, Any] = {"crop_px": [crop_w, crop_h], "tile_px": tile}
    excess = 0.0
    for label, power in spectra.items():
        peaks = _lattice_peaks(power)
        half = np.mean([v for (a, b), v in peaks.items() if a % 4 == 0 and b % 4 == 0])
        quarter = np.mean(
            [v for (a, b), v in peaks.items() if a % 2 == 0 and b % 2 == 0 and (a % 4 or b % 4)]
        )
        jpeg = np.mean([v for (a, b), v in peaks.items() if a % 2 or b % 2])
        here = max(float(half), float(quarter)) - max(float(jpeg), 0.0)
        excess = max(excess, here)
        details[label] = {
            "peak_n2": round(float(half), 3),
            "peak_n4": round(float(quarter), 3),
            "peak_n8_odd": round(float(jpeg), 3),
        }
    # The 1/f-like decay of the azimuthal mean: fitted on the mid band, read on the tail.
    freq, profile = _radial_profile(_welch_power(crop, tile))
    mid, tail = (freq >= 0.05) & (freq <= 0.25), freq >= 0.3
    slope, offset = np.polyfit(np.log10(freq[mid]), np.log10(profile[mid] + 1e-12), 1)
    tail_dev = np.log10(profile[tail] + 1e-12) - (offset + slope * np.log10(freq[tail]))
    details["spectral_slope"] = round(float(-slope), 3)
    details["tail_vs_power_law"] = round(float(tail_dev.mean()), 3)
    details["peak_excess"] = round(excess, 3)
    # Peaks a factor of ~2.5 (0.4 decades) above their surroundings on average.
    return Measure(_sigmoid((excess - 0.4) / 0.1), details), spectra["highpass"]


def _noise_blocks(gray: Gray, size: int) -> tuple[NDArray[np.float64], ...]:
    """Per-block noise level, brightness and structure.

    Noise is the mean |residual| of a 3x3 median filter: the median keeps straight edges,
    so the residual is mostly noise, and a mean (unlike a median) stays continuous on
    JPEG images whose residuals are small integers. Structure is the gradient of a
    smoothed copy, which the noise itself barely moves."""
    residual = np.abs(gray - cv2.medianBlur(gray, 3))
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.5)
    structure = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0), cv2.Sobel(smooth, cv2.CV_32F, 0, 1))
    noise = _blocks(residual, size).mean(axis=2)
    level = _blocks(gray, size).mean(axis=2)
    texture = _blocks(structure, size).mean(axis=2)
    return noise.astype(np.float64), level.astype(np.float64), texture.astype(np.float64)


def noise_consistency(gray: Gray) -> Measure:
    """Whether a region's noise level stands out once brightness and structure explain
    what they can.

    Camera noise depends on brightness (shot noise) and the residual leaks around
    structure; both are fitted away, and what remains should be uniform. A pasted,
    retouched or generated region with its own noise shows as a coherent group of
    blocks several robust deviations from the rest."""
    size = max(16, _block_size(gray))
    if min(gray.shape) < 4 * size:
        return Measure(None, {"reason": "image too small"})
    noise, level, texture = _noise_blocks(gray, size)
    valid = (level > 8) & (level < 247)
    if valid.sum() < 16:
        return Measure(None, {"reason": "too few unclipped regions"})
    # A tenth of a grey level is below what 8-bit pixels can tell apart.
    log_noise = np.log(noise + 0.1)
    resid = _fit_residual(log_noise[valid], np.log(texture[valid] + 0.5))
    resid = _fit_residual(resid, level[valid] / 255)
    q1, q3 = np.percentile(resid, [25, 75])
    z = np.zeros_like(log_noise)
    z[valid] = np.abs(_robust_z(resid, 0.1))
    peak, share = _coherent_peak(z, valid)
    # Only a local anomaly is scored: the overall spread (kept in details) follows scene
    # content and processing too much to mean anything on its own.
    details = {
        "block_px": size,
        "median_noise": round(float(np.median(noise[valid])), 3),
        "iqr_log_noise": round(float(q3 - q1), 3),
        "peak_region_z": round(peak, 2),
        "outlier_area": round(share, 4),
    }
    return Measure(_sigmoid((peak - 3.5) / 0.75), details)


_local = threading.local()


def _cascade() -> cv2.CascadeClassifier:
    # A CascadeClassifier must not be shared between threads; analyses run on many.
    cascade = getattr(_local, "cascade", None)
    if cascade is None:
        cascade = cv2.CascadeClassifier(haarcascades + _CASCADE_FILE)
        if cascade.empty():
            raise RuntimeError(f"OpenCV ships no {_CASCADE_FILE}")
        _local.cascade = cascade
    return cascade


def detect_faces(gray: Gray) -> list[tuple[int, int, int, int]]:
    """Frontal faces as (x, y, w, h) in `gray`'s pixels, largest first, at most five."""
    small = downscale(gray, FACE_MAX_SIDE)
    f = gray.shape[1] / small.shape[1]
    g8 = cv2.equalizeHist(np.clip(small, 0, 255).astype(np.uint8))
    least = max(24, min(g8.shape) // 12)
    found = _cascade().detectMultiScale(
        g8, scaleFactor=1.15, minNeighbors=6, minSize=(least, least)
    )
    boxes = sorted((tuple(int(v * f) for v in box) for box in found), key=lambda b: -b[2] * b[3])
    return [(b[0], b[1], b[2], b[3]) for b in boxes[:5]]


def _face_vs_ring(maps: list[Gray], box: tuple[int, int, int, int]) -> list[tuple[Any, Any]]:
    """For each map, the values in the face's core (its middle 60%) and in the ring of
    pixels around the box (up to 40% of its size out), cut to the image."""
    x, y, w, h = box
    rows, cols = maps[0].shape
    top, left = max(0, y - h * 2 // 5), max(0, x - w * 2 // 5)
    bottom, right = min(rows, y + h * 7 // 5), min(cols, x + w * 7 // 5)
    ring = np.ones((bottom - top, right - left), dtype=bool)
    ring[y - top : y - top + h, x - left : x - left + w] = False
    core = (slice(y + h // 5, y + h * 4 // 5), slice(x + w // 5, x + w * 4 // 5))
    return [(m[core], m[top:bottom, left:right][ring]) for m in maps]


def face_checks(gray: Gray, ela: Gray) -> tuple[Measure, list[FaceBox]]:
    """Compare each face's core with the ring around it: noise level, sharpness and error
    level. A face that is smoother or blurrier than its surroundings, or compressed
    differently, is what a pasted or generated face tends to look like; a face sharper
    than a defocused background is normal and not counted."""
    boxes = detect_faces(gray)
    if not boxes:
        return Measure(None, {"faces": 0, "reason": "no face was found"}), []
    residual = np.abs(gray - cv2.medianBlur(gray, 3))  # as in noise_consistency
    laplacian = np.abs(cv2.Laplacian(gray, cv2.CV_32F))
    faces = []
    for box in boxes:
        (noise_in, noise_out), (lap_in, lap_out), (ela_in, ela_out) = _face_vs_ring(
            [residual, laplacian, ela], box
        )
        if noise_out.size < noise_in.size // 4:
            faces.append(FaceBox(*box, None, {"reason": "the face fills the frame"}))
            continue
        noise = float(np.log((noise_in.mean() + 0.1) / (noise_out.mean() + 0.1)))
        sharp = float(np.log((lap_in.mean() + 0.1) / (lap_out.mean() + 0.1)))
        levels = float(np.log((ela_in.mean() + 0.05) / (ela_out.mean() + 0.05)))
        # Smoother or blurrier than around it counts; sharper does not (bokeh is normal).
        evidence = max(0.0, -noise) + max(0.0, -sharp) + abs(levels) / 2
        details = {
            "noise_log_ratio": round(noise, 3),
            "sharpness_log_ratio": round(sharp, 3),
            "error_level_log_ratio": round(levels, 3),
        }
        faces.append(FaceBox(*box, _sigmoid((evidence - 1.0) / 0.25), details))
    measured = [f.score for f in faces if f.score is not None]
    if not measured:
        return Measure(None, {"faces": len(faces), "reason": "faces fill the frame"}), faces
    return Measure(max(measured), {"faces": len(faces)}), faces


def frame_scores(
    rgb: RGB, max_side: int = WORK_MAX_SIDE, spectrum_side: int = SPECTRUM_SIDE
) -> dict[str, float | None]:
    """The four image scores (0..1 suspicion, None when not measurable) of one RGB frame."""
    scores, _ = analyse_pixels(rgb, max_side, spectrum_side)
    return {name: m.score for name, m in scores.items()}


@dataclass
class PixelAnalysis:
    rgb: RGB  # the working copy, at most max_side a side
    gray: Gray
    ela: Gray
    spectrum: NDArray[np.float64] | None
    faces: list[FaceBox]


def analyse_pixels(
    rgb: RGB, max_side: int = WORK_MAX_SIDE, spectrum_side: int = SPECTRUM_SIDE
) -> tuple[dict[str, Measure], PixelAnalysis]:
    """All measures on one RGB array. The spectrum reads a native-resolution centre crop
    (resampling would erase upsampling traces); the rest runs on a copy at most
    `max_side` a side."""
    h, w = rgb.shape[:2]
    top, left = max(0, (h - spectrum_side) // 2), max(0, (w - spectrum_side) // 2)
    centre = to_gray(rgb[top : top + spectrum_side, left : left + spectrum_side])
    spectral, spectrum = upsampling_fingerprint(centre, spectrum_side)
    small = downscale(rgb, max_side)
    gray = to_gray(small)
    ela_measure, ela = error_levels(gray)
    noise = noise_consistency(gray)
    face_measure, faces = face_checks(gray, ela)
    measures = {
        "ela": ela_measure,
        "gan_fingerprint": spectral,
        "noise_residual": noise,
        "faces": face_measure,
    }
    return measures, PixelAnalysis(small, gray, ela, spectrum, faces)


def png(rgb_or_gray: NDArray[Any], max_side: int = EVIDENCE_MAX_SIDE) -> bytes:
    small = downscale(np.ascontiguousarray(rgb_or_gray), max_side)
    buffer = io.BytesIO()
    Image.fromarray(small).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _colour(values: NDArray[Any]) -> RGB:
    """Map values to an inferno heatmap, scaled to their 99th percentile."""
    top = float(np.percentile(values, 99)) or 1.0
    u8 = np.clip(values / top * 255, 0, 255).astype(np.uint8)
    coloured = cv2.applyColorMap(u8, cv2.COLORMAP_INFERNO)
    return np.asarray(cv2.cvtColor(coloured, cv2.COLOR_BGR2RGB), dtype=np.uint8)


def spectrum_png(power: NDArray[np.float64]) -> bytes:
    """Log-magnitude spectrum, DC in the centre; upsampling peaks show as isolated dots."""
    log = np.log10(np.fft.fftshift(power) + 1e-9)
    log -= np.percentile(log, 1)
    big = cv2.resize(log.astype(np.float32), (384, 384), interpolation=cv2.INTER_NEAREST)
    return png(_colour(np.maximum(big, 0)))


def draw_faces(rgb: RGB, faces: list[FaceBox], scale: float = 1.0) -> RGB:
    canvas = np.ascontiguousarray(rgb).copy()
    thick = max(1, round(max(canvas.shape[:2]) / 300))
    for face in faces:
        red = 255 if face.score is None else int(255 * face.score)
        green = 255 if face.score is None else 255 - red  # unmeasured faces in yellow
        x, y = round(face.x * scale), round(face.y * scale)
        w, h = round(face.w * scale), round(face.h * scale)
        cv2.rectangle(canvas, (x, y), (x + w, y + h), (red, green, 0), thick)
    return canvas


_ORIENTATION = 0x0112  # EXIF


@dataclass(frozen=True)
class Decoded:
    rgb: RGB  # upright
    width: int  # the picture's upright size, as declared
    height: int
    reduction: int  # 1, or 2 or 4 for a JPEG over the pixel bound (analyzers.pictures)


def ela_caption(sample: MediaSample) -> str:
    """What the error-level picture shows: a JPEG's own compression, or (for any other
    format) the error levels of one re-compression, where an unedited picture is even."""
    if sample.mime_type in ("image/jpeg", "image/jpg", "image/pjpeg"):
        return "JPEG error levels (brighter: compressed differently from the rest)"
    name = sample.mime_type.split("/")[-1].upper() or "this"
    return (
        f"Error levels after one JPEG re-compression ({name} file, not a JPEG: an unedited "
        "picture shows an even texture)"
    )


def load_image(path: Path) -> Decoded:
    """Decode to upright RGB within the pixel bound (analyzers.pictures); any decoding
    problem becomes AnalyzerFailed."""
    try:
        with open_bounded(path, "decode") as opened:
            image = opened.image
            image.load()
            # Orientations 5 to 8 turn the picture a quarter (what exif_transpose applies).
            turned = image.getexif().get(_ORIENTATION) in (5, 6, 7, 8)
            # In place and convert only when needed: each copy of a large photo is big.
            ImageOps.exif_transpose(image, in_place=True)
            width, height = opened.size[::-1] if turned else opened.size
            return Decoded(rgb_array(image), width, height, opened.reduction)
    except (OSError, ValueError, EOFError, SyntaxError) as exc:
        raise AnalyzerFailed(f"cannot decode image: {exc}") from exc


_SUMMARIES = {
    "ela": (
        "One region has clearly higher JPEG error levels than similar textures elsewhere",
        "Error levels are consistent across regions of similar texture",
    ),
    "gan_fingerprint": (
        "The spectrum has periodic peaks of the kind 2x/4x upsampling leaves",
        "No periodic upsampling peaks in the spectrum",
    ),
    "noise_residual": (
        "Noise levels differ between regions more than camera noise does",
        "Noise levels are consistent across the image",
    ),
    "faces": (
        "A face differs in noise, sharpness or compression from its surroundings",
        "Faces match their surroundings in noise, sharpness and compression",
    ),
}


def summarise(signal: str, measure: Measure) -> str:
    if measure.score is None:
        if signal == "faces":
            return "No face was found"
        return f"Not measurable: {measure.details.get('reason', 'not enough content')}"
    suspicious, clean = _SUMMARIES[signal]
    return suspicious if measure.score >= 0.5 else clean


class ImageForensicsAnalyzer(Analyzer):
    name: ClassVar[str] = "image_forensics"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.IMAGE})
    version: ClassVar[str] = "1"

    def analyze(self, sample: MediaSample) -> Report:
        decoded = load_image(sample.path)
        width, height, reduction = decoded.width, decoded.height, decoded.reduction
        measures, pixels = analyse_pixels(decoded.rgb, WORK_MAX_SIDE)
        del decoded  # the full-size copy: only the working copy is needed from here
        resampled = pixels.gray.shape[1] < width
        if reduction > 1:
            # The spectrum reads native pixels: a DCT-scaled decode folds upsampling peaks.
            scale = f"1/{reduction}"
            measures["gan_fingerprint"] = Measure(
                None,
                {
                    "reason": f"the photo is decoded at {scale} scale (over the pixel bound), "
                    "which erases upsampling traces",
                    "decoded_at": scale,
                },
            )
            pixels.spectrum = None
            measures["ela"].details["decoded_at"] = scale
        if resampled:
            # Downscaling erases the 8-px grid that ELA reads: a weaker signal here.
            measures["ela"].details["resampled_to"] = list(pixels.gray.shape[::-1])
        measures["faces"].details["boxes"] = [
            {"x": f.x, "y": f.y, "w": f.w, "h": f.h, "score": f.score, **f.details}
            for f in pixels.faces
        ]
        findings = []
        for signal, m in measures.items():
            weight = WEIGHTS[signal] * (0.5 if signal == "ela" and resampled else 1.0)
            score = None if m.score is None else round(m.score, 4)
            weight = weight if score is not None else 0.0
            findings.append(Finding(signal, score, weight, summarise(signal, m), m.details))
        evidence = [EvidenceImage("ela-heatmap", png(_colour(pixels.ela)), ela_caption(sample))]
        if pixels.spectrum is not None:
            caption = "Log power spectrum of the high-passed image (centre: low frequencies)"
            evidence.append(EvidenceImage("spectrum", spectrum_png(pixels.spectrum), caption))
        if pixels.faces:
            canvas = png(draw_faces(pixels.rgb, pixels.faces))
            evidence.append(EvidenceImage("faces", canvas, "Detected faces (red: suspicious)"))
        metadata = {"width": width, "height": height, "resolution": f"{width}x{height}"}
        return Report(self.name, findings, metadata, evidence)
