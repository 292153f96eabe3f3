"""Media scan reports as downloads: JSON, CSV and a PDF with the evidence pictures.

Rendering only, like reports/malware.py (whose fonts, styles and CSV guard it shares):
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
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from veriscan.reports import malware
from veriscan.reports.malware import (
    _MUTED,
    _NEUTRAL,
    _RULE,
    _facts,
    _Fonts,
    _fonts,
    _human_size,
    _iso,
    _Page,
    _when,
)
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
        "exportedAt": _iso(report.generated_at),
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
        return f"Analysis failed: {scan.get('error') or 'no reason was recorded'}", _NEUTRAL
    if status != "COMPLETED":
        return f"Analysis not complete ({status}): no verdict yet", _NEUTRAL
    if verdict not in _VERDICT_COLOURS:
        return "No verdict", _NEUTRAL
    risk = scan.get("riskScore")
    suffix = f" — risk {risk}/100" if risk is not None else ""
    return f"{verdict}{suffix}", _VERDICT_COLOURS[verdict]


def _value_text(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _picture(page: _Page, item: ReportEvidence, width: float) -> Flowable:
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


def _story(report: MediaReport, page: _Page, width: float) -> list[Flowable]:
    scan = report.scan
    headline, colour = _banner(scan)
    banner = Table([[page.p(headline, page.banner)]], colWidths=[width])
    banner.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), colour),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    story: list[Flowable] = [
        page.p("VERISCAN · MEDIA AUTHENTICITY REPORT", page.kicker),
        Spacer(0, 3),
        page.p(str(scan["fileName"]), page.title),
        Spacer(0, 6),
        banner,
    ]
    sha256 = str(scan.get("hash", "")).removeprefix("sha256:")
    identity = [
        ("Name", page.p(str(scan["fileName"]))),
        ("Type", page.p(f"{scan.get('mediaType')} ({report.mime_type})")),
        ("Size", page.p(_human_size(int(scan.get("fileSize") or 0)))),
        ("SHA-256", page.p(sha256, page.mono)),
        ("Uploaded by", page.p(str(scan.get("operative", "")))),
        ("Uploaded", page.p(_when(_parse(scan.get("timestamp"))))),
        ("Scan ID", page.p(str(scan["id"]), page.mono)),
        ("Status", page.p(str(scan.get("status", "")))),
        ("Tags", page.p(", ".join(scan.get("tags") or []) or "none")),
    ]
    scores = [("Verdict", page.p(str(scan.get("result") or "n/a")))]
    scores += [(label, page.p(_na(scan.get(key)))) for key, label in _SCORES]
    story += [page.p("File", page.heading), _facts(page, identity, width)]
    story += [page.p("Verdict and scores", page.heading), _facts(page, scores, width)]
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
        story.append(_facts(page, rows, width))
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


class _NumberedCanvas(malware._PageCountingCanvas):
    def __init__(self, *args: Any, footer: str, header: str, fonts: _Fonts, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._footer = fonts.plain(footer)
        self._header = header
        self._fonts = fonts

    def _decorate(self, number: int, total: int) -> None:
        width, height = A4
        left, right = 18 * mm, width - 18 * mm
        font = self._fonts.regular
        self.saveState()
        self.setFont(font, 7.5)
        self.setFillColor(_MUTED)
        self.setStrokeColor(_RULE)
        self.line(left, 14 * mm, right, 14 * mm)
        self.drawString(left, 10 * mm, self._footer)
        self.drawRightString(right, 10 * mm, f"Page {number} of {total}")
        if number > 1:
            title = self._fonts.plain(self._header)
            room = right - left
            if self.stringWidth(title, font, 7.5) > room:
                while title and self.stringWidth(title + "…", font, 7.5) > room:
                    title = title[:-1]
                title += "…"
            self.drawString(left, height - 12 * mm, title)
            self.line(left, height - 13.5 * mm, right, height - 13.5 * mm)
        self.restoreState()


def to_pdf(report: MediaReport) -> bytes:
    fonts = _fonts()
    buffer = io.BytesIO()
    name = str(report.scan["fileName"])
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=f"Veriscan media scan report — {name}",
        author="Veriscan",
        creator="Veriscan",
        subject=f"Scan {report.scan['id']}",
    )
    page = _Page(fonts)
    footer = f"Veriscan · generated {_when(report.generated_at)} for {report.requested_by}"
    header = f"Media scan report — {name} · scan {report.scan['id']}"

    def canvasmaker(*args: Any, **kwargs: Any) -> Canvas:
        return _NumberedCanvas(*args, footer=footer, header=header, fonts=fonts, **kwargs)

    doc.build(_story(report, page, doc.width), canvasmaker=canvasmaker)
    return buffer.getvalue()
