"""VideoAnalyzer and extract_audio on clips encoded here with PyAV: moving shapes, a clip
whose alternate frames swap content, a raw stream without a duration, an init segment
without frames, an audio-only file and damaged files."""

from __future__ import annotations

import asyncio
import io
import wave
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from veriscan.analyzers.base import AnalyzerFailed, Finding, MediaKind, MediaSample, Report
from veriscan.analyzers.video import VideoAnalyzer, extract_audio

FPS = 25
SECONDS = 3


def scene(t: float, variant: int = 0) -> np.ndarray:
    """A 160x120 frame at time t: shaded background, a disc and a box moving steadily."""
    rng = np.random.default_rng(int(t * 1000) + 7919 * variant)
    x = np.arange(160)
    frame = np.repeat(np.repeat((60 + 80 * x / 160)[None, :, None], 120, axis=0), 3, axis=2)
    frame = np.ascontiguousarray(frame.astype(np.uint8))
    centre = int(20 + 40 * t) if variant == 0 else int(140 - 40 * t)
    colour = (220, 60, 40) if variant == 0 else (40, 200, 220)
    cv2.circle(frame, (centre, 60 if variant == 0 else 40), 18, colour, -1)
    cv2.rectangle(frame, (30, 20 + int(20 * t)), (60, 45 + int(20 * t)), (30, 120, 230), -1)
    return np.clip(frame + rng.normal(0, 3, frame.shape), 0, 255).astype(np.uint8)


def write_video(
    path: Path,
    frame_at: Callable[[int], np.ndarray] | None = None,
    *,
    frames: int = FPS * SECONDS,
    container_format: str | None = None,
    options: dict[str, str] | None = None,
    audio_hz: float | None = None,
) -> Path:
    frame_at = frame_at or (lambda i: scene(i / FPS))
    with av.open(str(path), "w", format=container_format, options=options or {}) as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        sound = out.add_stream("aac", rate=44_100, layout="stereo") if audio_hz else None
        for i in range(frames):
            picture = av.VideoFrame.from_ndarray(frame_at(i), format="rgb24")
            for packet in video.encode(picture):
                out.mux(packet)
        if sound is not None and audio_hz is not None:
            _write_tone(out, sound, audio_hz, frames / FPS)
        for packet in video.encode():
            out.mux(packet)
    return path


def _write_tone(
    out: av.container.OutputContainer, sound: av.AudioStream, hz: float, seconds: float
) -> None:
    rate, block = 44_100, 1024
    total = int(rate * seconds)
    for start in range(0, total, block):
        t = (np.arange(start, min(start + block, total)) / rate).astype(np.float32)
        tone = (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([tone, tone]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        for packet in sound.encode(frame):
            out.mux(packet)
    for packet in sound.encode():
        out.mux(packet)


def sample(path: Path) -> MediaSample:
    return MediaSample(path, MediaKind.VIDEO, "video/mp4", path.stat().st_size, "0" * 64)


def findings(report: Report) -> dict[str, Finding]:
    return {f.signal: f for f in report.findings}


def test_frames_are_sampled_across_the_whole_duration(tmp_path: Path) -> None:
    report = VideoAnalyzer().analyze(sample(write_video(tmp_path / "moving.mp4")))

    assert report.error is None
    assert [f.signal for f in report.findings] == ["video_frames", "temporal_consistency"]
    frames = findings(report)["video_frames"]
    times = [frame["time"] for frame in frames.details["per_frame"]]
    assert len(times) == 16 and times == sorted(times) and len(set(times)) == 16
    assert times[0] < 0.25 and times[-1] > SECONDS - 0.25
    gaps = np.diff(times)
    assert gaps.min() > 0.1 and gaps.max() < 0.3  # evenly spread, not bunched at keyframes
    assert report.metadata["frames_sampled"] == 16
    assert report.metadata["resolution"] == "160x120"
    assert report.metadata["codec"] == "h264"
    assert report.metadata["fps"] == FPS
    assert report.metadata["duration"] == pytest.approx(SECONDS, abs=0.1)
    assert report.metadata["has_audio"] is False
    score = frames.score
    assert score is not None and 0.0 <= score <= 1.0


def test_swapped_content_is_less_consistent_than_steady_motion(tmp_path: Path) -> None:
    steady = write_video(tmp_path / "steady.mp4")
    swapped = write_video(tmp_path / "swapped.mp4", lambda i: scene(i / FPS, i % 2))

    steady_t = findings(VideoAnalyzer().analyze(sample(steady)))["temporal_consistency"]
    swapped_t = findings(VideoAnalyzer().analyze(sample(swapped)))["temporal_consistency"]

    assert steady_t.score is not None and steady_t.score < 0.2
    assert swapped_t.score is not None and swapped_t.score > 0.8
    for finding in (steady_t, swapped_t):
        assert finding.details["pairs"] == 16
        consistency = finding.details["consistency"]
        assert consistency == pytest.approx(1 - (finding.score or 0.0), abs=1e-3)


def test_contact_sheet_shows_the_sampled_frames(tmp_path: Path) -> None:
    report = VideoAnalyzer().analyze(sample(write_video(tmp_path / "sheet.mp4")))
    assert [e.name for e in report.evidence] == ["frames"]
    sheet = Image.open(io.BytesIO(report.evidence[0].png))
    assert sheet.format == "PNG"
    # 16 thumbnails of 160x120 (already under the thumbnail size) in a 4x4 grid.
    assert sheet.size == (4 * 164, 4 * 124)
    # Each time is written white on a black label, readable on any frame: the label's
    # corner is black, and its text holds white pixels.
    pixels = np.asarray(sheet.convert("RGB"))
    assert tuple(pixels[3, 3]) == (0, 0, 0)
    label = pixels[2:20, 2:44]
    assert (label.min(axis=2) > 200).any() and (label.max(axis=2) < 30).mean() > 0.5


def test_display_rotation_is_applied_to_sampled_frames(tmp_path: Path) -> None:
    path = tmp_path / "phone.mp4"
    with av.open(str(path), "w") as out:
        video = out.add_stream("libx264", rate=FPS)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        video.set_display_rotation(90)  # stored landscape, shown portrait
        for i in range(FPS):
            for packet in video.encode(av.VideoFrame.from_ndarray(scene(i / FPS), "rgb24")):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    report = VideoAnalyzer().analyze(sample(path))
    sheet = Image.open(io.BytesIO(report.evidence[0].png))
    assert sheet.size == (4 * 124, 4 * 164)  # upright 120x160 thumbnails


def test_single_frame_has_no_temporal_score(tmp_path: Path) -> None:
    report = VideoAnalyzer().analyze(sample(write_video(tmp_path / "still.mp4", frames=1)))
    found = findings(report)
    assert found["video_frames"].score is not None
    assert found["temporal_consistency"].score is None
    assert found["temporal_consistency"].details["pairs"] == 0


def test_stream_without_duration_is_sampled_sequentially(tmp_path: Path) -> None:
    raw = write_video(tmp_path / "raw.h264", container_format="h264")
    report = VideoAnalyzer().analyze(sample(raw))
    assert "duration" not in report.metadata
    times = [f["time"] for f in findings(report)["video_frames"].details["per_frame"]]
    assert len(times) == 16 and times[0] < 0.25 and times[-1] > SECONDS - 0.25


def test_init_segment_without_frames_scores_nothing(tmp_path: Path) -> None:
    fragmented = write_video(
        tmp_path / "fragmented.mp4",
        options={"movflags": "frag_keyframe+empty_moov+default_base_moof"},
    )
    data = fragmented.read_bytes()
    init = tmp_path / "init.mp4"
    init.write_bytes(data[: data.index(b"moof") - 4])  # the header boxes, no media

    report = VideoAnalyzer().analyze(sample(init))
    assert report.error is None
    assert report.metadata["frames_sampled"] == 0
    assert report.evidence == []
    for finding in report.findings:
        assert finding.score is None and finding.weight == 0.0


def test_audio_only_file_scores_nothing_and_keeps_its_audio(tmp_path: Path) -> None:
    path = tmp_path / "voice.m4a"
    with av.open(str(path), "w") as out:
        _write_tone(out, out.add_stream("aac", rate=44_100, layout="stereo"), 440.0, 1.0)
    report = VideoAnalyzer().analyze(sample(path))
    assert report.metadata["has_audio"] is True
    assert [f.score for f in report.findings] == [None, None]
    assert extract_audio(path, tmp_path / "voice.wav", max_seconds=5.0) is True


def test_extract_audio_writes_bounded_mono_16k(tmp_path: Path) -> None:
    video = write_video(tmp_path / "talk.mp4", audio_hz=440.0)
    out = tmp_path / "talk.wav"

    assert extract_audio(video, out, max_seconds=2.0) is True
    with wave.open(str(out), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
        assert wav.getnframes() == 32_000  # the clip is 3 s; the bound is 2 s
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(pcm * np.hanning(len(pcm))))
    assert np.fft.rfftfreq(len(pcm), 1 / 16_000)[spectrum.argmax()] == pytest.approx(440, abs=2)


def test_extract_audio_without_audio_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "silent.wav"
    assert extract_audio(write_video(tmp_path / "mute.mp4"), out, max_seconds=2.0) is False
    assert not out.exists()


@pytest.mark.parametrize("keep", [0.5, 0.0])
def test_damaged_video_fails_cleanly(tmp_path: Path, keep: float) -> None:
    data = write_video(tmp_path / "whole.mp4").read_bytes()
    broken = tmp_path / "broken.mp4"
    # Cut in half (the index box comes last, so nothing is playable) or pure garbage.
    broken.write_bytes(data[: int(len(data) * keep)] or b"\x00garbage" * 64)
    with pytest.raises(AnalyzerFailed):
        VideoAnalyzer().analyze(sample(broken))
    report = asyncio.run(VideoAnalyzer().run(sample(broken)))
    assert report.error is not None and report.findings == []
    with pytest.raises(AnalyzerFailed):
        extract_audio(broken, tmp_path / "out.wav", max_seconds=1.0)
