"""Cells for spreadsheets and the CSV bodies of bulk exports (JSON arrays and buffering are
in core.streams).

No ReportLab here: bulk exports import this module, not the PDF renderers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

# A media scan's scalar fields, in the order a reader scans them; bulk exports use them as
# columns, the one-scan export as rows.
MEDIA_FIELDS = (
    "id",
    "fileName",
    "mediaType",
    "fileSize",
    "hash",
    "timestamp",
    "operative",
    "status",
    "result",
    "riskScore",
    "confidence",
    "videoScore",
    "audioScore",
    "ganFingerprint",
    "temporalConsistency",
    "explanation",
    "error",
    "tags",
    "gpsLatitude",
    "gpsLongitude",
)


def media_field_values(scan: dict[str, Any]) -> list[Any]:
    """MEDIA_FIELDS of one scan (the API's JSON), flattened for a spreadsheet."""
    gps = scan.get("gpsCoordinates") or {}
    flat = {
        **scan,
        "tags": "; ".join(scan.get("tags") or []),
        "gpsLatitude": gps.get("latitude"),
        "gpsLongitude": gps.get("longitude"),
    }
    return [flat.get(name) for name in MEDIA_FIELDS]


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """A value as a CSV cell that no spreadsheet runs as a formula (OWASP CSV injection).

    Numbers are ours and stay numbers (a negative latitude is not a formula); every text
    may come from a file's author (names, metadata, tags), so one that starts like a
    formula is prefixed with a quote, as reports/malware.py does.
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def csv_rows(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """A CSV file written as the rows arrive, BOM first (for Excel), every cell guarded."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield b"\xef\xbb\xbf" + buffer.getvalue().encode("utf-8")
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([cell(value) for value in row])
        yield buffer.getvalue().encode("utf-8")
