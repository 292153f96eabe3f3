"""The stand-in's fake antivirus engines: verdicts computed from a file's content.

Shapes follow VirusTotal's Analysis object (docs.virustotal.com/reference/analyses-object):
each engine's result has ``category``, ``engine_name``, ``engine_version``,
``engine_update`` (``%Y%m%d``), ``method`` and ``result`` (null when there is no verdict),
and ``stats`` counts every category a file analysis can report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, BinaryIO

# The standard antivirus test file (eicar.org). Every engine detects it as malicious.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
# A marker of the stand-in's own: two engines call a file containing it "suspicious".
SUSPICIOUS_MARKER = b"VERISCAN-SUSPICIOUS"

# Every category VirusTotal reports for a file analysis, in its docs' order.
CATEGORIES: tuple[str, ...] = (
    "confirmed-timeout",
    "timeout",
    "failure",
    "harmless",
    "undetected",
    "suspicious",
    "malicious",
    "type-unsupported",
)

_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Engine:
    name: str
    version: str
    update: str  # engine_update, %Y%m%d as VirusTotal sends it
    eicar_label: str  # what this engine calls EICAR
    flags_suspicious: bool = False  # reacts to SUSPICIOUS_MARKER
    empty_unsupported: bool = False  # answers "type-unsupported" for an empty file
    can_time_out: bool = False  # answers "timeout" while the stub's slow_engine is set


ENGINES: tuple[Engine, ...] = (
    Engine("StubAV-Alpha", "1.4.2", "20240611", "EICAR-Test-File (not a virus)"),
    Engine("StubAV-Bravo", "23.0.1.7", "20240610", "Eicar-Test-Signature"),
    Engine("StubAV-Charlie", "5.2.0", "20240611", "Trojan.EICAR.Test", flags_suspicious=True),
    Engine("StubAV-Delta", "2024.6.1", "20240609", "EICAR_TEST_FILE", flags_suspicious=True),
    Engine("StubAV-Echo", "8.1.0.33", "20240611", "Misc.Eicar-Test", empty_unsupported=True),
    Engine("StubAV-Foxtrot", "3.19", "20240608", "Test.EICAR"),
    Engine("StubAV-Golf", "12.0.0.1", "20240611", "EICAR-AV-Test"),
    Engine("StubAV-Hotel", "0.9.7", "20240607", "Eicar.Test.File", can_time_out=True),
)


@dataclass(frozen=True)
class Content:
    """What the engines need to know of a file: its hashes, size and markers found."""

    sha256: str
    sha1: str
    md5: str
    size: int
    has_eicar: bool
    has_suspicious: bool

    @classmethod
    def of_bytes(cls, data: bytes) -> Content:
        return cls(
            sha256=hashlib.sha256(data).hexdigest(),
            sha1=hashlib.sha1(data).hexdigest(),
            md5=hashlib.md5(data).hexdigest(),
            size=len(data),
            has_eicar=EICAR in data,
            has_suspicious=SUSPICIOUS_MARKER in data,
        )

    @classmethod
    def of_stream(cls, stream: BinaryIO) -> Content:
        """Hash and search a file chunk by chunk, so a 650 MB upload is never held whole."""
        sha256, sha1, md5 = hashlib.sha256(), hashlib.sha1(), hashlib.md5()
        size = 0
        found_eicar = found_suspicious = False
        # Keep the end of the previous chunk so a marker split across two chunks is found.
        overlap = max(len(EICAR), len(SUSPICIOUS_MARKER)) - 1
        tail = b""
        while chunk := stream.read(_CHUNK):
            for digest in (sha256, sha1, md5):
                digest.update(chunk)
            size += len(chunk)
            window = tail + chunk
            found_eicar = found_eicar or EICAR in window
            found_suspicious = found_suspicious or SUSPICIOUS_MARKER in window
            tail = window[-overlap:]
        return cls(
            sha256=sha256.hexdigest(),
            sha1=sha1.hexdigest(),
            md5=md5.hexdigest(),
            size=size,
            has_eicar=found_eicar,
            has_suspicious=found_suspicious,
        )

    def file_info(self) -> dict[str, Any]:
        """The ``meta.file_info`` block of an analysis."""
        return {"sha256": self.sha256, "sha1": self.sha1, "md5": self.md5, "size": self.size}


def verdict(engine: Engine, content: Content, *, slow_engine: bool) -> dict[str, Any]:
    """One engine's result for this content, as in an analysis' ``results``."""
    category, result = "undetected", None
    if slow_engine and engine.can_time_out:
        category = "timeout"
    elif content.size == 0 and engine.empty_unsupported:
        category = "type-unsupported"
    elif content.has_eicar:
        category, result = "malicious", engine.eicar_label
    elif content.has_suspicious and engine.flags_suspicious:
        category, result = "suspicious", "Suspicious.VeriscanMarker"
    return {
        "category": category,
        "engine_name": engine.name,
        "engine_version": engine.version,
        "engine_update": engine.update,
        "method": "blacklist",
        "result": result,
    }


def scan(content: Content, *, slow_engine: bool = False) -> dict[str, dict[str, Any]]:
    """Every engine's result, keyed by engine name as VirusTotal keys ``results``."""
    return {e.name: verdict(e, content, slow_engine=slow_engine) for e in ENGINES}


def stats(results: Iterable[dict[str, Any]]) -> dict[str, int]:
    """The ``stats`` summary of some results: every category, zero when absent."""
    counts = dict.fromkeys(CATEGORIES, 0)
    for result in results:
        counts[result["category"]] += 1
    return counts
