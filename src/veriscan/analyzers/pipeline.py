"""One media file through every analyzer that accepts it, then fusion.

The analyzers run side by side (each on a worker thread, through `Analyzer.run`, which
owns the timeout and the error capture). When more than one of them samples a video's
frames (`Analyzer.frame_samples`), they share one decoding pass (`frames.SharedFrames`),
each released as it returns. A video's soundtrack is decoded to a temporary
16 kHz WAV and judged by the analyzers of recordings (`soundtrack_analyzers`) like any
recording. Progress is reported
by named stage as each analyzer finishes, then "fusion".
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from veriscan.analyzers.base import (
    Analyzer,
    AnalyzerFailed,
    EvidenceImage,
    Finding,
    MediaKind,
    MediaSample,
    Report,
    without_path,
)
from veriscan.analyzers.fusion import Fused, Thresholds, fuse

if TYPE_CHECKING:
    from veriscan.analyzers.frames import SharedFrames

logger = logging.getLogger("veriscan.analyzers")

Progress = Callable[[str, int], Awaitable[None]]

# The stage names clients see in scan:progress, by analyzer name.
STAGES = {
    "metadata": "metadata",
    "provenance": "provenance",
    "image_forensics": "image-forensics",
    "video_forensics": "video-frames",
    "audio": "audio",
}
NO_AUDIO_TRACK = "The video has no audio track, so voice checks did not apply."
FIRST_PERCENT, LAST_ANALYZER_PERCENT, FUSION_PERCENT = 5, 90, 95


@dataclass
class MediaAnalysis:
    fused: Fused
    metadata: dict[str, Any]  # facts merged from every report; the metadata analyzer's win
    evidence: list[EvidenceImage]
    reports: list[Report]


def stage_of(analyzer: Analyzer) -> str:
    return STAGES.get(analyzer.name, analyzer.name.replace("_", "-"))


def soundtrack_analyzers(analyzers: Sequence[Analyzer]) -> list[Analyzer]:
    """The analyzers a video's soundtrack goes to: those that judge recordings but not
    video (a detector that takes video itself reads its soundtrack on its own)."""
    return [a for a in analyzers if MediaKind.AUDIO in a.kinds and MediaKind.VIDEO not in a.kinds]


async def analyze_media(
    sample: MediaSample,
    analyzers: Sequence[Analyzer],
    *,
    thresholds: Thresholds | None = None,
    soundtrack: Sequence[Analyzer] | None = None,
    progress: Progress | None = None,
    audio_seconds: float = 60.0,
) -> MediaAnalysis:
    """Run every analyzer that accepts `sample`, plus, for a video, the `soundtrack`
    analyzers (default: `soundtrack_analyzers(analyzers)`) on its soundtrack, and fuse
    their findings."""
    if soundtrack is None:
        soundtrack = soundtrack_analyzers(analyzers)
    chosen = [analyzer for analyzer in analyzers if analyzer.accepts(sample)]
    if sample.kind is MediaKind.AUDIO:
        chosen += [a for a in soundtrack if a not in chosen and a.accepts(sample)]

    readers = {a.name: a.frame_samples for a in chosen if a.frame_samples}
    shared: SharedFrames | None = None
    if sample.kind is MediaKind.VIDEO and len(readers) > 1:
        from veriscan.analyzers.frames import SharedFrames  # OpenCV: not for audio-only runs

        shared = SharedFrames(sample.path, readers)
        sample = replace(sample, frames=shared)

    async def single(analyzer: Analyzer) -> list[Report]:
        try:
            return [await analyzer.run(sample)]
        finally:
            if shared is not None:  # it reads no more frames, even if its thread goes on
                shared.release(analyzer.name)

    jobs: list[tuple[str, Awaitable[list[Report]]]] = [(stage_of(a), single(a)) for a in chosen]
    if sample.kind is MediaKind.VIDEO and soundtrack:
        jobs.append(("audio", soundtrack_reports(sample, soundtrack, audio_seconds)))

    lock = asyncio.Lock()  # progress goes out in order, one update at a time
    finished = 0

    async def staged(stage: str, job: Awaitable[list[Report]]) -> list[Report]:
        nonlocal finished
        reports = await job
        async with lock:
            finished += 1
            span = LAST_ANALYZER_PERCENT - FIRST_PERCENT
            if progress is not None:
                await progress(stage, FIRST_PERCENT + span * finished // len(jobs))
        return reports

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(staged(stage, job)) for stage, job in jobs]
    except BaseExceptionGroup as failed:
        # Analyzers never raise (their base captures errors): this came from `progress`,
        # and the caller should see it as raised, not wrapped in a group.
        raise failed.exceptions[0] from None
    reports = [report for task in tasks for report in task.result()]
    if progress is not None:
        await progress("fusion", FUSION_PERCENT)
    fused = fuse(sample.kind, reports, thresholds)
    return MediaAnalysis(fused, merge_metadata(reports), collect_evidence(reports), reports)


def merge_metadata(reports: Sequence[Report]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    # The metadata analyzer is the one whose job is facts; others only fill gaps.
    for report in sorted(reports, key=lambda r: r.analyzer != "metadata"):
        for key, value in report.metadata.items():
            merged.setdefault(key, value)
    return merged


def collect_evidence(reports: Sequence[Report]) -> list[EvidenceImage]:
    return [image for report in reports for image in report.evidence]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


async def soundtrack_reports(
    sample: MediaSample, analyzers: Sequence[Analyzer], max_seconds: float
) -> list[Report]:
    """Each analyzer's report on a video's soundtrack (its first `max_seconds`, decoded
    once to a temporary 16 kHz WAV that every analyzer reads)."""
    try:
        # Imported here: the video analyzer pulls in OpenCV, which audio-only runs skip.
        from veriscan.analyzers.video import extract_audio
    except ImportError:
        return [Report(a.name, error="soundtrack extraction is not available") for a in analyzers]
    with tempfile.TemporaryDirectory(prefix="veriscan-audio-") as folder:
        wav = Path(folder) / "soundtrack.wav"
        try:
            found = await asyncio.to_thread(extract_audio, sample.path, wav, max_seconds)
        except AnalyzerFailed as exc:
            error = f"the soundtrack cannot be read ({without_path(str(exc), sample.path)})"
            return [Report(a.name, error=error) for a in analyzers]
        except Exception as exc:  # a decoder bug must not take the scan down
            logger.exception("analyzers.soundtrack_failed sha256=%s", sample.sha256)
            error = f"soundtrack extraction failed ({type(exc).__name__})"
            return [Report(a.name, error=error) for a in analyzers]
        if not found:
            finding = Finding("audio_synthetic", None, 0.0, NO_AUDIO_TRACK)
            return [Report(analyzers[0].name, findings=[finding])]
        track = MediaSample(
            wav,
            MediaKind.AUDIO,
            "audio/wav",
            wav.stat().st_size,
            await asyncio.to_thread(_sha256, wav),
        )
        reports = list(await asyncio.gather(*(a.run(track) for a in analyzers)))
    for report in reports:
        # Its facts describe our temporary WAV (16 kHz PCM), not the video's own soundtrack.
        report.metadata = {}
    return reports
