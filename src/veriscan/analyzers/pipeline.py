"""One media file through every analyzer that accepts it, then fusion.

The analyzers run side by side (each on a worker thread, through `Analyzer.run`, which
owns the timeout and the error capture). A video's soundtrack is decoded to a temporary
16 kHz WAV and judged by the audio analyzer like any recording. Progress is reported
by named stage as each analyzer finishes, then "fusion".
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veriscan.analyzers.audio import AudioAnalyzer
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


async def analyze_media(
    sample: MediaSample,
    analyzers: Sequence[Analyzer],
    *,
    thresholds: Thresholds | None = None,
    audio_analyzer: Analyzer | None = None,
    progress: Progress | None = None,
    audio_seconds: float = 60.0,
) -> MediaAnalysis:
    """Run every analyzer that accepts `sample`, plus the audio analyzer on a video's
    soundtrack, and fuse their findings. `audio_analyzer` defaults to the AudioAnalyzer
    among `analyzers`."""
    if audio_analyzer is None:
        audio_analyzer = next((a for a in analyzers if isinstance(a, AudioAnalyzer)), None)
    chosen = [analyzer for analyzer in analyzers if analyzer.accepts(sample)]
    if audio_analyzer and audio_analyzer not in chosen and audio_analyzer.accepts(sample):
        chosen.append(audio_analyzer)
    jobs: list[tuple[str, Awaitable[Report]]] = [(stage_of(a), a.run(sample)) for a in chosen]
    if sample.kind is MediaKind.VIDEO and audio_analyzer is not None:
        jobs.append(("audio", soundtrack_report(sample, audio_analyzer, audio_seconds)))

    lock = asyncio.Lock()  # progress goes out in order, one update at a time
    finished = 0

    async def staged(stage: str, job: Awaitable[Report]) -> Report:
        nonlocal finished
        report = await job
        async with lock:
            finished += 1
            span = LAST_ANALYZER_PERCENT - FIRST_PERCENT
            if progress is not None:
                await progress(stage, FIRST_PERCENT + span * finished // len(jobs))
        return report

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(staged(stage, job)) for stage, job in jobs]
    except BaseExceptionGroup as failed:
        # Analyzers never raise (their base captures errors): this came from `progress`,
        # and the caller should see it as raised, not wrapped in a group.
        raise failed.exceptions[0] from None
    reports = [task.result() for task in tasks]
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


async def soundtrack_report(
    sample: MediaSample, audio_analyzer: Analyzer, max_seconds: float
) -> Report:
    """The audio analyzer's report on a video's soundtrack (first `max_seconds`)."""
    try:
        # Imported here: the video analyzer pulls in OpenCV, which audio-only runs skip.
        from veriscan.analyzers.video import extract_audio
    except ImportError:
        return Report(audio_analyzer.name, error="soundtrack extraction is not available")
    with tempfile.TemporaryDirectory(prefix="veriscan-audio-") as folder:
        wav = Path(folder) / "soundtrack.wav"
        try:
            found = await asyncio.to_thread(extract_audio, sample.path, wav, max_seconds)
        except AnalyzerFailed as exc:
            return Report(
                audio_analyzer.name,
                error=f"the soundtrack cannot be read ({without_path(str(exc), sample.path)})",
            )
        except Exception as exc:  # a decoder bug must not take the scan down
            logger.exception("analyzers.soundtrack_failed sha256=%s", sample.sha256)
            return Report(
                audio_analyzer.name, error=f"soundtrack extraction failed ({type(exc).__name__})"
            )
        if not found:
            finding = Finding("audio_synthetic", None, 0.0, NO_AUDIO_TRACK)
            return Report(audio_analyzer.name, findings=[finding])
        track = MediaSample(
            wav,
            MediaKind.AUDIO,
            "audio/wav",
            wav.stat().st_size,
            await asyncio.to_thread(_sha256, wav),
        )
        report = await audio_analyzer.run(track)
    # Its facts describe our temporary WAV (16 kHz PCM), not the video's own soundtrack.
    report.metadata = {}
    return report
