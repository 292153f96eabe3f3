"""The hostile media corpus straight through the analyzer pipeline (no HTTP, no queue):
every analyzer returns a report, none crashes, the metadata analyzer gives the reason the
scan would fail with, before a deadline and in bounded memory. Then one test per limit
the corpus found missing."""

from __future__ import annotations

import asyncio
import hashlib
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.fixtures import hostile
from tests.hostile.corpus import MEDIA_CASES, Analysed, Failed, MediaCase, Refused
from tests.hostile.helpers import peak_rss
from veriscan.analyzers.audio import AudioAnalyzer, decode_audio
from veriscan.analyzers.base import Analyzer, AnalyzerFailed, MediaKind, MediaSample
from veriscan.analyzers.image import ImageForensicsAnalyzer, load_image
from veriscan.analyzers.metadata import MetadataAnalyzer
from veriscan.analyzers.pipeline import MediaAnalysis, analyze_media
from veriscan.analyzers.registry import build_analyzers
from veriscan.analyzers.video import VideoAnalyzer, extract_audio
from veriscan.core.sniff import mime_type_of
from veriscan.media.service import media_kind
from veriscan.uploads import HEAD_BYTES

DEADLINE_SECONDS = 60.0
# What the base class reports when an analyzer raised something other than AnalyzerFailed.
CRASHED = re.compile(r"\w+ failed \(\w+\)")
# Safety bound for the single-purpose checks below (one decoder, one file).
SMALL_RSS_BOUND_MB = 100


@pytest.fixture(scope="module")
def analyzers(settings_factory: Callable[..., Any]) -> list[Analyzer]:
    return build_analyzers(settings_factory())


def sample_of(path: Path, kind: MediaKind | None = None) -> MediaSample:
    """The sample the service would build: kind and type from the content, as on upload."""
    data = path.read_bytes()
    mime = mime_type_of(data[:HEAD_BYTES])
    found = kind or media_kind(path, mime)
    assert found is not None, mime
    return MediaSample(path, found, mime, len(data), hashlib.sha256(data).hexdigest())


def analyse(sample: MediaSample, analyzers: list[Analyzer]) -> MediaAnalysis:
    return asyncio.run(asyncio.wait_for(analyze_media(sample, analyzers), DEADLINE_SECONDS))


@pytest.mark.parametrize("case", MEDIA_CASES)
def test_hostile_media_through_the_analyzers(
    tmp_path: Path, analyzers: list[Analyzer], case: MediaCase
) -> None:
    # Named as in the blob store, by content alone: FFmpeg reads a name's extension as a
    # hint, and uploads never reach the analyzers under their own names.
    path = hostile.write(tmp_path / "sample", case.make())
    expected = case.expected
    if isinstance(expected, Refused):
        data = path.read_bytes()
        assert media_kind(path, mime_type_of(data[:HEAD_BYTES])) is None
        return
    sample = sample_of(path)
    with peak_rss() as memory:
        analysis = analyse(sample, analyzers)
    assert memory.growth_mb < case.rss_bound_mb, f"peak growth {memory.growth_mb:.0f} MB"
    errors = {report.analyzer: report.error for report in analysis.reports}
    assert not [e for e in errors.values() if e and CRASHED.fullmatch(e)], errors
    # Users read every analyzer's reason: none names the blob's path (or its name).
    assert not [e for e in errors.values() if e and path.name in e], errors
    reason = errors["metadata"]
    if isinstance(expected, Failed):
        assert expected.matches(reason), reason
        assert str(path) not in reason  # users see it: no server paths in it
        return
    assert isinstance(expected, Analysed)
    assert sample.kind.value == expected.kind
    assert reason is None
    verdict = analysis.fused.verdict
    assert expected.verdict_matches(verdict.value if verdict else None), verdict
    for key, value in expected.facts.items():
        assert analysis.metadata[key] == value, (key, analysis.metadata)


def test_an_image_over_the_pixel_limit_is_refused_even_when_pillow_only_warns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 40x40 = 1600 pixels: over this limit, under twice it, where Pillow only warns. In
    # production warnings are not errors, and such a picture used to be decoded whole
    # (at the real limit, 89 to 179 megapixels: ~2 GB across the analyzers).
    path = hostile.write(tmp_path / "warn.png", hostile.png_image((40, 40)))
    sample = sample_of(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(AnalyzerFailed) as metadata:
            MetadataAnalyzer().analyze(sample)
        with pytest.raises(AnalyzerFailed) as pixels:
            ImageForensicsAnalyzer().analyze(sample)
    assert str(metadata.value) == (
        "image is too large to analyse safely: 40x40 pixels, over the limit of 1000"
    )
    assert str(pixels.value) == (
        "image is too large to decode safely: 40x40 pixels, over the limit of 1000"
    )
    # Where the warning is an error (as under pytest), the metadata analyzer refuses the
    # picture too, rather than crash on an exception it did not expect.
    report = asyncio.run(MetadataAnalyzer().run(sample))
    assert report.error == (
        "image is too large to analyse safely: Image size (1600 pixels) exceeds limit of "
        "1000 pixels, could be decompression bomb DOS attack."
    )


def test_video_frames_over_the_bound_are_never_decoded(tmp_path: Path) -> None:
    # The track says 64x64; the one frame is a 16000x16000 PNG (256 MB grey, 768 MB RGB).
    path = hostile.write(tmp_path / "lying.mov", hostile.mov_frame_bomb(declared=64))
    sample = sample_of(path, MediaKind.VIDEO)
    with peak_rss() as memory:
        kind = media_kind(path, "video/quicktime")  # the upload's probe
        report = VideoAnalyzer().analyze(sample)
    assert kind is MediaKind.VIDEO
    assert report.metadata["frames_sampled"] == 0
    assert {f.signal: f.score for f in report.findings} == {
        "video_frames": None,
        "temporal_consistency": None,
    }
    assert memory.growth_mb < SMALL_RSS_BOUND_MB, f"peak growth {memory.growth_mb:.0f} MB"


def test_audio_is_decoded_at_48_khz_at_most(tmp_path: Path) -> None:
    path = hostile.write(tmp_path / "minute.flac", hostile.flac_high_rate_bomb())
    with peak_rss() as memory:
        decoded = decode_audio(path, max_seconds=60.0)
        report = AudioAnalyzer().analyze(sample_of(path))
    assert (decoded.rate, decoded.native_rate) == (48_000, 384_000)
    assert decoded.samples.size == 60 * 48_000
    assert report.metadata["sampleRate"] == 384_000  # the file's own rate is what is reported
    assert report.findings[0].details["native_rate"] == 384_000
    assert report.findings[0].summary == "The audio is silent, so there is no voice to check."
    assert memory.growth_mb < SMALL_RSS_BOUND_MB, f"peak growth {memory.growth_mb:.0f} MB"


def test_an_odd_rate_below_the_cap_is_resampled_cheaply(tmp_path: Path) -> None:
    # 767999 Hz has no common factor with 16 kHz: resampled as it is, it asked scipy for a
    # 15-million-tap filter (about 1 GB and seconds of work for one second of audio).
    path = hostile.write(tmp_path / "odd.wav", hostile.wav_huge_sample_rate(767_999))
    with peak_rss() as memory:
        report = asyncio.run(AudioAnalyzer().run(sample_of(path)))
    assert report.error is None
    assert report.metadata["sampleRate"] == 767_999
    assert memory.growth_mb < SMALL_RSS_BOUND_MB, f"peak growth {memory.growth_mb:.0f} MB"


@pytest.mark.parametrize("rate", [999_983, 2_147_483_647])
def test_absurd_sample_rates_are_refused_before_any_resampling(tmp_path: Path, rate: int) -> None:
    path = hostile.write(tmp_path / "fast.wav", hostile.wav_huge_sample_rate(rate))
    with pytest.raises(AnalyzerFailed) as refused:
        decode_audio(path)
    assert str(refused.value) == (
        f"the audio stream declares {rate} Hz, above the 768000 Hz of any recording"
    )


def test_a_soundtrack_at_an_absurd_rate_is_refused(
    tmp_path: Path, analyzers: list[Analyzer]
) -> None:
    path = hostile.write(tmp_path / "soundtrack.mkv", hostile.mkv_soundtrack_huge_rate())
    with pytest.raises(AnalyzerFailed, match=r"^the soundtrack declares 2147483647 Hz$"):
        extract_audio(path, tmp_path / "out.wav", 60.0)
    analysis = analyse(sample_of(path), analyzers)
    errors = {report.analyzer: report.error for report in analysis.reports}
    assert (
        errors["audio"] == "the soundtrack cannot be read (the soundtrack declares 2147483647 Hz)"
    )
    assert errors["video_forensics"] is None  # the pictures are still analysed


def test_a_picture_is_converted_to_rgb_without_the_intermediate_copies(tmp_path: Path) -> None:
    # The 64-megapixel greyscale PNG: its pixels (64 MB) and the RGB array (192 MB) are all
    # the decoding may hold; Pillow's RGB copy and its exported bytes on top of them took
    # 672 MB (measured 253-260 MB with `pictures.rgb_array`).
    path = hostile.write(tmp_path / "sample", hostile.png_zlib_bomb())
    load_image(hostile.write(tmp_path / "warm", hostile.png_idat_overflow()))  # first use
    with peak_rss() as memory:
        decoded = load_image(path)
    assert decoded.rgb.shape == (8000, 8000, 3)
    assert memory.growth_mb < 400, f"peak growth {memory.growth_mb:.0f} MB"
