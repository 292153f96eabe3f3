"""ImageForensicsAnalyzer on images made here with known properties (a clean JPEG, a
splice, an upsampled image, a patch with its own noise), and on a real portrait read
from the shared evaluation set for face detection."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from PIL import Image

from veriscan.analyzers.base import AnalyzerFailed, MediaKind, MediaSample
from veriscan.analyzers.image import WEIGHTS, ImageForensicsAnalyzer, frame_scores
from veriscan.analyzers.metadata import MetadataAnalyzer
from veriscan.analyzers.pictures import STRIP_ROWS, decodes_in_one_pass, rgb_array

SIGNALS = ["ela", "gan_fingerprint", "noise_residual", "faces"]
# Read at test time, never copied into the repository (see the dataset's README).
MEDIA_EVAL = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "media-eval"
PORTRAIT = MEDIA_EVAL / "image" / "real" / "cnndet-web_101_stargan_real.png"


def natural(seed: int, h: int = 384, w: int = 512) -> np.ndarray:
    """A photo-like image: smooth shading, textured detail and Gaussian sensor noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    shading = 60 + 120 * (x / w) + 40 * np.sin(y / 37.0) + 30 * np.cos((x + y) / 53.0)
    detail = cv2.GaussianBlur(rng.normal(0, 40, (h, w)).astype(np.float32), (0, 0), 3)
    noise = rng.normal(0, 4, (h, w, 3))
    img = shading[..., None] + detail[..., None] + noise + np.array([0, 10, -10])
    return np.asarray(np.clip(img, 0, 255), dtype=np.uint8)


def encode(rgb: np.ndarray, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_round_trip(rgb: np.ndarray, quality: int) -> np.ndarray:
    return np.array(Image.open(io.BytesIO(encode(rgb, "JPEG", quality=quality))).convert("RGB"))


def sample(tmp_path: Path, data: bytes, name: str = "sample") -> MediaSample:
    path = tmp_path / name
    path.write_bytes(data)
    mime = "image/jpeg" if name.endswith((".jpg", ".jpeg")) else "image/png"
    return MediaSample(path, MediaKind.IMAGE, mime, len(data), "0" * 64)


def scores(tmp_path: Path, rgb: np.ndarray, name: str) -> dict[str, float | None]:
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, encode(rgb), name))
    return {f.signal: f.score for f in report.findings}


def test_clean_jpeg_reports_every_signal_with_evidence(tmp_path: Path) -> None:
    data = encode(natural(0), "JPEG", quality=90)
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, data, "clean.jpg"))

    assert report.error is None
    assert [f.signal for f in report.findings] == SIGNALS
    by_signal = {f.signal: f for f in report.findings}
    for signal in ("ela", "gan_fingerprint", "noise_residual"):
        score = by_signal[signal].score
        assert score is not None and 0.0 <= score < 0.5, (signal, score)
    assert by_signal["faces"].score is None
    assert by_signal["faces"].weight == 0.0
    assert "no face" in by_signal["faces"].summary.lower()
    assert report.metadata["resolution"] == "512x384"
    assert [e.name for e in report.evidence] == ["ela-heatmap", "spectrum"]
    assert report.evidence[0].caption.startswith("JPEG error levels")
    for evidence in report.evidence:
        shown = Image.open(io.BytesIO(evidence.png))
        assert shown.format == "PNG" and max(shown.size) <= 512
    json.dumps([f.details for f in report.findings])  # details must be JSON-ready


def test_same_input_gives_the_same_report(tmp_path: Path) -> None:
    data = encode(natural(1), "JPEG", quality=85)
    first = ImageForensicsAnalyzer().analyze(sample(tmp_path, data, "a.jpg"))
    second = ImageForensicsAnalyzer().analyze(sample(tmp_path, data, "b.jpg"))
    assert [(f.signal, f.score) for f in first.findings] == [
        (f.signal, f.score) for f in second.findings
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ela_scores_a_splice_above_the_untouched_image(tmp_path: Path, seed: int) -> None:
    clean = jpeg_round_trip(natural(seed), 90)
    never_compressed = clean.copy()
    never_compressed[100:228, 200:328] = natural(seed + 50)[100:228, 200:328]
    recompressed = clean.copy()
    recompressed[100:228, 200:328] = jpeg_round_trip(natural(seed + 100), 60)[100:228, 200:328]

    untouched = scores(tmp_path, clean, "clean.png")["ela"]
    pasted_raw = scores(tmp_path, never_compressed, "raw.png")["ela"]
    pasted_q60 = scores(tmp_path, recompressed, "q60.png")["ela"]

    assert untouched is not None and pasted_raw is not None and pasted_q60 is not None
    assert untouched < 0.2
    assert pasted_raw > 0.9  # a region that never went through JPEG stands out clearly
    assert pasted_q60 > untouched + 0.15


def test_ela_heatmap_is_bright_where_the_splice_is(tmp_path: Path) -> None:
    spliced = jpeg_round_trip(natural(3), 90)
    spliced[96:224, 192:320] = natural(53)[96:224, 192:320]
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, encode(spliced), "s.png"))
    heat = np.asarray(Image.open(io.BytesIO(report.evidence[0].png)).convert("L"), float)
    inside, outside = heat[96:224, 192:320].mean(), heat[:, :160].mean()
    assert inside > 3 * outside


def upsampled(kind: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "nearest":
        small = np.clip(rng.normal(128, 30, (192, 256, 3)), 0, 255).astype(np.uint8)
        return np.repeat(np.repeat(small, 2, axis=0), 2, axis=1)
    # A transposed convolution: zeros inserted, then a kernel whose phases do not sum
    # alike, which is what leaves checkerboard artefacts in generator outputs.
    zeros = np.zeros((384, 512, 3), np.float32)
    zeros[::2, ::2] = natural(seed, 192, 256)
    kernel = np.array([[0.2, 0.5, 0.3], [0.6, 1.0, 0.4], [0.25, 0.45, 0.3]], np.float32)
    return np.clip(cv2.filter2D(zeros, -1, kernel), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind", ["nearest", "transposed"])
def test_upsampling_leaves_a_spectral_fingerprint(tmp_path: Path, kind: str) -> None:
    rng = np.random.default_rng(7)
    camera_noise = np.clip(rng.normal(128, 30, (384, 512, 3)), 0, 255).astype(np.uint8)
    natural_score = scores(tmp_path, camera_noise, "noise.png")["gan_fingerprint"]
    photo_score = scores(tmp_path, natural(7), "photo.png")["gan_fingerprint"]
    upsampled_score = scores(tmp_path, upsampled(kind, 7), "up.png")["gan_fingerprint"]

    assert natural_score is not None and photo_score is not None and upsampled_score is not None
    assert natural_score < 0.2 and photo_score < 0.2
    assert upsampled_score > 0.9


def test_noise_residual_flags_a_region_with_different_noise(tmp_path: Path) -> None:
    clean = jpeg_round_trip(natural(4), 90)
    retouched = clean.copy()
    # A smoothed patch: what airbrushing or a pasted, resampled region looks like.
    retouched[100:228, 200:328] = cv2.GaussianBlur(clean, (0, 0), 1.2)[100:228, 200:328]

    before = scores(tmp_path, clean, "clean.png")["noise_residual"]
    after = scores(tmp_path, retouched, "retouched.png")["noise_residual"]
    assert before is not None and after is not None
    assert before < 0.5 < after


def test_frame_scores_on_an_array() -> None:
    result = frame_scores(natural(5))
    assert set(result) == set(SIGNALS)
    assert result["faces"] is None
    for signal in ("ela", "gan_fingerprint", "noise_residual"):
        value = result[signal]
        assert value is not None and 0.0 <= value <= 1.0


def test_tiny_image_is_not_measurable_rather_than_failing(tmp_path: Path) -> None:
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, encode(natural(6, 40, 40)), "t.png"))
    assert report.error is None
    assert all(f.score is None for f in report.findings)
    assert all(f.weight == 0.0 for f in report.findings)


@pytest.mark.skipif(not PORTRAIT.exists(), reason="shared media-eval set not present")
def test_face_is_found_on_a_portrait(tmp_path: Path) -> None:
    data = PORTRAIT.read_bytes()
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, data, "portrait.png"))

    faces = {f.signal: f for f in report.findings}["faces"]
    assert faces.score is not None and 0.0 <= faces.score <= 1.0
    assert faces.details["faces"] == 1
    box = faces.details["boxes"][0]
    # The face fills the middle of this 256x256 head-and-shoulders crop.
    assert 90 <= box["x"] + box["w"] / 2 <= 170 and 100 <= box["w"] <= 200
    assert "faces" in [e.name for e in report.evidence]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(natural(8, 240, 320), "JPEG", quality=90, exif=exif)
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, data, "rotated.jpg"))
    assert (report.metadata["width"], report.metadata["height"]) == (240, 320)


def test_large_image_is_analysed_at_a_bounded_size(tmp_path: Path) -> None:
    big = encode(natural(9, 2250, 3000), "JPEG", quality=90)
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, big, "big.jpg"))
    ela = {f.signal: f for f in report.findings}["ela"]
    assert report.metadata["resolution"] == "3000x2250"
    assert ela.details["resampled_to"] == [2048, 1536]
    assert all(max(Image.open(io.BytesIO(e.png)).size) <= 512 for e in report.evidence)


def test_decompression_bomb_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 200x200 is 40x over
    with pytest.raises(AnalyzerFailed, match="too large"):
        ImageForensicsAnalyzer().analyze(sample(tmp_path, encode(natural(10, 200, 200)), "b.png"))


def test_jpeg_over_the_pixel_bound_is_decoded_reduced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1200x800 (960,000 pixels) over a bound of 300,000: decoded at 1/2 (600x400), as a
    # 200-megapixel phone photo is under the real bound of 89 megapixels.
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned a quarter: 800x1200 upright
    data = encode(natural(11, 800, 1200), "JPEG", quality=90, exif=exif)
    path = sample(tmp_path, data, "big.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300_000)
    report = ImageForensicsAnalyzer().analyze(path)
    findings = {f.signal: f for f in report.findings}
    assert report.metadata["resolution"] == "800x1200"
    # The spectrum needs native pixels: not measured, and weighs nothing.
    gan = findings["gan_fingerprint"]
    assert (gan.score, gan.weight, gan.details["decoded_at"]) == (None, 0.0, "1/2")
    assert gan.summary.startswith("Not measurable: the photo is decoded at 1/2 scale")
    # ELA and noise still read the (reduced) picture, ELA at half weight as when resampled.
    assert findings["ela"].score is not None and findings["noise_residual"].score is not None
    assert findings["ela"].details["decoded_at"] == "1/2"
    assert findings["ela"].weight == WEIGHTS["ela"] / 2
    assert [e.name for e in report.evidence] == ["ela-heatmap"]
    # The working copy is the reduced picture, upright.
    assert findings["ela"].details["resampled_to"] == [400, 600]
    facts = MetadataAnalyzer().analyze(path).metadata
    assert (facts["resolution"], facts["format"]) == ("1200x800", "jpeg")


def test_jpeg_beyond_a_quarter_scale_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = sample(tmp_path, encode(natural(12, 800, 1200), "JPEG", quality=90), "huge.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50_000)  # 300x200 at 1/4 is still over
    with pytest.raises(AnalyzerFailed) as pixels:
        ImageForensicsAnalyzer().analyze(path)
    with pytest.raises(AnalyzerFailed) as metadata:
        MetadataAnalyzer().analyze(path)
    over = "1200x800 pixels, over the limit of 50000 even decoded at 1/4 scale"
    assert str(pixels.value) == f"image is too large to decode safely: {over}"
    assert str(metadata.value) == f"image is too large to analyse safely: {over}"


@pytest.mark.parametrize("progressive", [False, True], ids=["baseline", "progressive"])
def test_jpeg_within_the_bound_is_decoded_whole(tmp_path: Path, progressive: bool) -> None:
    data = encode(natural(13), "JPEG", quality=90, progressive=progressive)
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, data, "whole.jpg"))
    findings = {f.signal: f for f in report.findings}
    assert "decoded_at" not in findings["ela"].details
    assert findings["gan_fingerprint"].score is not None
    assert findings["ela"].weight == WEIGHTS["ela"]
    assert report.metadata["resolution"] == "512x384"


def test_progressive_jpeg_over_the_bound_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # libjpeg holds a progressive JPEG's full-size coefficients whatever the output scale:
    # such a photo cannot be decoded reduced within the bound.
    data = encode(natural(14, 800, 1200), "JPEG", quality=90, progressive=True)
    path = sample(tmp_path, data, "progressive.jpg")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300_000)
    with pytest.raises(AnalyzerFailed) as pixels:
        ImageForensicsAnalyzer().analyze(path)
    with pytest.raises(AnalyzerFailed) as metadata:
        MetadataAnalyzer().analyze(path)
    over = (
        "1200x800 pixels, over the limit of 300000 "
        "(a progressive or multi-scan JPEG cannot be decoded reduced)"
    )
    assert str(pixels.value) == f"image is too large to decode safely: {over}"
    assert str(metadata.value) == f"image is too large to analyse safely: {over}"


def test_a_reduced_rotated_photo_reports_its_upright_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 800x799 decodes at 1/2 to a square 400x400: the orientation tag, not the decoded
    # shape, says whether the picture was turned.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(natural(15, 799, 800), "JPEG", quality=90, exif=exif)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 300_000)
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, data, "square.jpg"))
    assert report.metadata["resolution"] == "799x800"
    assert {f.signal: f for f in report.findings}["ela"].details["decoded_at"] == "1/2"


@pytest.mark.parametrize("mode", ["RGB", "L", "P", "RGBA", "I;16", "CMYK"])
def test_strip_conversion_gives_pillow_s_own_rgb(mode: str) -> None:
    # Rows not a multiple of the strip, so the last strip is short.
    height = STRIP_ROWS * 2 + 37
    noise = np.random.default_rng(7).integers(0, 256, (height, 61, 3), dtype=np.uint8)
    picture = Image.fromarray(noise).convert(mode)
    converted = rgb_array(picture)
    assert converted.shape == (height, 61, 3)
    assert converted.dtype == np.uint8
    assert np.array_equal(converted, np.asarray(picture.convert("RGB")))


def test_which_jpegs_decode_in_one_pass(tmp_path: Path) -> None:
    rgb = natural(16, 64, 80)
    baseline = encode(rgb, "JPEG", quality=90)
    cases = {
        "baseline": baseline,
        "grey": encode(rgb[..., 0], "JPEG", quality=90),
        "progressive": encode(rgb, "JPEG", quality=90, progressive=True),
        "png": encode(rgb),
        "cut-in-headers": baseline[:100],
    }
    # Components in separate scans: the first scan holds one of the three.
    sos = baseline.index(b"\xff\xda")
    cases["multi-scan"] = baseline[: sos + 4] + b"\x01" + baseline[sos + 5 :]
    found = {}
    for name, data in cases.items():
        path = tmp_path / f"{name}.jpg"
        path.write_bytes(data)
        found[name] = decodes_in_one_pass(path)
    assert found == {
        "baseline": True,
        "grey": True,
        "progressive": False,
        "png": False,
        "cut-in-headers": False,
        "multi-scan": False,
    }


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: data[:20] + bytes(len(data) - 20),  # header kept, body zeroed
        lambda data: b"not an image at all" * 10,
    ],
    ids=["truncated", "zeroed", "garbage"],
)
def test_corrupt_image_fails_cleanly(tmp_path: Path, damage: Callable[[bytes], bytes]) -> None:
    data = encode(natural(11), "JPEG", quality=90)
    broken = sample(tmp_path, damage(data), "broken.jpg")
    with pytest.raises(AnalyzerFailed):
        ImageForensicsAnalyzer().analyze(broken)
    report = asyncio.run(ImageForensicsAnalyzer().run(broken))
    assert report.error is not None and report.findings == []


def test_a_stopping_process_s_thread_pool_is_no_analyzer_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # As for the engines: once the process stops, asyncio's pool refuses the analyzer's
    # thread. The report carries an error (the media runner, seeing the process stop,
    # leaves the scan to its lease) and the log a warning, with no traceback.
    from concurrent.futures import ThreadPoolExecutor

    path = sample(tmp_path, encode(natural(17), "JPEG", quality=90), "stop.jpg")

    async def in_a_stopping_loop() -> Any:
        pool = ThreadPoolExecutor(1)
        asyncio.get_running_loop().set_default_executor(pool)
        pool.shutdown()
        return await ImageForensicsAnalyzer().run(path)

    caplog.set_level("INFO", logger="veriscan.analyzers")
    report = asyncio.run(in_a_stopping_loop())
    assert report.error == "image_forensics failed (RuntimeError)"
    assert [r.getMessage().split(" ")[0] for r in caplog.records] == ["analyzers.refused"]
    assert not [r for r in caplog.records if r.exc_info]


def test_a_png_s_error_levels_are_not_called_jpeg_s(tmp_path: Path) -> None:
    data = encode(natural(0), "PNG")
    report = ImageForensicsAnalyzer().analyze(sample(tmp_path, data, "clean.png"))
    assert report.evidence[0].name == "ela-heatmap"
    assert report.evidence[0].caption == (
        "Error levels after one JPEG re-compression (PNG file, not a JPEG: an unedited "
        "picture shows an even texture)"
    )
