"""The hostile media corpus and what Veriscan answers to each input, shared by the HTTP
tests and the direct analyzer tests.

An expectation is one of:
- `Refused`: the upload itself is answered with this error envelope;
- `Failed`: the scan ends FAILED and the metadata analyzer gives this reason (the scan's
  `error` is "The file could not be analysed: " + reason);
- `Analysed`: the scan COMPLETES with a verdict (or none: nothing measurable) and these
  metadata facts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.fixtures import hostile

FAILED_PREFIX = "The file could not be analysed: "
UNREADABLE = (
    "not a readable media file (corrupt or truncated): Invalid data found when processing input"
)
# Pillow's own words for a picture over twice its pixel limit: refused as it is opened.
BOMB = (
    "image is too large to analyse safely: Image size ({} pixels) exceeds limit of "
    "178956970 pixels, could be decompression bomb DOS attack."
)
# A JPEG is decoded reduced up to 1/4 scale (analyzers.pictures); beyond that it is refused.
JPEG_BOMB = (
    "image is too large to analyse safely: 65500x65500 pixels, over the limit of 89478485 "
    "even decoded at 1/4 scale"
)
TOO_MANY_FRAME_PIXELS = (
    "the video frames cannot be decoded: their size is unknown or over the limit of 67108864 pixels"
)


@dataclass(frozen=True)
class Refused:
    status: int
    code: str
    message: str


@dataclass(frozen=True)
class Failed:
    reason: str
    pattern: bool = False  # `reason` is a regular expression (for byte counts Pillow picks)

    def matches(self, text: str | None) -> bool:
        if text is None:
            return False
        if self.pattern:
            return re.fullmatch(self.reason, text) is not None
        return text == self.reason


# Which verdict a readable picture gets is the analyzers' judgement, not this corpus's:
# for those, a verdict must be reached, whichever it is.
VERDICT = "a verdict"
VERDICTS = ("DEEPFAKE", "SUSPICIOUS", "AUTHENTIC")


@dataclass(frozen=True)
class Analysed:
    kind: str
    verdict: str | None  # VERDICT, or exactly None when nothing in the file is measurable
    facts: dict[str, Any] = field(default_factory=dict)

    def verdict_matches(self, verdict: str | None) -> bool:
        if self.verdict == VERDICT:
            return verdict in VERDICTS
        return verdict == self.verdict


Expected = Refused | Failed | Analysed


# Safety bound on what any input of the corpus may add to the server's peak memory: the
# bombs are refused before anything is decoded. Before the fixes, the frame bomb alone
# took ~1 GB, a 384 kHz FLAC minute ~330 MB, a 1 MHz WAV ~900 MB.
RSS_BOUND_MB = 200


@dataclass(frozen=True)
class MediaCase:
    make: Callable[[], bytes]
    filename: str
    expected: Expected
    rss_bound_mb: int = RSS_BOUND_MB


def not_media(content_type: str) -> Refused:
    return Refused(
        400,
        "UNSUPPORTED_MEDIA",
        f"Not an image, video or audio file (the content is {content_type})",
    )


def _cut_jpeg(fraction: float) -> Callable[[], bytes]:
    return lambda: hostile.truncated_jpeg(fraction)


def _cut_png(fraction: float) -> Callable[[], bytes]:
    return lambda: hostile.truncated_png(fraction)


def _cut_mp4(fraction: float, faststart: bool = False) -> Callable[[], bytes]:
    return lambda: hostile.truncated_mp4(fraction, faststart=faststart)


def _cut_wav(fraction: float) -> Callable[[], bytes]:
    return lambda: hostile.truncated_wav(fraction)


PNG_TRUNCATED = Failed("image is corrupt or truncated: image file is truncated")
JPEG_TRUNCATED = Failed(
    r"image is corrupt or truncated: image file is truncated \(\d+ bytes not processed\)",
    pattern=True,
)

MEDIA_CASES = [
    # Truncated: cut in the header, in the middle, near the end.
    pytest.param(
        MediaCase(
            _cut_jpeg(0.01),
            "cut.jpg",
            Failed("image is corrupt or truncated: not a readable JPEG file"),
        ),
        id="jpeg-cut-1%",
    ),
    pytest.param(MediaCase(_cut_jpeg(0.5), "cut.jpg", JPEG_TRUNCATED), id="jpeg-cut-50%"),
    pytest.param(MediaCase(_cut_jpeg(0.9), "cut.jpg", JPEG_TRUNCATED), id="jpeg-cut-90%"),
    pytest.param(MediaCase(_cut_png(0.01), "cut.png", PNG_TRUNCATED), id="png-cut-1%"),
    pytest.param(MediaCase(_cut_png(0.5), "cut.png", PNG_TRUNCATED), id="png-cut-50%"),
    pytest.param(MediaCase(_cut_png(0.9), "cut.png", PNG_TRUNCATED), id="png-cut-90%"),
    # Index at the end: the cut takes it away.
    pytest.param(MediaCase(_cut_mp4(0.01), "cut.mp4", Failed(UNREADABLE)), id="mp4-cut-1%"),
    pytest.param(MediaCase(_cut_mp4(0.5), "cut.mp4", Failed(UNREADABLE)), id="mp4-cut-50%"),
    pytest.param(MediaCase(_cut_mp4(0.9), "cut.mp4", Failed(UNREADABLE)), id="mp4-cut-90%"),
    # Index first: it survives and declares more than the data holds.
    pytest.param(
        MediaCase(
            _cut_mp4(0.5, faststart=True),
            "cut.mp4",
            Failed(
                "file is truncated: its headers declare 1.00 s but the media data ends at 0.32 s"
            ),
        ),
        id="mp4-faststart-cut-50%",
    ),
    # 0.17 s missing, over the truncation check's slack of max(0.1 s, 1 %) (under the old
    # max(0.5 s, 2 %) this was analysed as whole). A cut at 95 % (0.04 s) still passes.
    pytest.param(
        MediaCase(
            _cut_mp4(0.85, faststart=True),
            "cut.mp4",
            Failed(
                "file is truncated: its headers declare 1.00 s but the media data ends at 0.83 s"
            ),
        ),
        id="mp4-faststart-cut-85%",
    ),
    # 1 % of the bytes missing: the last packets' data is gone, but the packets the
    # index lists still reach the end (the check demuxes, it does not read payloads).
    pytest.param(
        MediaCase(
            _cut_mp4(0.99, faststart=True),
            "cut.mp4",
            Analysed("VIDEO", VERDICT, {"duration": 1.0}),
        ),
        id="mp4-faststart-cut-99%",
    ),
    pytest.param(
        MediaCase(
            _cut_wav(0.01),
            "cut.wav",
            Failed(
                "file is truncated: the WAV header declares 32000 bytes of audio, 276 are present"
            ),
        ),
        id="wav-cut-1%",
    ),
    pytest.param(
        MediaCase(
            _cut_wav(0.5),
            "cut.wav",
            Failed(
                "file is truncated: the WAV header declares 32000 bytes of audio, 15978 are present"
            ),
        ),
        id="wav-cut-50%",
    ),
    pytest.param(
        MediaCase(
            _cut_wav(0.9),
            "cut.wav",
            Failed(
                "file is truncated: the WAV header declares 32000 bytes of audio, 28795 are present"
            ),
        ),
        id="wav-cut-90%",
    ),
    # Headers followed by garbage.
    pytest.param(
        MediaCase(
            hostile.png_header_then_garbage,
            "garbage.png",
            Failed("image is corrupt or truncated: not a readable PNG file"),
        ),
        id="png-header-then-garbage",
    ),
    pytest.param(
        MediaCase(hostile.jpeg_header_then_garbage, "garbage.jpg", Failed(UNREADABLE)),
        id="jpeg-header-then-garbage",
    ),
    # Decompression bombs and absurd dimensions.
    pytest.param(
        MediaCase(hostile.png_dimension_bomb, "bomb.png", Failed(BOMB.format(2_500_000_000))),
        id="png-50000x50000",
    ),
    # Below Pillow's pixel limit, so decoded like any 64-megapixel photo: bounded by the
    # limit, not by the 62 KB file. Measured peaks: image forensics 331 MB, the image
    # detector 366 MB, metadata 58 MB; 755 MB if all three peak at once (1,038 MB before
    # forensics converted in strips, which broke the old 1,024 MB bound).
    pytest.param(
        MediaCase(
            hostile.png_zlib_bomb,
            "zlib-bomb.png",
            Analysed("IMAGE", VERDICT, {"resolution": "8000x8000", "codec": "png"}),
            rss_bound_mb=900,
        ),
        id="png-zlib-bomb-8000x8000",
    ),
    pytest.param(
        MediaCase(
            hostile.png_idat_overflow,
            "overflow.png",
            Analysed("IMAGE", None, {"resolution": "16x16", "codec": "png"}),
        ),
        id="png-idat-overflow",
    ),
    pytest.param(
        MediaCase(hostile.gif_dimension_bomb, "bomb.gif", Failed(BOMB.format(4_294_836_225))),
        id="gif-65535x65535",
    ),
    pytest.param(
        MediaCase(hostile.tiff_dimension_bomb, "bomb.tif", Failed(BOMB.format(10_000_000_000))),
        id="tiff-100000x100000",
    ),
    pytest.param(
        MediaCase(hostile.jpeg_dimension_bomb, "bomb.jpg", Failed(JPEG_BOMB)),
        id="jpeg-65500x65500",
    ),
    pytest.param(
        MediaCase(
            hostile.progressive_jpeg_dimension_bomb,
            "progressive.jpg",
            Failed(
                "image is too large to analyse safely: 20000x15000 pixels, over the limit of "
                "89478485 (a progressive or multi-scan JPEG cannot be decoded reduced)"
            ),
        ),
        id="progressive-jpeg-20000x15000",
    ),
    # Lying WAV headers.
    pytest.param(
        MediaCase(
            hostile.wav_huge_data_size,
            "huge.wav",
            Failed(
                "file is truncated: the WAV header declares 4294967280 bytes of audio, "
                "32000 are present"
            ),
        ),
        id="wav-4GB-data-size",
    ),
    pytest.param(
        MediaCase(
            hostile.wav_zero_channels, "mute.wav", Failed("the audio stream declares no channels")
        ),
        id="wav-0-channels",
    ),
    pytest.param(
        MediaCase(hostile.wav_zero_sample_rate, "still.wav", Failed(UNREADABLE)),
        id="wav-0-Hz",
    ),
    pytest.param(
        MediaCase(
            hostile.wav_huge_sample_rate,
            "fast.wav",
            Failed("the audio stream declares 2147483647 Hz, above the 768000 Hz of any recording"),
        ),
        id="wav-2^31-1-Hz",
    ),
    pytest.param(
        MediaCase(
            lambda: hostile.wav_huge_sample_rate(999_983),
            "fast.wav",
            Failed("the audio stream declares 999983 Hz, above the 768000 Hz of any recording"),
        ),
        id="wav-999983-Hz",
    ),
    pytest.param(
        MediaCase(
            lambda: hostile.wav_huge_sample_rate(767_999),
            "odd.wav",
            Analysed("AUDIO", None, {"sampleRate": 767_999, "format": "wav"}),
        ),
        id="wav-767999-Hz",
    ),
    pytest.param(
        MediaCase(
            hostile.flac_high_rate_bomb,
            "silence.flac",
            Analysed("AUDIO", None, {"sampleRate": 384_000, "codec": "flac", "duration": 60.075}),
        ),
        id="flac-384kHz-minute",
    ),
    # Broken and lying containers.
    pytest.param(
        MediaCase(
            hostile.mp4_broken_moov, "moov.mp4", Failed("the file has no audio or video stream")
        ),
        id="mp4-broken-moov",
    ),
    pytest.param(
        MediaCase(
            hostile.mp4_huge_duration,
            "long.mp4",
            Analysed("VIDEO", VERDICT, {"duration": 1.0, "resolution": "160x120"}),
        ),
        id="mp4-headers-declare-24-days",
    ),
    pytest.param(
        MediaCase(hostile.mp4_huge_sample_count, "frames.mp4", Failed(UNREADABLE)),
        id="mp4-2^31-1-frames",
    ),
    pytest.param(
        MediaCase(
            hostile.mkv_huge_duration,
            "long.mkv",
            Failed(
                "file is truncated: its headers declare 1000000000000.00 s but the media data "
                "ends at 1.00 s"
            ),
        ),
        id="mkv-declares-31700-years",
    ),
    pytest.param(
        MediaCase(hostile.mov_frame_bomb, "frame-bomb.mov", Failed(TOO_MANY_FRAME_PIXELS)),
        id="mov-16000x16000-frame",
    ),
    pytest.param(
        MediaCase(
            lambda: hostile.mov_frame_bomb(declared=64),
            "lying-frame-bomb.mov",
            Failed(TOO_MANY_FRAME_PIXELS),
        ),
        id="mov-16000x16000-frame-declared-64x64",
    ),
    pytest.param(
        MediaCase(
            hostile.mkv_soundtrack_huge_rate,
            "soundtrack.mkv",
            Failed("the audio stream declares 2147483647 Hz, above the 768000 Hz of any recording"),
        ),
        id="mkv-soundtrack-2^31-1-Hz",
    ),
    # Not media at all, whatever the name says.
    pytest.param(
        MediaCase(hostile.zip_bomb, "bomb.zip", not_media("application/zip")), id="zip-bomb"
    ),
    pytest.param(
        MediaCase(hostile.nested_zip, "nested.zip", not_media("application/zip")),
        id="zip-in-zip-x50",
    ),
    pytest.param(
        MediaCase(hostile.nested_tar_gz, "nested.tar.gz", not_media("application/gzip")),
        id="tar-gz-in-tar-gz-x50",
    ),
    pytest.param(
        MediaCase(hostile.empty, "empty.jpg", Refused(400, "EMPTY_FILE", "The file is empty")),
        id="zero-length",
    ),
    pytest.param(
        MediaCase(
            hostile.windows_exe,
            "holiday.jpg",
            not_media("application/vnd.microsoft.portable-executable"),
        ),
        id="exe-named-jpg",
    ),
    pytest.param(
        MediaCase(hostile.text_document, "voice.wav", not_media("text/plain")), id="text-named-wav"
    ),
    # Media under the wrong name: the content decides.
    pytest.param(
        MediaCase(
            lambda: hostile.jpeg_photo(seed=5),
            "setup.exe",
            Analysed("IMAGE", VERDICT, {"codec": "jpeg", "resolution": "320x240"}),
        ),
        id="jpeg-named-exe",
    ),
    pytest.param(
        MediaCase(
            lambda: hostile.png_image(seed=6),
            "clip.mp4",
            Analysed("IMAGE", VERDICT, {"codec": "png", "resolution": "320x240"}),
        ),
        id="png-named-mp4",
    ),
    pytest.param(
        MediaCase(
            hostile.jpeg_zip_polyglot,
            "polyglot.jpg",
            Analysed("IMAGE", VERDICT, {"codec": "jpeg", "resolution": "320x240"}),
        ),
        id="jpeg-with-zip-appended",
    ),
]
