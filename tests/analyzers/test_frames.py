"""SharedFrames: one decoding pass over a video for several readers, each getting exactly
what `sample_frames` would give it alone; readers that wait for each other, are released,
fail together; and the pipeline setting the pass up for the analyzers that sample frames."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import av
import numpy as np
import pytest
from PIL import Image

from tests.analyzers.test_video import FPS, write_video
from veriscan.analyzers import frames as frames_module
from veriscan.analyzers.base import (
    Analyzer,
    AnalyzerFailed,
    Finding,
    MediaKind,
    MediaSample,
    Report,
)
from veriscan.analyzers.frames import Sampled, SharedFrames, frames_of, sample_frames
from veriscan.analyzers.pipeline import analyze_media
from veriscan.analyzers.video import VideoAnalyzer


def same(got: list[Sampled], alone: list[Sampled]) -> bool:
    def following(s: Sampled) -> bytes | None:
        return None if s.following is None else s.following.tobytes()

    return [(s.time, s.frame.tobytes(), following(s)) for s in got] == [
        (s.time, s.frame.tobytes(), following(s)) for s in alone
    ]


def read_all(frames: Iterator[Sampled], into: list[Sampled], pause: float = 0.0) -> None:
    for sampled in frames:
        into.append(sampled)
        time.sleep(pause)  # a reader that measures each frame before the next


def _together(shared: SharedFrames) -> dict[str, list[Sampled]]:
    got: dict[str, list[Sampled]] = {name: [] for name in shared.readers}
    threads = [
        threading.Thread(target=read_all, args=(shared.frames(name), got[name]), daemon=True)
        for name in got
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return got


def moving(tmp_path: Path, seconds: int = 4) -> Path:
    # One keyframe for the whole clip (x264's default GOP is 250 frames): every pass
    # decodes it from the start.
    return write_video(tmp_path / "moving.mp4", frames=FPS * seconds)


@pytest.mark.parametrize("pauses", [(0.0, 0.0), (0.02, 0.0), (0.0, 0.05)])
def test_each_reader_gets_the_frames_it_would_get_alone(
    tmp_path: Path, pauses: tuple[float, float]
) -> None:
    path = moving(tmp_path)
    shared = SharedFrames(path, {"forensics": 16, "detector": 8})
    got: dict[str, list[Sampled]] = {"forensics": [], "detector": []}
    threads = [
        threading.Thread(target=read_all, args=(shared.frames(name), got[name], pause), daemon=True)
        for name, pause in zip(got, pauses, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    alone_16, alone_8 = list(sample_frames(path, 16)), list(sample_frames(path, 8))
    assert (len(alone_16), len(alone_8)) == (16, 8)
    assert same(got["forensics"], alone_16)
    assert same(got["detector"], alone_8)


def test_a_reader_waits_for_a_late_one_at_most_lag_frames_ahead(tmp_path: Path) -> None:
    path = moving(tmp_path)
    shared = SharedFrames(path, {"forensics": 16, "detector": 8})
    early: list[Sampled] = []
    reader = threading.Thread(
        target=read_all, args=(shared.frames("forensics"), early), daemon=True
    )
    reader.start()
    reader.join(timeout=3)

    # The pass's targets in order are forensics, detector, forensics, forensics, detector...
    # With the detector not started, three of them are decoded: two are the early reader's.
    assert reader.is_alive()
    assert len(early) == 2

    late: list[Sampled] = []
    read_all(shared.frames("detector"), late)
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert same(early, list(sample_frames(path, 16)))
    assert same(late, list(sample_frames(path, 8)))


def test_a_released_reader_no_longer_holds_the_others_back(tmp_path: Path) -> None:
    path = moving(tmp_path)
    shared = SharedFrames(path, {"forensics": 16, "detector": 8})
    got: list[Sampled] = []
    reader = threading.Thread(target=read_all, args=(shared.frames("forensics"), got), daemon=True)
    reader.start()
    reader.join(timeout=3)
    assert reader.is_alive() and len(got) == 2

    shared.release("detector")  # its analyzer failed before reading, or timed out
    reader.join(timeout=60)
    assert not reader.is_alive()
    assert same(got, list(sample_frames(path, 16)))
    assert list(shared.frames("detector")) == []  # released: it reads nothing more


def test_a_reader_that_stops_early_releases_itself(tmp_path: Path) -> None:
    path = moving(tmp_path)
    shared = SharedFrames(path, {"forensics": 16, "detector": 8})
    frames = shared.frames("detector")
    first = next(frames)
    frames.close()  # as when its analyzer raises in the middle of its loop

    got = list(shared.frames("forensics"))
    assert same(got, list(sample_frames(path, 16)))
    assert same([first], list(sample_frames(path, 8))[:1])


def test_a_file_that_cannot_be_decoded_fails_every_reader(tmp_path: Path) -> None:
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.default_rng(3).bytes(50_000))
    shared = SharedFrames(path, {"forensics": 16, "detector": 8})
    errors: dict[str, str] = {}

    def read(name: str) -> None:
        try:
            list(shared.frames(name))
        except AnalyzerFailed as exc:
            errors[name] = str(exc)

    threads = [
        threading.Thread(target=read, args=(name,), daemon=True)
        for name in ("forensics", "detector")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(errors) == ["detector", "forensics"]
    assert all(message.startswith("cannot open video") for message in errors.values())


def test_animations_and_streams_without_a_duration_are_sampled_by_each_reader(
    tmp_path: Path,
) -> None:
    gif = tmp_path / "loop.gif"
    rng = np.random.default_rng(5)
    pictures = [Image.fromarray(rng.integers(0, 255, (60, 80, 3), np.uint8)) for _ in range(12)]
    pictures[0].save(gif, save_all=True, append_images=pictures[1:], duration=50, loop=0)
    raw = write_video(tmp_path / "raw.h264", container_format="h264")

    for path in (gif, raw):
        shared = SharedFrames(path, {"forensics": 16, "detector": 8})
        assert same(list(shared.frames("detector")), list(sample_frames(path, 8)))
        assert same(list(shared.frames("forensics")), list(sample_frames(path, 16)))
        assert len(list(sample_frames(path, 8))) == 8


class _Recorder(Analyzer):
    """Reads four frames of a video as an analyzer would, and says how it got them."""

    name: ClassVar[str] = "recorder"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.VIDEO})
    frame_samples: ClassVar[int] = 4

    def analyze(self, sample: MediaSample) -> Report:
        times = [round(s.time, 3) for s in frames_of(sample, self.name, self.frame_samples)]
        shared = sample.frames
        readers = None if shared is None else dict(sorted(shared.readers.items()))
        details = {"times": times, "readers": readers}
        return Report(self.name, findings=[Finding("recorded", None, 0.0, "", details)])


def test_the_pipeline_shares_one_pass_among_the_analyzers_that_sample_frames(
    tmp_path: Path,
) -> None:
    path = moving(tmp_path)
    video = MediaSample(path, MediaKind.VIDEO, "video/mp4", path.stat().st_size, "0" * 64)
    forensics = VideoAnalyzer()

    together = asyncio.run(analyze_media(video, [_Recorder(), forensics], soundtrack=[]))
    alone = forensics.analyze(video)

    recorded, shared_report = together.reports
    details = recorded.findings[0].details
    assert details["readers"] == {"recorder": 4, "video_forensics": 16}
    assert details["times"] == [round(s.time, 3) for s in sample_frames(path, 4)]
    assert shared_report.error is None
    assert [(f.signal, f.score, f.details) for f in shared_report.findings] == [
        (f.signal, f.score, f.details) for f in alone.findings
    ]

    # One analyzer that samples frames reads them on its own: nothing to share.
    [single] = asyncio.run(analyze_media(video, [_Recorder()], soundtrack=[])).reports
    assert single.findings[0].details["readers"] is None


class _Refuser(Analyzer):
    """Declares frames it never reads: its model is missing, say."""

    name: ClassVar[str] = "refuser"
    kinds: ClassVar[frozenset[MediaKind]] = frozenset({MediaKind.VIDEO})
    frame_samples: ClassVar[int] = 8

    def analyze(self, sample: MediaSample) -> Report:
        raise AnalyzerFailed("the learned detector is not available")


def test_an_analyzer_that_fails_before_reading_does_not_hold_the_others_back(
    tmp_path: Path,
) -> None:
    path = moving(tmp_path)
    video = MediaSample(path, MediaKind.VIDEO, "video/mp4", path.stat().st_size, "0" * 64)
    forensics = VideoAnalyzer()
    forensics.timeout = 30  # were it left waiting for the refuser, it would time out

    refused, report = asyncio.run(
        analyze_media(video, [_Refuser(), forensics], soundtrack=[])
    ).reports

    assert refused.error == "the learned detector is not available"
    assert report.error is None
    assert report.metadata["frames_sampled"] == 16


def _open_handles(path: Path) -> int:
    fds = Path("/proc/self/fd")
    count = 0
    for fd in fds.iterdir():
        try:
            count += fd.readlink() == path
        except OSError:  # closed meanwhile
            continue
    return count


def test_the_pass_holds_at_most_lag_frames_and_closes_the_file_at_its_end(tmp_path: Path) -> None:
    path = moving(tmp_path)
    shared = SharedFrames(path, {"forensics": 16, "detector": 8})
    held: list[int] = []

    def measure(frames: Iterator[Sampled]) -> None:
        for _ in frames:
            held.append(shared.held)

    slow = threading.Thread(
        target=read_all, args=(shared.frames("detector"), [], 0.05), daemon=True
    )
    slow.start()
    measure(shared.frames("forensics"))
    slow.join(timeout=60)

    assert len(held) == 16
    # The pass's targets go forensics, detector, forensics, forensics, detector... The slow
    # reader pauses after each of its own frames, so the fast one, LAG = 3 ahead at most,
    # finds the third frame to be the slow one's and waits: it sees two frames held.
    assert SharedFrames.LAG == 3
    assert max(held) == 2
    assert shared.held == 0
    assert _open_handles(path) == 0


def test_a_clip_too_short_to_share_is_read_by_each_reader_on_its_own(tmp_path: Path) -> None:
    path = write_video(tmp_path / "five.mp4", frames=5)
    got = _together(SharedFrames(path, {"forensics": 16, "detector": 8}))

    # Five frames for 16 and 8 samples: shared, the readers would take each other's frames.
    assert same(got["forensics"], list(sample_frames(path, 16)))
    assert same(got["detector"], list(sample_frames(path, 8)))
    assert [s.time for s in got["detector"]] == [0.0, 0.04, 0.08, 0.12, 0.16]


def test_an_error_in_the_middle_of_the_pass_reaches_every_reader(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = moving(tmp_path)
    converted = 0
    real_rgb = frames_module._rgb

    def failing_rgb(frame: av.VideoFrame) -> np.ndarray:
        nonlocal converted
        converted += 1
        if converted > 6:  # a decoder failing after three frames and their followers
            raise av.InvalidDataError(1094995529, "Invalid data found when processing input")
        return real_rgb(frame)

    monkeypatch.setattr(frames_module, "_rgb", failing_rgb)
    shared = SharedFrames(path, {"forensics": 16, "detector": 8})
    got: dict[str, list[Sampled]] = {"forensics": [], "detector": []}
    errors: dict[str, str] = {}

    def read(name: str) -> None:
        try:
            read_all(shared.frames(name), got[name])
        except av.FFmpegError as exc:  # as it was raised: the analyzers handle FFmpeg's errors
            errors[name] = type(exc).__name__

    threads = [threading.Thread(target=read, args=(name,), daemon=True) for name in got]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == {"forensics": "InvalidDataError", "detector": "InvalidDataError"}
    # The pass's first three targets: forensics, detector, forensics.
    assert (len(got["forensics"]), len(got["detector"])) == (2, 1)


def _encode(
    path: Path, seconds: float, rate: int, container: str | None = None, **options: str
) -> Path:
    from tests.analyzers.test_video import scene

    with av.open(str(path), "w", format=container) as out:
        video = out.add_stream("libx264", rate=rate, options=options)
        video.width, video.height, video.pix_fmt = 160, 120, "yuv420p"
        for i in range(int(seconds * rate)):
            picture = av.VideoFrame.from_ndarray(scene(i / rate), format="rgb24")
            for packet in video.encode(picture):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
    return path


def test_a_file_without_a_keyframe_index_is_read_by_each_reader_on_its_own(tmp_path: Path) -> None:
    # MPEG-TS lists no keyframes: a reader seeks by distance, and the union's closer
    # targets would seek elsewhere and give other frames.
    path = _encode(tmp_path / "long.ts", 100, FPS, "mpegts")
    got = _together(SharedFrames(path, {"forensics": 16, "detector": 8}))
    assert same(got["forensics"], list(sample_frames(path, 16)))
    assert same(got["detector"], list(sample_frames(path, 8)))


def test_the_decode_budget_costs_no_reader_a_sample(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long video with a keyframe every 2 s, under a budget it reaches: as a long 4K phone
    # video is (750 frames' budget), scaled down.
    monkeypatch.setattr(frames_module, "DECODE_BUDGET_PIXELS", 750 * 160 * 120)
    path = _encode(tmp_path / "phone.mp4", 180, 30, g="60", keyint_min="60", sc_threshold="0")
    alone = {"forensics": list(sample_frames(path, 16)), "detector": list(sample_frames(path, 8))}
    assert (len(alone["forensics"]), len(alone["detector"])) == (16, 8)  # within it alone

    # Its 24 targets need more decoding than either reader's 16 or 8: on one reader's
    # budget the pass stopped early and the forensics got 15 samples.
    got = _together(SharedFrames(path, {"forensics": 16, "detector": 8}))
    for name, frames in alone.items():
        assert same(got[name], frames), name
