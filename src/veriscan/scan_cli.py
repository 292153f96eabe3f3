"""`veriscan scan PATH...`: the local malware engines and the media analyzers, offline.

No server, no database: each file is hashed and scanned where it lies (engines take a
path, so nothing is read whole into memory), and media found by content sniffing also
goes through the media analyzers. The exit status is for scripts: see EXIT_HELP.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import stat
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from veriscan.analyzers.base import Analyzer, MediaKind, MediaSample
from veriscan.analyzers.fusion import Thresholds, Verdict
from veriscan.engines.base import Category, EngineReport, LocalEngine, Sample

EXIT_CLEAN, EXIT_FLAGGED, EXIT_ERROR = 0, 1, 2
EXIT_HELP = (
    "Exit status: 0 when every file is clean; 1 when something is flagged (a malicious or "
    "suspicious malware verdict, or a DEEPFAKE or SUSPICIOUS media verdict); 2 when a path "
    "could not be scanned (missing, unreadable, no engine gave a verdict) or nothing was "
    "scanned. An error wins over a flag: the scan was incomplete."
)
FLAGGED_MEDIA = {Verdict.DEEPFAKE.value, Verdict.SUSPICIOUS.value}
FLAGGED_MALWARE = {Category.MALICIOUS.value, Category.SUSPICIOUS.value}
HEAD_BYTES = 64 * 1024  # as much as the upload path keeps for content sniffing
BLOCK_BYTES = 1 << 20


@dataclass
class FileResult:
    path: str
    size: int | None = None
    sha256: str | None = None
    sha1: str | None = None
    md5: str | None = None
    mime_type: str | None = None
    media_type: str | None = None
    malware: dict[str, Any] | None = None
    media: dict[str, Any] | None = None
    error: str | None = None

    @property
    def flagged(self) -> bool:
        malware = self.malware is not None and self.malware["verdict"] in FLAGGED_MALWARE
        media = self.media is not None and self.media["verdict"] in FLAGGED_MEDIA
        return malware or media

    @property
    def failed(self) -> bool:
        return self.error is not None or (
            self.malware is not None and self.malware["verdict"] == "error"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "size": self.size,
            "sha256": self.sha256,
            "sha1": self.sha1,
            "md5": self.md5,
            "mimeType": self.mime_type,
            "mediaType": self.media_type,
            "malware": self.malware,
            "media": self.media,
            "error": self.error,
        }


@dataclass
class Target:
    """A file to scan, or a path that could not be turned into one."""

    path: Path
    error: str | None = None


@dataclass
class Scanner:
    engines: list[LocalEngine]
    analyzers: list[Analyzer]
    thresholds: Thresholds
    results: list[FileResult] = field(default_factory=list)

    async def scan(self, target: Target) -> FileResult:
        result = FileResult(str(target.path), error=target.error)
        if target.error is not None:
            return result
        try:
            sample, head = await asyncio.to_thread(_hash_file, target.path)
        except OSError as exc:
            result.error = _os_message(exc)
            return result
        result.size, result.sha256, result.sha1, result.md5 = (
            sample.size,
            sample.sha256,
            sample.sha1,
            sample.md5,
        )
        result.malware = _malware_summary([await engine.run(sample) for engine in self.engines])
        kind = await asyncio.to_thread(self._sniff, target.path, head, result)
        if kind is not None:
            result.media = await self._analyze_media(sample, kind, result.mime_type or "")
        return result

    def _sniff(self, path: Path, head: bytes, result: FileResult) -> MediaKind | None:
        from veriscan.core.sniff import mime_type_of
        from veriscan.media.service import media_kind

        result.mime_type = mime_type_of(head)
        kind = media_kind(path, result.mime_type)
        result.media_type = kind.value if kind else None
        return kind

    async def _analyze_media(
        self, sample: Sample, kind: MediaKind, mime_type: str
    ) -> dict[str, Any]:
        from veriscan.analyzers.pipeline import analyze_media

        media = MediaSample(sample.path, kind, mime_type, sample.size, sample.sha256)
        analysis = await analyze_media(media, self.analyzers, thresholds=self.thresholds)
        fused = analysis.fused
        return {
            "verdict": fused.verdict.value if fused.verdict else None,
            "riskScore": fused.risk_score,
            "confidence": fused.confidence,
            "videoScore": fused.video_score,
            "audioScore": fused.audio_score,
            "ganFingerprint": fused.gan_fingerprint,
            "temporalConsistency": fused.temporal_consistency,
            "explanation": fused.explanation,
            "metadata": analysis.metadata,
            "analyzers": [
                {
                    "name": report.analyzer,
                    "error": report.error,
                    "seconds": round(report.seconds, 3),
                }
                for report in analysis.reports
            ],
        }


def _hash_file(path: Path) -> tuple[Sample, bytes]:
    # md5 and sha1 are identifiers here (VirusTotal and ClamAV look files up by them).
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(usedforsecurity=False)
    md5 = hashlib.md5(usedforsecurity=False)
    head = b""
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK_BYTES), b""):
            if len(head) < HEAD_BYTES:
                head += block[: HEAD_BYTES - len(head)]
            size += len(block)
            for digest in (sha256, sha1, md5):
                digest.update(block)
    sample = Sample(
        path=path,
        sha256=sha256.hexdigest(),
        sha1=sha1.hexdigest(),
        md5=md5.hexdigest(),
        size=size,
        filename=path.name,
    )
    return sample, head


def _malware_summary(reports: Sequence[EngineReport]) -> dict[str, Any]:
    rows = [verdict for report in reports for verdict in report.verdicts]
    counted = [row for row in rows if row.category.is_verdict]
    malicious = sum(row.category is Category.MALICIOUS for row in rows)
    suspicious = sum(row.category is Category.SUSPICIOUS for row in rows)
    if malicious:
        verdict = Category.MALICIOUS.value
    elif suspicious:
        verdict = Category.SUSPICIOUS.value
    elif counted:
        verdict = "clean"
    else:
        verdict = "error"  # no engine gave an opinion: the file was not really scanned
    return {
        "verdict": verdict,
        "detection_ratio": f"{malicious}/{len(counted)}",
        "results": [
            {
                "engine_name": row.engine_name,
                "engine_version": row.engine_version,
                "category": row.category.value,
                "result": row.result,
            }
            for row in rows
        ],
        "errors": [
            {"engine": report.engine, "error": report.error} for report in reports if report.error
        ],
    }


def _os_message(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def iter_targets(paths: Sequence[Path]) -> Iterator[Target]:
    """Every regular file under `paths`, in a stable order; bad paths as errors."""
    for path in paths:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            reason = "no such file or directory" if isinstance(exc, FileNotFoundError) else None
            yield Target(path, reason or _os_message(exc))
            continue
        if stat.S_ISDIR(mode):
            yield from _walk(path)
        elif stat.S_ISREG(mode):
            yield Target(path)
        else:
            yield Target(path, "not a regular file")


def _walk(folder: Path) -> Iterator[Target]:
    failures: list[OSError] = []
    for root, dirs, files in os.walk(folder, onerror=failures.append):
        dirs.sort()
        for name in sorted(files):
            path = Path(root, name)
            try:
                mode = path.stat().st_mode
            except OSError as exc:  # a dangling link, or a file gone since the listing
                yield Target(path, _os_message(exc))
                continue
            if stat.S_ISREG(mode):  # sockets, pipes and devices are not files to scan
                yield Target(path)
        while failures:
            failure = failures.pop()
            yield Target(Path(failure.filename or folder), _os_message(failure))


class _NoTracebacks(logging.Formatter):
    """Engine and analyzer failures are logged with tracebacks for the server's logs;
    on a terminal they are one line each."""

    def format(self, record: logging.LogRecord) -> str:
        return f"{record.levelname.lower()}: {record.getMessage()}"


def _quiet_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_NoTracebacks())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.ERROR)


def _build_scanner() -> Scanner:
    from veriscan.analyzers.registry import build_analyzers, thresholds
    from veriscan.context import build_local_engines
    from veriscan.core.config import Settings

    settings = Settings()
    return Scanner(build_local_engines(settings), build_analyzers(settings), thresholds(settings))


async def _scan_all(scanner: Scanner, targets: list[Target], show_progress: bool) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        disable=not show_progress,
        transient=True,
    ) as progress:
        task = progress.add_task("scanning", total=len(targets))
        for target in targets:
            progress.update(task, description=f"scanning {target.path.name}")
            scanner.results.append(await scanner.scan(target))
            progress.advance(task)


def _render_table(results: Sequence[FileResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Veriscan offline scan")
    table.add_column("File", overflow="fold")
    table.add_column("Type")
    table.add_column("Malware")
    table.add_column("Media")
    for result in results:
        if result.error is not None:
            table.add_row(result.path, "-", f"[red]error: {result.error}[/red]", "-")
            continue
        table.add_row(
            result.path,
            result.media_type or result.mime_type or "-",
            _malware_cell(result.malware),
            _media_cell(result.media),
        )
    console = Console()
    console.print(table)
    flagged = sum(result.flagged for result in results)
    failed = sum(result.failed for result in results)
    console.print(f"{len(results)} file(s): {flagged} flagged, {failed} error(s)")


def _malware_cell(malware: dict[str, Any] | None) -> str:
    if malware is None:
        return "-"
    verdict = malware["verdict"]
    detections = [row["result"] for row in malware["results"] if row["category"] in FLAGGED_MALWARE]
    text = f"{verdict} {malware['detection_ratio']}"
    if detections:
        text += f" ({', '.join(detections)})"
    if verdict == "error":
        reasons = "; ".join(f"{e['engine']}: {e['error']}" for e in malware["errors"])
        text = f"error: {reasons or 'no engine available'}"
    colour = {"clean": "green", "error": "red", "malicious": "red"}.get(verdict, "yellow")
    return f"[{colour}]{_escape(text)}[/{colour}]"


def _media_cell(media: dict[str, Any] | None) -> str:
    if media is None:
        return "-"
    verdict = media["verdict"] or "unmeasured"
    colour = {"AUTHENTIC": "green", "DEEPFAKE": "red"}.get(verdict, "yellow")
    risk = media["riskScore"]
    return f"[{colour}]{verdict}[/{colour}] risk {risk if risk is not None else '-'}"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def scan(
    paths: Annotated[
        list[Path], typer.Argument(help="Files and folders (folders are walked recursively)")
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout instead of a table")
    ] = False,
) -> None:
    """Scan files and folders offline, without a server.

    YARA-X (and ClamAV when VERISCAN_CLAMD_SOCKET is set) scan every file; images, video
    and audio (recognised by content) also go through the media analyzers.
    """
    _quiet_logging()
    try:
        scanner = _build_scanner()
    except Exception as exc:  # bad settings, rules that do not compile: say so and stop
        typer.echo(f"error: cannot start the scanners: {exc}", err=True)
        raise typer.Exit(EXIT_ERROR) from None
    targets = list(iter_targets(paths))
    show_progress = not as_json and sys.stderr.isatty()
    try:
        asyncio.run(_scan_all(scanner, targets, show_progress))
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    results = scanner.results
    if as_json:
        document = {
            "results": [result.as_json() for result in results],
            "summary": {
                "files": len(results),
                "flagged": sum(result.flagged for result in results),
                "errors": sum(result.failed for result in results),
                "engines": [engine.name for engine in scanner.engines],
            },
        }
        typer.echo(json.dumps(document, indent=2, default=str))
    else:
        _render_table(results)
    for result in results:
        if result.failed:
            typer.echo(
                f"error: {result.path}: {result.error or 'no engine gave a verdict'}", err=True
            )
    if not results:
        typer.echo("error: nothing to scan", err=True)
    raise typer.Exit(exit_status(results))


def exit_status(results: Sequence[FileResult]) -> int:
    if not results or any(result.failed for result in results):
        return EXIT_ERROR
    if any(result.flagged for result in results):
        return EXIT_FLAGGED
    return EXIT_CLEAN


def register(app: typer.Typer) -> None:
    app.command("scan", epilog=EXIT_HELP)(scan)
