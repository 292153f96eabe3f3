"""Media scan reports as downloads: JSON, CSV and a PDF with the evidence pictures.

Rendering only, like reports/malware.py (the PDF parts both share are in reports/pdf.py):
the caller hands over the scan as the API gives it (`ScanDetail` as JSON) and the
evidence pictures; nothing here reads the database or knows about HTTP.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Flowable, Image, KeepTogether, Spacer

from veriscan.reports import malware, pdf
from veriscan.reports.tabular import MEDIA_FIELDS, cell, media_field_values

ExportFormat = Literal["json", "csv", "pdf"]
MEDIA_TYPES = malware.MEDIA_TYPES

_VERDICT_COLOURS = {
    "DEEPFAKE": colors.HexColor("#c62828"),
    "SUSPICIOUS": colors.HexColor("#ef6c00"),
    "AUTHENTIC": colors.HexColor("#2e7d32"),
}
_SCORES = (
    ("riskScore", "Risk score"),
    ("confidence", "Confidence"),
    ("videoScore", "Video"),
    ("audioScore", "Audio"),
    ("ganFingerprint", "GAN fingerprint"),
    ("temporalConsistency", "Temporal consistency"),
)
# The largest a picture is drawn: the text width, and about a third of the page high.
_PICTURE_MAX_HEIGHT = 95 * mm


@dataclass(frozen=True, slots=True)
class ReportEvidence:
    name: str
    caption: str
    media_type: str
    content: bytes


@dataclass(frozen=True, slots=True)
class MediaReport:
    scan: dict[str, Any]  # the `data` of GET /api/scans/{id}, as JSON
    mime_type: str
    evidence: list[ReportEvidence]
    generated_at: datetime
    requested_by: str


def export_filename(scan_id: str, fmt: str) -> str:
    if fmt not in MEDIA_TYPES:
        raise ValueError(f"unsupported export format: {fmt!r}")
    safe_id = re.sub(r"[^A-Za-z0-9-]", "", scan_id) or "unknown"
    return f"veriscan-media-scan-{safe_id}.{fmt}"


def to_json(report: MediaReport) -> bytes:
    document = {
        "scan": report.scan,
        "mimeType": report.mime_type,
        "exportedAt": pdf.iso(report.generated_at),
        "exportedBy": report.requested_by,
    }
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


# --- CSV ---------------------------------------------------------------------------------


def to_csv(report: MediaReport) -> bytes:
    # One scan reads best as field,value pairs: a spreadsheet shows them as a form, and
    # the metadata (a different set of keys for every file) fits as more rows.
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(("field", "value"))
    for name, value in zip(MEDIA_FIELDS, media_field_values(report.scan), strict=True):
        writer.writerow((name, cell(value)))
    writer.writerow(("mimeType", cell(report.mime_type)))
    for key, value in (report.scan.get("metadata") or {}).items():
        writer.writerow((cell(f"metadata.{key}"), cell(value)))
    for item in report.evidence:
        writer.writerow((cell(f"evidence.{item.name}"), cell(item.caption)))
    # With a BOM, as the malware CSV: Excel needs it to read UTF-8.
    return out.getvalue().encode("utf-8-sig")


# --- PDF ---------------------------------------------------------------------------------


def _na(value: Any) -> str:
    return "n/a" if value is None else f"{value} / 100"


def _banner(scan: dict[str, Any]) -> tuple[str, colors.Color]:
    status, verdict = scan.get("status"), scan.get("result")
    if status == "FAILED":
        return f"Analysis failed: {scan.get('error') or 'no reason was recorded'}", pdf.NEUTRAL
    if status != "COMPLETED":
        return f"Analysis not complete ({status}): no verdict yet", pdf.NEUTRAL
    if verdict not in _VERDICT_COLOURS:
        return "No verdict", pdf.NEUTRAL
    risk = scan.get("riskScore")
    suffix = f" — risk {risk}/100" if risk is not None else ""
    return f"{verdict}{suffix}", _VERDICT_COLOURS[verdict]


# A metadata value longer than this is cut in the PDF: a table row cannot split across
# pages, so one long value (a C2PA manifest, an embedded blob) left most of a page blank,
# and one taller than a page made the export fail.
_VALUE_MAX_CHARS = 1200


def _value_text(value: Any) -> str:
    if value is None:
        return "n/a"
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    if len(text) <= _VALUE_MAX_CHARS:
        return text
    left = len(text) - _VALUE_MAX_CHARS
    return f"{text[:_VALUE_MAX_CHARS]}… ({left:,} more characters: the JSON export has it whole)"


def _picture(page: pdf.Page, item: ReportEvidence, width: float) -> Flowable:
    caption = page.p(item.caption or item.name, page.small)
    try:
        reader = ImageReader(io.BytesIO(item.content))
        pixels_w, pixels_h = reader.getSize()
        # A pixel as a point; small pictures (face crops) are enlarged at most twice.
        scale = min(width / pixels_w, _PICTURE_MAX_HEIGHT / pixels_h, 2.0)
        image: Flowable = Image(
            io.BytesIO(item.content), width=pixels_w * scale, height=pixels_h * scale
        )
    except Exception:  # a picture ReportLab cannot read must not cost the whole report
        image = page.p(f"The picture {item.name!r} could not be read.", page.small)
    return KeepTogether([image, Spacer(0, 2), caption, Spacer(0, 8)])


def _story(report: MediaReport, page: pdf.Page, width: float) -> list[Flowable]:
    scan = report.scan
    headline, colour = _banner(scan)
    story: list[Flowable] = [
        page.p("VERISCAN · MEDIA AUTHENTICITY REPORT", page.kicker),
        Spacer(0, 3),
        page.p(str(scan["fileName"]), page.title),
        Spacer(0, 6),
        pdf.banner(page, headline, colour, width),
    ]
    sha256 = str(scan.get("hash", "")).removeprefix("sha256:")
    identity = [
        ("Name", page.p(str(scan["fileName"]))),
        ("Type", page.p(f"{scan.get('mediaType')} ({report.mime_type})")),
        ("Size", page.p(pdf.human_size(int(scan.get("fileSize") or 0)))),
        ("SHA-256", page.p(sha256, page.mono)),
        ("Uploaded by", page.p(str(scan.get("operative", "")))),
        ("Uploaded", page.p(pdf.when(_parse(scan.get("timestamp"))))),
        ("Scan ID", page.p(str(scan["id"]), page.mono)),
        ("Status", page.p(str(scan.get("status", "")))),
        ("Tags", page.p(", ".join(scan.get("tags") or []) or "none")),
    ]
    scores = [("Verdict", page.p(str(scan.get("result") or "n/a")))]
    scores += [(label, page.p(_na(scan.get(key)))) for key, label in _SCORES]
    story += [page.p("File", page.heading), pdf.facts(page, identity, width)]
    story += [page.p("Verdict and scores", page.heading), pdf.facts(page, scores, width)]
    story += [page.p("Explanation", page.heading), page.p(scan.get("explanation") or "n/a")]
    if scan.get("error"):
        story.append(page.p(f"Failure reason: {scan['error']}"))
    gps = scan.get("gpsCoordinates")
    if gps:
        place = f"{gps['latitude']:.6f}, {gps['longitude']:.6f}"
        story += [page.p("Location (GPS)", page.heading), page.p(place, page.mono)]
    metadata = scan.get("metadata") or {}
    story.append(page.p(f"Metadata ({len(metadata)})", page.heading))
    if metadata:
        rows = [(str(key), page.p(_value_text(value))) for key, value in metadata.items()]
        story.append(pdf.facts(page, rows, width))
    else:
        story.append(page.p("The file carries no metadata."))
    heading = page.p(f"Evidence ({len(report.evidence)})", page.heading)
    if not report.evidence:
        story += [heading, page.p("No evidence pictures were recorded for this scan.")]
    for i, item in enumerate(report.evidence):
        # The heading goes to the next page with the first picture rather than alone.
        story.append(
            KeepTogether([heading, _picture(page, item, width)])
            if i == 0
            else _picture(page, item, width)
        )
    return story


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def to_pdf(report: MediaReport) -> bytes:
    name = str(report.scan["fileName"])
    return pdf.render(
        lambda page, width: _story(report, page, width),
        title=f"Veriscan media scan report — {name}",
        subject=f"Scan {report.scan['id']}",
        footer=f"Veriscan · generated {pdf.when(report.generated_at)} for {report.requested_by}",
        header=f"Media scan report — {name} · scan {report.scan['id']}",
    )
