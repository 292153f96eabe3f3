"""MetadataAnalyzer on media the tests generate, with exact expected facts."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from PIL import Image

from tests.analyzers.fixtures import (
    KINDS,
    gps_exif,
    image_bytes,
    media_eval,
    media_sample,
    write_mp4,
    write_wav,
)
from veriscan.analyzers.base import AnalyzerFailed, MediaKind
from veriscan.analyzers.metadata import (
    METADATA_KEYS,
    MetadataAnalyzer,
    _parse_iso6709,
    _probe_av,
)

ANALYZER = MetadataAnalyzer()


def facts(path: Path, kind: MediaKind) -> dict[str, object]:
    report = ANALYZER.analyze(media_sample(path, kind))
    assert report.findings == []
    assert set(report.metadata) == set(METADATA_KEYS)
    return report.metadata


def test_mp4_with_aac_and_location(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "clip.mp4", location="+37.7749-122.4194/")

    meta = facts(path, MediaKind.VIDEO)

    assert meta["codec"] == "h264"
    assert meta["format"] == "mp4"
    assert meta["resolution"] == "320x240"
    assert meta["fps"] == 25
    assert isinstance(meta["duration"], float)
    assert abs(meta["duration"] - 2.0) <= 1 / 25
    assert isinstance(meta["bitrate"], str) and meta["bitrate"].isdigit()
    # The whole file's bits over its duration, as FFmpeg states it.
    assert int(meta["bitrate"]) == pytest.approx(path.stat().st_size * 8 / 2.0, rel=0.05)
    assert (meta["sampleRate"], meta["channels"], meta["audioCodec"]) == (44100, 1, "aac")
    assert meta["gpsCoordinates"] == {"latitude": 37.7749, "longitude": -122.4194}


def test_quicktime_iso6709_key(tmp_path: Path) -> None:
    path = write_mp4(
        tmp_path / "clip.mp4",
        audio=False,
        location="+48.8584+002.2945+035.000/",
        location_key="com.apple.quicktime.location.ISO6709",
    )

    meta = facts(path, MediaKind.VIDEO)

    assert meta["gpsCoordinates"] == {"latitude": 48.8584, "longitude": 2.2945}
    assert (meta["sampleRate"], meta["channels"], meta["audioCodec"]) == (None, None, None)


def test_video_without_location_has_no_gps(tmp_path: Path) -> None:
    meta = facts(write_mp4(tmp_path / "clip.mp4", seconds=1), MediaKind.VIDEO)

    assert meta["gpsCoordinates"] is None


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2)])
def test_wav(tmp_path: Path, rate: int, channels: int) -> None:
    path = write_wav(tmp_path / "tone.wav", seconds=1.5, rate=rate, channels=channels)

    meta = facts(path, MediaKind.AUDIO)

    assert meta["codec"] == "pcm_s16le"
    assert meta["format"] == "wav"
    assert meta["duration"] == 1.5
    assert meta["sampleRate"] == rate
    assert meta["channels"] == channels
    # The whole file's rate: 16-bit PCM plus the few header bytes.
    assert isinstance(meta["bitrate"], str)
    assert int(meta["bitrate"]) == pytest.approx(rate * channels * 16, rel=0.01)
    assert (meta["resolution"], meta["fps"], meta["gpsCoordinates"]) == (None, None, None)


def test_jpeg_with_exif_gps(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    path.write_bytes(image_bytes("JPEG", (640, 480), exif=gps_exif(-33.8568, 151.2153)))

    meta = facts(path, MediaKind.IMAGE)

    assert (meta["codec"], meta["format"], meta["resolution"]) == ("jpeg", "jpeg", "640x480")
    gps = meta["gpsCoordinates"]
    assert isinstance(gps, dict)
    assert round(gps["latitude"], 4) == -33.8568
    assert round(gps["longitude"], 4) == 151.2153
    # A still image has no duration, frame rate or bitrate: None, not a made-up number.
    assert (meta["duration"], meta["fps"], meta["bitrate"]) == (None, None, None)


def test_gps_without_reference_is_not_guessed(tmp_path: Path) -> None:
    exif = gps_exif(40.0, -3.5)
    del exif.get_ifd(0x8825)[3]  # longitude reference (E/W) gone: the sign is unknown
    path = tmp_path / "photo.jpg"
    path.write_bytes(image_bytes("JPEG", exif=exif))

    assert facts(path, MediaKind.IMAGE)["gpsCoordinates"] is None


def test_png_without_exif(tmp_path: Path) -> None:
    path = tmp_path / "picture.png"
    path.write_bytes(image_bytes("PNG", (33, 17)))

    meta = facts(path, MediaKind.IMAGE)

    assert (meta["codec"], meta["resolution"], meta["gpsCoordinates"]) == ("png", "33x17", None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+37.7749-122.4194/", (37.7749, -122.4194)),
        ("+40.7128-074.0060+010.500/", (40.7128, -74.006)),
        ("-33.8568+151.2153CRSWGS_84/", (-33.8568, 151.2153)),
        ("+4042.77-07400.36/", (40.712833, -74.006)),  # DDMM.MM, DDDMM.MM
        ("+404246.0-0740021.6/", (40.712778, -74.006)),  # DDMMSS, DDDMMSS
    ],
)
def test_iso6709_forms(text: str, expected: tuple[float, float]) -> None:
    point = _parse_iso6709(text)

    assert point is not None
    assert (point["latitude"], point["longitude"]) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("text", ["", "somewhere", "+95.0000+010.0000/", "+10.0+190.0/"])
def test_iso6709_rejects_nonsense(text: str) -> None:
    assert _parse_iso6709(text) is None


def _truncate(path: Path, fraction: float) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.mark.parametrize("faststart", [False, True], ids=["index-at-end", "index-first"])
def test_truncated_mp4_fails(tmp_path: Path, faststart: bool) -> None:
    # Cut before the index, FFmpeg cannot open the file; with the index first it opens and
    # declares 2 s, but the media data stops early.
    path = _truncate(write_mp4(tmp_path / "clip.mp4", faststart=faststart), 0.6)

    with pytest.raises(AnalyzerFailed, match="truncated"):
        ANALYZER.analyze(media_sample(path, MediaKind.VIDEO))


@pytest.mark.parametrize(
    ("seconds", "fraction", "end"), [(2, 0.9, "1.80"), (10, 0.97, "9.72")], ids=["2s", "10s"]
)
def test_faststart_mp4_cut_near_its_end_fails(
    tmp_path: Path, seconds: int, fraction: float, end: str
) -> None:
    # The index is whole and declares the full length; the packets stop 0.2 s and 0.28 s
    # early, over the slack of max(0.1 s, 1 %) (it was max(0.5 s, 2 %): both passed).
    clip = write_mp4(tmp_path / "clip.mp4", seconds=seconds, faststart=True)
    path = _truncate(clip, fraction)

    with pytest.raises(AnalyzerFailed) as failed:
        ANALYZER.analyze(media_sample(path, MediaKind.VIDEO))
    assert str(failed.value) == (
        f"file is truncated: its headers declare {seconds:.2f} s but the media data ends at {end} s"
    )


def test_complete_faststart_mp4_passes_the_end_check(tmp_path: Path) -> None:
    path = write_mp4(tmp_path / "clip.mp4", faststart=True)

    assert facts(path, MediaKind.VIDEO)["duration"] == 2.0


def test_truncated_wav_fails(tmp_path: Path) -> None:
    path = _truncate(write_wav(tmp_path / "tone.wav", seconds=2, rate=16000), 0.5)

    with pytest.raises(AnalyzerFailed, match="truncated"):
        ANALYZER.analyze(media_sample(path, MediaKind.AUDIO))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_image_fails(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "picture"
    path.write_bytes(image_bytes(fmt, (256, 256))[:3000])

    with pytest.raises(AnalyzerFailed, match="corrupt or truncated"):
        ANALYZER.analyze(media_sample(path, MediaKind.IMAGE))


@pytest.mark.parametrize("kind", list(MediaKind))
@pytest.mark.parametrize("content", [b"", b"\x00\x00\x00\x18ftypisom" + bytes(range(256)) * 8])
def test_garbage_fails(tmp_path: Path, kind: MediaKind, content: bytes) -> None:
    path = tmp_path / "garbage"
    path.write_bytes(content)

    with pytest.raises(AnalyzerFailed):
        ANALYZER.analyze(media_sample(path, kind))


def test_run_reports_the_failure_instead_of_raising(tmp_path: Path) -> None:
    path = _truncate(write_mp4(tmp_path / "clip.mp4", seconds=1), 0.5)

    report = asyncio.run(ANALYZER.run(media_sample(path, MediaKind.VIDEO)))

    assert report.error is not None and "truncated" in report.error
    assert report.metadata == {}


def test_shared_set_reads_without_false_failures() -> None:
    """Every file of the evaluation set is a complete, readable file: none may be refused,
    and the facts the set documents come out right."""
    root = media_eval()
    with (root / "manifest.csv").open(newline="") as manifest:
        rows = list(csv.DictReader(manifest))
    by_file = {}
    for row in rows:
        path = root / row["file"]
        by_file[row["file"]] = facts(path, KINDS[row["modality"]])

    nikon = by_file["image/real/c2pa-testfiles_nikon-20221019-building.jpeg"]
    assert nikon["resolution"] == "4128x2752"  # an MPO, read as the JPEG it is
    assert nikon["gpsCoordinates"] is not None
    video = by_file["provenance/valid/c2pa-rs_video1.mp4"]
    assert (video["codec"], video["fps"], video["duration"]) == ("h264", 30, 2.0)
    mp3 = by_file["provenance/none/c2pa-rs_sample1.mp3"]
    assert (mp3["codec"], mp3["sampleRate"], mp3["channels"]) == ("mp3", 44100, 2)
    heic = by_file["provenance/none/c2pa-rs_sample1.heic"]  # read through pillow-heif
    assert (heic["format"], heic["resolution"]) == ("heic", "8736x5856")


def test_images_probed_by_ffmpeg_get_no_video_facts(tmp_path: Path) -> None:
    # Pictures Pillow cannot read (HEIC) go to FFmpeg, whose image demuxers describe a still
    # picture as 25 fps lasting 0.04 s: those numbers must not leak into the facts.
    path = tmp_path / "picture.jpg"
    path.write_bytes(image_bytes("JPEG", (80, 60)))

    meta = _probe_av(path, MediaKind.IMAGE)

    assert (meta["codec"], meta["resolution"]) == ("mjpeg", "80x60")
    assert (meta["duration"], meta["fps"], meta["bitrate"]) == (None, None, None)


def _animation(path: Path, fmt: str, durations: list[int]) -> Path:
    from PIL import Image

    frames = [
        Image.new("RGB", (48, 32), (40 * i, 100, 200 - 20 * i)) for i in range(len(durations))
    ]
    lossless = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(
        path, fmt, save_all=True, append_images=frames[1:], duration=durations, loop=0, **lossless
    )
    return path


@pytest.mark.parametrize(
    ("name", "fmt", "codec", "container"),
    [
        ("a.gif", "GIF", "gif", "gif"),
        ("a.webp", "WEBP", "webp", "webp"),
        ("a.png", "PNG", "apng", "png"),
    ],
)
def test_animations_are_videos(
    tmp_path: Path, name: str, fmt: str, codec: str, container: str
) -> None:
    from veriscan.analyzers.animation import sampled_frames
    from veriscan.media.service import media_kind

    # Six frames shown 100, 100, 200, 200, 200 and 200 ms: 1 s in all, 6 fps.
    path = _animation(tmp_path / name, fmt, [100, 100, 200, 200, 200, 200])

    assert media_kind(path, f"image/{container}") is MediaKind.VIDEO
    meta = facts(path, MediaKind.VIDEO)
    assert (meta["codec"], meta["format"], meta["resolution"]) == (codec, container, "48x32")
    assert (meta["duration"], meta["fps"], meta["sampleRate"]) == (1.0, 6.0, None)
    # Three samples of six frames: frames 1, 3 and 5, starting at 0.1, 0.4 and 0.8 s.
    sampled = list(sampled_frames(path, 3))
    assert [round(time, 3) for time, _, _ in sampled] == [0.1, 0.4, 0.8]
    assert [tuple(frame[0, 0]) for _, frame, _ in sampled] == [
        (40, 100, 180),
        (120, 100, 140),
        (200, 100, 100),
    ]
    assert sampled[-1][2] is None  # the last frame has none after it


def test_a_single_frame_gif_is_a_still(tmp_path: Path) -> None:
    from veriscan.media.service import media_kind

    path = _animation(tmp_path / "still.gif", "GIF", [100])
    assert media_kind(path, "image/gif") is MediaKind.IMAGE


def test_heic_is_read_by_pillow_heif(tmp_path: Path) -> None:
    import numpy as np
    import pillow_heif  # noqa: F401  (registered by analyzers.pictures)
    from PIL import Image

    path = tmp_path / "IMG_0001.HEIC"
    pixels = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path, "HEIF", quality=80)

    meta = facts(path, MediaKind.IMAGE)

    assert (meta["format"], meta["resolution"], meta["duration"]) == ("heic", "160x120", None)


def test_an_animation_too_large_to_walk_is_refused_at_once(tmp_path: Path) -> None:
    # 251 one-pixel frames on a 2000x2000 canvas: 5.8 KB, but reaching the last frame
    # composes every one on the whole canvas (1.004 gigapixel-frames, over the budget).
    import struct

    from veriscan.media.service import media_kind

    data = b"GIF89a" + struct.pack("<HHBBB", 2000, 2000, 0x80, 0, 0) + b"\0\0\0\xff\xff\xff"
    for _ in range(251):
        data += b"\x21\xf9\x04\x00" + struct.pack("<H", 10) + b"\x00\x00"
        data += b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    path = tmp_path / "many.gif"
    path.write_bytes(data + b"\x3b")

    assert media_kind(path, "image/gif") is MediaKind.VIDEO
    with pytest.raises(
        AnalyzerFailed, match="too large to analyse safely: 251 frames of 2000x2000"
    ):
        ANALYZER.analyze(media_sample(path, MediaKind.VIDEO))


def test_a_truncated_animation_fails_with_its_reason(tmp_path: Path) -> None:
    from veriscan.analyzers.detectors import VideoDetector
    from veriscan.analyzers.video import VideoAnalyzer

    path = _animation(tmp_path / "a.gif", "GIF", [100, 100, 100, 100])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])  # cut inside the third frame's pixels

    for analyzer in (VideoAnalyzer(), VideoDetector()):
        report = asyncio.run(analyzer.run(media_sample(path, MediaKind.VIDEO)))
        assert report.error is not None
        assert report.error.startswith("animation is corrupt or truncated: image file is truncated")


def test_a_pictures_camera_from_exif(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Fujifilm"
    exif[0x0110] = "X-T5"
    exif[0x0131] = "Adobe Lightroom 7.1"
    exif[0x0132] = "2026:11:30 10:00:00"  # when the file was changed
    exif.get_ifd(0x8769).update({0x9003: "2026:11:29 08:15:02", 0xA434: "XF23mmF1.4 R LM WR"})
    path = tmp_path / "camera.jpg"
    path.write_bytes(image_bytes("JPEG", (64, 48), exif=exif))

    assert facts(path, MediaKind.IMAGE)["camera"] == {
        "make": "Fujifilm",
        "model": "X-T5",
        "software": "Adobe Lightroom 7.1",
        "captured": "2026:11:29 08:15:02",  # the original capture, not the change
        "lens": "XF23mmF1.4 R LM WR",
    }
    bare = tmp_path / "bare.png"
    bare.write_bytes(image_bytes("PNG"))
    assert facts(bare, MediaKind.IMAGE)["camera"] is None
