"""What the PDF reports (reports/malware.py and reports/media.py) share.

Fonts (DejaVu when installed, else the standard PDF fonts), the colour palette, the
paragraph styles, date and size formatting, the facts table, the verdict banner, and an
A4 document whose pages say "page N of M" in the footer. Rendering only.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Table, TableStyle

DEJAVU_DIR = Path("/usr/share/fonts/truetype/dejavu")
_MISSING = "\ufffd"

CATEGORY_COLOURS = {
    "malicious": colors.HexColor("#c62828"),
    "suspicious": colors.HexColor("#ef6c00"),
    "undetected": colors.HexColor("#2e7d32"),
    "harmless": colors.HexColor("#689f38"),
    "timeout": colors.HexColor("#9e9e9e"),
    "confirmed-timeout": colors.HexColor("#757575"),
    "type-unsupported": colors.HexColor("#90a4ae"),
    "failure": colors.HexColor("#546e7a"),
}
NEUTRAL = colors.HexColor("#607d8b")
MUTED = colors.HexColor("#616161")
RULE = colors.HexColor("#cfd8dc")
HEADER_BG = colors.HexColor("#37474f")


@dataclass(frozen=True, slots=True)
class Fonts:
    regular: str
    bold: str
    mono: str
    glyphs: frozenset[int] | None  # None: the standard PDF fonts, which cover cp1252 only

    def can_draw(self, ch: str) -> bool:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code < 0xA0:
            return False
        if self.glyphs is not None:
            return code in self.glyphs
        try:
            ch.encode("cp1252")
        except UnicodeEncodeError:
            return False
        return True

    def plain(self, text: str) -> str:
        missing = _MISSING if self.can_draw(_MISSING) else "?"
        return "".join(ch if self.can_draw(ch) else missing for ch in text)


@cache
def fonts() -> Fonts:
    # DejaVu (Debian's fonts-dejavu-core) covers Cyrillic, Greek and more; without it the
    # report still renders with the built-in fonts and unsupported characters replaced.
    files = {
        "VeriscanSans": "DejaVuSans.ttf",
        "VeriscanSans-Bold": "DejaVuSans-Bold.ttf",
        "VeriscanMono": "DejaVuSansMono.ttf",
    }
    try:
        faces = {name: TTFont(name, str(DEJAVU_DIR / file)) for name, file in files.items()}
    except Exception:  # absent or unreadable: any TTF failure means the fallback
        return Fonts("Helvetica", "Helvetica-Bold", "Courier", None)
    for face in faces.values():
        pdfmetrics.registerFont(face)
    # Names appear in both weights, so only characters both can draw are kept.
    glyphs = set(faces["VeriscanSans"].face.charToGlyph)
    glyphs &= set(faces["VeriscanSans-Bold"].face.charToGlyph)
    return Fonts("VeriscanSans", "VeriscanSans-Bold", "VeriscanMono", frozenset(glyphs))


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    # Naive values can only come from SQLite, where the project stores UTC.
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def when(value: datetime | None, *, date_only: bool = False) -> str:
    text = iso(value)
    if text is None:
        return "—"
    return text[:10] if date_only else f"{text[:10]} {text[11:19]} UTC"


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size:,} bytes"
    value, unit = float(size), "bytes"
    for unit in ("KiB", "MiB", "GiB", "TiB"):  # noqa: B007 - the last unit reached is kept
        value /= 1024
        if value < 1023.95:  # so that rounding never shows "1024.0 KiB"
            break
    return f"{value:,.1f} {unit} ({size:,} bytes)"


class Page:
    """Paragraph styles and escaping for one rendering, bound to the fonts in use."""

    def __init__(self, fonts: Fonts) -> None:
        self.fonts = fonts
        base = ParagraphStyle("body", fontName=fonts.regular, fontSize=8.5, leading=11)
        self.body = base
        self.small = ParagraphStyle("small", base, fontSize=7.5, leading=9.5)
        self.mono = ParagraphStyle("mono", base, fontName=fonts.mono, fontSize=8)
        self.label = ParagraphStyle("label", base, fontName=fonts.bold, textColor=MUTED)
        self.kicker = ParagraphStyle("kicker", base, fontSize=8, textColor=MUTED)
        self.title = ParagraphStyle("title", base, fontName=fonts.bold, fontSize=16, leading=20)
        self.heading = ParagraphStyle(
            "heading", base, fontName=fonts.bold, fontSize=11, leading=14, spaceBefore=10
        )
        self.banner = ParagraphStyle(
            "banner", base, fontName=fonts.bold, fontSize=13, leading=16, textColor=colors.white
        )
        self.th = ParagraphStyle("th", self.small, fontName=fonts.bold, textColor=colors.white)

    def p(self, text: str, style: ParagraphStyle | None = None) -> Paragraph:
        # Names are untrusted: escaping stops them from being read as Paragraph markup.
        return Paragraph(escape(self.fonts.plain(text)), style or self.body)

    def category(self, category: str) -> Paragraph:
        colour = CATEGORY_COLOURS.get(category, NEUTRAL)
        font = self.fonts.bold if category in ("malicious", "suspicious") else self.fonts.regular
        style = ParagraphStyle("cat", self.small, fontName=font, textColor=colour)
        return self.p(category, style)


def facts(page: Page, rows: list[tuple[str, Paragraph]], width: float) -> Table:
    table = Table(
        [[page.p(label, page.label), value] for label, value in rows],
        colWidths=[36 * mm, width - 36 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
                ("TOPPADDING", (0, 0), (-1, -1), 2.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ]
        )
    )
    return table


def banner(page: Page, headline: str, colour: colors.Color, width: float) -> Table:
    """The verdict, white on the colour that goes with it, across the text width."""
    table = Table([[page.p(headline, page.banner)]], colWidths=[width])
    table.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), colour),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
                ("TOPPADDING", (0, 0), (-1, -1), 6),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return table


class PageCountingCanvas(Canvas):
    """Holds pages back until the end so that each page's decoration can say "page N of
    M"; subclasses draw it in `_decorate`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._held.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # ReportLab's own page reset

    def save(self) -> None:
        for number, state in enumerate(self._held, start=1):
            self.__dict__.update(state)
            self._decorate(number, len(self._held))
            super().showPage()
        super().save()

    def _decorate(self, number: int, total: int) -> None:
        raise NotImplementedError


class NumberedCanvas(PageCountingCanvas):
    """A footer on every page ("page N of M"), and from page 2 on a running header: a
    title, cut short to fit, with `aside` (if any) at the right."""

    def __init__(
        self,
        *args: Any,
        fonts: Fonts,
        footer: str,
        header: str,
        aside: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._fonts = fonts
        self._footer = fonts.plain(footer)
        self._header = fonts.plain(header)
        self._aside = aside

    def _decorate(self, number: int, total: int) -> None:
        width, height = A4
        left, right = 18 * mm, width - 18 * mm
        font = self._fonts.regular
        self.saveState()
        self.setFont(font, 7.5)
        self.setFillColor(MUTED)
        self.setStrokeColor(RULE)
        self.line(left, 14 * mm, right, 14 * mm)
        self.drawString(left, 10 * mm, self._footer)
        self.drawRightString(right, 10 * mm, f"Page {number} of {total}")
        if number > 1:
            title, room = self._header, right - left
            if self._aside is not None:
                room -= self.stringWidth(self._aside, font, 7.5) + 12
            if self.stringWidth(title, font, 7.5) > room:
                while title and self.stringWidth(title + "…", font, 7.5) > room:
                    title = title[:-1]
                title += "…"
            self.drawString(left, height - 12 * mm, title)
            if self._aside is not None:
                self.drawRightString(right, height - 12 * mm, self._aside)
            self.line(left, height - 13.5 * mm, right, height - 13.5 * mm)
        self.restoreState()


def render(
    story: Callable[[Page, float], list[Flowable]],
    *,
    title: str,
    subject: str,
    footer: str,
    header: str,
    aside: str | None = None,
) -> bytes:
    """An A4 PDF of `story(page, text width)`, decorated by `NumberedCanvas`."""
    chosen = fonts()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=18 * mm,
        bottomMargin=20 * mm,
        title=title,
        author="Veriscan",
        creator="Veriscan",
        subject=subject,
    )

    def canvasmaker(*args: Any, **kwargs: Any) -> Canvas:
        return NumberedCanvas(
            *args, fonts=chosen, footer=footer, header=header, aside=aside, **kwargs
        )

    doc.build(story(Page(chosen), doc.width), canvasmaker=canvasmaker)
    return buffer.getvalue()
