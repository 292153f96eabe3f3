"""Frames sampled across a whole video, decoded one at a time with PyAV.

`sample_frames` gives up to n frames at evenly spaced times, each with the frame right
after it (for motion checks), seeking only when a keyframe lies ahead of the next target,
so a long GOP is decoded once rather than once per sample. Animated GIF, WebP and APNG go
through `animation` instead. Decoding is bounded by pixels (`DECODE_BUDGET_PIXELS`), and
the frames' size by the decoder options of `AV_OPTIONS`.

`SharedFrames` gives several analyzers their samples of one video from a single decoding
pass: on an H.264 file with a long GOP a pass decodes nearly every frame whatever the
number of samples, so two analyzers sampling separately decode the video twice.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from veriscan.analyzers import animation
from veriscan.analyzers.base import AV_OPTIONS, AnalyzerFailed, MediaSample
from veriscan.analyzers.image import RGB

# Decoding per video is bounded by pixels, whatever its length or GOP: 3000 frames at
# 1080p (4K gets a quarter as many), so the worst case takes about as long at any size.
DECODE_BUDGET_PIXELS = 3000 * 1920 * 1080
SEEK_GAP_WITHOUT_INDEX = 10.0  # seconds: without a keyframe index, seek only past this
MIN_DECODED = 64  # frames a small budget still allows (4 per sample of 16)


@dataclass
class Sampled:
    time: float
    frame: RGB
    following: RGB | None


def _rgb(frame: av.VideoFrame) -> RGB:
    rgb: RGB = np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8)
    turns = round(frame.rotation / 90) % 4  # display matrix: counter-clockwise degrees
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def open_video(path: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(path), mode="r", options=AV_OPTIONS)
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise AnalyzerFailed(f"cannot open video: {exc}") from exc
    for stream in container.streams.video:
        # av.open's options reach only the decoders FFmpeg opens while probing; the ones
        # decoding here need the frame bound too, or a frame larger than its header
        # declares is decoded (and converted to RGB) at whatever size it claims.
        if stream.codec_context is not None:
            stream.codec_context.options = dict(AV_OPTIONS)
    return container


def duration_of(container: av.container.InputContainer, stream: av.VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _start(stream: av.VideoStream) -> float:
    if stream.start_time is not None and stream.time_base:
        return float(stream.start_time * stream.time_base)
    return 0.0


def _decode_budget(stream: av.VideoStream) -> int:
    area = max(1, (stream.codec_context.width or 1920) * (stream.codec_context.height or 1080))
    return max(MIN_DECODED, DECODE_BUDGET_PIXELS // area)


def _keyframes(stream: av.VideoStream) -> list[float] | None:
    try:
        entries = stream.index_entries
        base = stream.time_base
        if not entries or base is None:
            return None
        return sorted(float(e.timestamp * base) for e in entries if e.is_keyframe)
    except (AttributeError, av.FFmpegError):
        return None


def _decode(
    container: av.container.InputContainer, stream: av.VideoStream
) -> Iterator[av.VideoFrame]:
    """Frames from the current position, stopping quietly at a damaged or truncated end."""
    try:
        yield from container.decode(stream)
    except av.FFmpegError:
        return


def _seek_samples(
    path: Path, times: list[float], budgets: int = 1
) -> Iterator[tuple[int, Sampled]]:
    """The frame at (or just after) each target time and the frame after it, with the
    target's index (a target past the end or the budget gets nothing). `budgets`: how many
    readers' decode budgets the pass may spend (a shared pass spends what theirs would).

    Targets are visited in order. The decoder walks forward and seeks only when a
    keyframe lies between where it is and the next target, so a long GOP is decoded once
    rather than once per sample; a pair's second frame may also serve as the next
    sample when targets are closer than two frames."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        base = stream.time_base
        if base is None:
            return
        keyframes = _keyframes(stream)
        budget = _decode_budget(stream) * budgets
        half_frame = 0.5 / float(stream.average_rate or 25)
        frames: Iterator[av.VideoFrame] | None = None
        lookahead: av.VideoFrame | None = None
        position = -math.inf  # time of the latest decoded frame
        decoded = 0
        for index, target in enumerate(times):
            if frames is None:
                should_seek = True
            elif keyframes is not None:
                should_seek = any(position < k <= target for k in keyframes)
            else:
                should_seek = target - position > SEEK_GAP_WITHOUT_INDEX
            if should_seek:
                try:
                    container.seek(int(target / base), stream=stream, backward=True)
                except av.FFmpegError:
                    return
                frames, lookahead = _decode(container, stream), None
            assert frames is not None
            chosen: av.VideoFrame | None = None
            frame: av.VideoFrame | None
            while decoded < budget:
                if lookahead is not None:
                    frame, lookahead = lookahead, None
                else:
                    frame, decoded = next(frames, None), decoded + 1
                if frame is None:
                    break
                if frame.time is not None:
                    chosen, position = frame, max(position, frame.time)
                    if frame.time >= target - half_frame:
                        break
            if chosen is None:
                continue
            lookahead, decoded = next(frames, None), decoded + 1
            if lookahead is not None and lookahead.time is not None:
                position = max(position, lookahead.time)
            following = _rgb(lookahead) if lookahead is not None else None
            yield index, Sampled(chosen.time or 0.0, _rgb(chosen), following)
            if decoded >= budget:
                return


def _sequential_samples(path: Path, samples: int) -> Iterator[Sampled]:
    """For streams without a duration: count packets, then decode in order and keep
    evenly spaced frames (within the decode budget)."""
    with open_video(path) as container:
        stream = container.streams.video[0]
        budget = _decode_budget(stream)
        try:
            count = sum(1 for packet in container.demux(stream) if packet.size)
        except av.FFmpegError:
            count = budget
    count = min(count, budget)
    if count == 0:
        return
    wanted = sorted({min(count - 1, int((i + 0.5) * count / samples)) for i in range(samples)})
    with open_video(path) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 25)
        frames = _decode(container, stream)
        index = -1
        for frame in frames:
            index += 1
            if index > wanted[-1]:
                return
            if index not in wanted:
                continue
            following = next(frames, None)
            time = frame.time if frame.time is not None else index / rate
            yield Sampled(time, _rgb(frame), _rgb(following) if following else None)
            if following is not None:
                index += 1


@dataclass(frozen=True)
class _Span:
    start: float
    duration: float | None  # None: unknown, so frames are counted instead
    frame: float  # seconds a frame lasts (from the stream's average rate; 25 fps if unsaid)
    indexed: bool  # the container lists its keyframes (MP4, MKV), so seeks go where asked

    def targets(self, samples: int) -> list[float]:
        assert self.duration is not None
        return [self.start + (i + 0.5) * self.duration / samples for i in range(samples)]


def _span(path: Path) -> _Span | None:
    """When the first video stream starts and how long it lasts; None if there is none."""
    with open_video(path) as container:
        if not container.streams.video:
            return None
        stream = container.streams.video[0]
        duration = duration_of(container, stream)
        frame = 1 / float(stream.average_rate or 25)
        known = duration if duration and duration > 0 else None
        return _Span(_start(stream), known, frame, _keyframes(stream) is not None)


def _one_per_frame(path: Path, samples: int, found: Iterator[Sampled]) -> Iterator[Sampled]:
    """`found` without repeats (a short clip can land twice on one frame); if it held
    nothing, the frames counted out in order instead."""
    seen: set[float] = set()
    for sampled in found:
        if sampled.time not in seen:
            seen.add(sampled.time)
            yield sampled
    if not seen:
        yield from _sequential_samples(path, samples)


def sample_frames(path: Path, samples: int) -> Iterator[Sampled]:
    """Up to `samples` frames spread over the whole video, one at a time."""
    if animation.is_animated(path):
        for time, frame, following in animation.sampled_frames(path, samples):
            yield Sampled(time, frame, following)
        return
    span = _span(path)
    if span is None:
        return
    found: Iterator[Sampled] = iter(())
    if span.duration is not None:
        found = (sampled for _, sampled in _seek_samples(path, span.targets(samples)))
    yield from _one_per_frame(path, samples, found)


class _Released(Exception):
    """The reader was released while it read (its analyzer timed out): it stops."""


Item = tuple[frozenset[str], Sampled]  # a frame of the shared pass and the readers it is for


class SharedFrames:
    """One decoding pass over a video for several readers (analyzers) at once.

    `readers` maps each reader's name to the number of samples it wants. The pass visits
    the union of their target times in order, and each reader gets the frames
    `sample_frames(path, n)` would give it. That holds when the targets lie two frames or
    more apart (a sample's follower is then never the next target's frame): for 16 and 8
    samples, a video of 64 frames or more. A shorter one is read by each reader on its own,
    and so is a file without a keyframe index (MPEG-TS), where a reader seeks by distance and
    the union's closer targets would seek elsewhere. The pass may decode as many frames as
    all its readers' passes would (`DECODE_BUDGET_PIXELS` each): where a reader's own pass
    would stop at the budget, the shared one can give it more samples, never fewer.

    A reader that needs a frame nobody has decoded yet decodes it while the others
    measure theirs. No reader runs more than `LAG` frames of the pass ahead of the slowest
    one still reading (one not started yet counts), so the pass holds at most `LAG`
    frames and their followers. A reader that stops before the end must be released
    (`release`; its iterator does so when closed, the pipeline when its analyzer returns),
    or the others would wait for it. Animated pictures and videos of unknown duration are
    also sampled by each reader on its own.
    """

    LAG = 3

    def __init__(self, path: Path, readers: Mapping[str, int]) -> None:
        self.path = path
        self.readers = dict(readers)
        self._changed = threading.Condition()
        self._items: list[Item | None] = []  # by index in the pass; None once all are past it
        self._positions = dict.fromkeys(self.readers, 0)  # the next index each reader reads
        self._pass: Iterator[Item] | None = None
        self._shared: bool | None = None  # decided by the first reader
        self._decoding = False
        self._ended = False
        self._error: BaseException | None = None

    def frames(self, reader: str) -> Iterator[Sampled]:
        """`reader`'s samples, one at a time, as `sample_frames` gives them."""
        samples = self.readers[reader]
        try:
            if not self._start():
                yield from sample_frames(self.path, samples)
                return
            items = iter(lambda: self._next(reader), None)
            found = (sampled for owners, sampled in items if reader in owners)
            yield from _one_per_frame(self.path, samples, found)
        except _Released:
            return
        finally:
            self.release(reader)

    @property
    def held(self) -> int:
        """How many decoded frames (each with its follower) the pass holds now."""
        with self._changed:
            return sum(item is not None for item in self._items)

    def release(self, reader: str) -> None:
        """`reader` reads no more: the others stop waiting for it."""
        with self._changed:
            if self._positions.pop(reader, None) is not None:
                self._forget_read()
                self._changed.notify_all()

    def _start(self) -> bool:
        """Whether the readers share a pass (planned by the first to ask)."""
        with self._changed:
            if self._shared is None:
                span = None if animation.is_animated(self.path) else _span(self.path)
                self._shared = False
                if span is not None and span.duration is not None and span.indexed:
                    owners: dict[float, set[str]] = {}
                    for name, samples in self.readers.items():
                        for target in span.targets(samples):
                            owners.setdefault(target, set()).add(name)
                    times = sorted(owners)
                    # Targets closer than two frames would take each other's frames (a
                    # sample's follower is the next target's candidate): read apart.
                    gaps = [b - a for a, b in itertools.pairwise(times)]
                    self._shared = min(gaps, default=math.inf) >= 2 * span.frame
                if self._shared:
                    self._pass = (
                        (frozenset(owners[times[index]]), sampled)
                        for index, sampled in _seek_samples(self.path, times, len(self.readers))
                    )
            return self._shared

    def _next(self, reader: str) -> Item | None:
        """The pass's next item for `reader` (decoding it if nobody has), None at its end."""
        while True:
            with self._changed:
                while True:
                    index = self._positions.get(reader)
                    if index is None:
                        raise _Released
                    if index < len(self._items):
                        item = self._items[index]
                        self._positions[reader] = index + 1
                        self._forget_read()
                        self._changed.notify_all()
                        assert item is not None
                        return item
                    if self._error is not None:
                        raise self._error
                    if self._ended:
                        return None
                    if not self._decoding and index - min(self._positions.values()) < self.LAG:
                        break
                    self._changed.wait()
                self._decoding = True
                source = self._pass
            item, error = None, None
            try:
                item = next(source, None) if source is not None else None
            except BaseException as exc:  # every reader sees the decoder's error
                error = exc
            with self._changed:
                self._decoding = False
                if error is not None:
                    self._error = error
                elif item is None:
                    self._ended = True
                else:
                    self._items.append(item)
                if not self._positions:
                    self._pass = None  # nobody reads on: the container closes
                self._changed.notify_all()

    def _forget_read(self) -> None:
        """Drop the frames every remaining reader is past (all of them if none remains)."""
        slowest = min(self._positions.values(), default=len(self._items))
        for index in range(slowest):
            self._items[index] = None
        if not self._positions and not self._decoding:
            self._pass = None  # nobody reads on: the container closes


def frames_of(sample: MediaSample, reader: str, samples: int) -> Iterator[Sampled]:
    """`samples` frames of `sample` for the analyzer named `reader`: from the pass it
    shares with other analyzers if the pipeline set one up for it, else its own."""
    shared = sample.frames
    if shared is not None and reader in shared.readers:
        return shared.frames(reader)
    return sample_frames(sample.path, samples)
