from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, column, func, or_, select, text, true
from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.core import paging
from veriscan.core.paging import Part
from veriscan.media.models import MediaEvidence, MediaScan
from veriscan.scans import ScanKind, access
from veriscan.sharing.access import assigned_to, shared_with

SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class HistoryFilters:
    page: int = 1
    limit: int = 20
    search: str | None = None
    status: str | None = None
    media_type: str | None = None
    verdict: str | None = None
    start_date: datetime | None = None
    end_date: datetime | None = None
    sort_by: str = "date"
    sort_order: str = "desc"
    # all: every scan the caller may read; own; shared (with the caller); assigned (to them)
    scope: str = "all"


_WORD = re.compile(r"\w+", re.UNICODE)
_MAX_WORDS = 16


def search_phrases(search: str) -> list[list[str]]:
    """The user's text as phrases: each whitespace-separated term is one phrase of its words,
    so that "batch-2" or "IMG_0042" keep their words together and in order (the index splits
    them the same way) instead of matching "batch" anywhere and "2" anywhere else."""
    phrases: list[list[str]] = []
    budget = _MAX_WORDS
    for term in search.split():
        words = _WORD.findall(term.replace("_", " "))[:budget]
        if words:
            phrases.append(words)
            budget -= len(words)
        if budget <= 0:
            break
    return phrases


def fts5_query(search: str) -> str | None:
    """User text as an FTS5 query: every phrase must match, its last word as a prefix; the
    words are \\w+ only, so they hold no FTS5 syntax."""
    phrases = search_phrases(search)
    if not phrases:
        return None
    return " ".join(f'"{" ".join(words)}"*' for words in phrases)


def tsquery(search: str) -> str | None:
    """The same for PostgreSQL: words of a phrase follow each other (<->), the last a prefix."""
    phrases = search_phrases(search)
    if not phrases:
        return None
    return " & ".join(
        "(" + " <-> ".join([*words[:-1], f"{words[-1]}:*"]) + ")" for words in phrases
    )


def _sort_column(filters: HistoryFilters) -> Any:
    return {
        "date": MediaScan.created_at,
        "confidence": MediaScan.confidence,
        "riskScore": MediaScan.risk_score,
        "fileName": func.lower(MediaScan.file_name),
    }[filters.sort_by]


def _conditions(filters: HistoryFilters) -> list[Any]:
    """The history's filters besides the scope and the search."""
    conditions: list[Any] = []
    if filters.status:
        conditions.append(MediaScan.status == filters.status)
    if filters.media_type:
        conditions.append(MediaScan.media_type == filters.media_type)
    if filters.verdict:
        conditions.append(MediaScan.result == filters.verdict)
    if filters.start_date:
        conditions.append(MediaScan.created_at >= filters.start_date)
    if filters.end_date:
        conditions.append(MediaScan.created_at <= filters.end_date)
    return conditions


class MediaScanRepository:
    """Every listing starts from what the caller may see: an operative their own scans and
    those shared with them, assigned to them or in a case they read; analysts and admins
    everyone's (scans.access)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, scan: MediaScan) -> MediaScan:
        self.session.add(scan)
        self.session.flush()
        return scan

    def get(self, scan_id: uuid.UUID) -> MediaScan | None:
        return self.session.get(MediaScan, scan_id)

    def visible(self, viewer: User, scope: str = "all") -> Select[MediaScan, str]:
        query = select(MediaScan, User.name).join(User, User.id == MediaScan.user_id)
        if scope == "own":
            return query.where(MediaScan.user_id == viewer.id)
        if scope == "shared":
            return query.where(MediaScan.id.in_(shared_with(ScanKind.MEDIA, viewer.id)))
        if scope == "assigned":
            return query.where(MediaScan.id.in_(assigned_to(ScanKind.MEDIA, viewer.id)))
        dialect = self.session.get_bind().dialect.name
        return query.where(
            access.visible(ScanKind.MEDIA, viewer, MediaScan.user_id, MediaScan.id, dialect=dialect)
        )

    def by_ids(self, scan_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, MediaScan]:
        """The scans of these ids, whoever owns them."""
        if not scan_ids:
            return {}
        rows = self.session.scalars(select(MediaScan).where(MediaScan.id.in_(scan_ids)))
        return {scan.id: scan for scan in rows}

    def get_visible(self, viewer: User, scan_id: uuid.UUID) -> tuple[MediaScan, str] | None:
        row = self.session.execute(self.visible(viewer).where(MediaScan.id == scan_id)).first()
        return (row[0], row[1]) if row else None

    def history(
        self, viewer: User, filters: HistoryFilters
    ) -> tuple[list[tuple[MediaScan, str]], int]:
        if filters.search:
            # Full text narrows the rows first; they are then sorted as they are.
            query = self.filtered(viewer, filters)
            total = self.count(viewer, filters)
            rows = self.session.execute(
                self.ordered(query, filters)
                .offset((filters.page - 1) * filters.limit)
                .limit(filters.limit)
            )
            return [(row[0], row[1]) for row in rows], total
        # Otherwise a page from the indexes (core.paging): the ids in order from disjoint
        # parts (own scans, the others' granted; with a score, then without), then the rows.
        common = _conditions(filters)
        nullable = filters.sort_by in ("confidence", "riskScore")
        key = _sort_column(filters)
        groups: list[tuple[list[Any], int]] = [([], 0)]
        if nullable:
            groups = [([key.is_not(None)], 0), ([key.is_(None)], 1)]
        parts = [
            Part([visible, *common, *extra], group)
            for visible in self._parts(viewer, filters.scope)
            for extra, group in groups
        ]
        listing = paging.Listing(
            self.session,
            MediaScan,
            MediaScan.id,
            [key, MediaScan.created_at] if filters.sort_by != "date" else [key],
            descending=filters.sort_order == "desc",
        )
        ids, total = listing.page(parts, (filters.page - 1) * filters.limit, filters.limit)
        query = select(MediaScan, User.name).join(User, User.id == MediaScan.user_id)
        return [(row[0], row[1]) for row in listing.rows(query, ids)], total

    def _parts(self, viewer: User, scope: str) -> list[Any]:
        """What the viewer may read, as disjoint conditions each an index serves in order."""
        if scope == "own":
            return [MediaScan.user_id == viewer.id]
        if scope == "shared":
            return [MediaScan.id.in_(shared_with(ScanKind.MEDIA, viewer.id))]
        if scope == "assigned":
            return [MediaScan.id.in_(assigned_to(ScanKind.MEDIA, viewer.id))]
        if access.is_staff(viewer):
            return [true()]
        granted = MediaScan.id.in_(access.granted(ScanKind.MEDIA, viewer))
        return [MediaScan.user_id == viewer.id, and_(MediaScan.user_id != viewer.id, granted)]

    def count(self, viewer: User, filters: HistoryFilters) -> int:
        # The users join stays: the table is small, and search reads the operative's name.
        query = self.filtered(viewer, filters)
        return self.session.scalar(select(func.count()).select_from(query.subquery())) or 0

    def filtered(self, viewer: User, filters: HistoryFilters) -> Select[MediaScan, str]:
        """The history's rows before sorting and paging (also what bulk exports stream)."""
        query = self.visible(viewer, filters.scope).where(*_conditions(filters))
        if filters.search:
            query = self._search(query, filters.search)
        return query

    def ordered(
        self, query: Select[MediaScan, str], filters: HistoryFilters
    ) -> Select[MediaScan, str]:
        column = _sort_column(filters)
        keys = paging.directed(
            [column, MediaScan.created_at, MediaScan.id], filters.sort_order == "desc"
        )
        # Scans without a score (not finished) sort last either way.
        return query.order_by(column.is_(None), *keys)

    def _search(self, query: Select[MediaScan, str], search: str) -> Select[MediaScan, str]:
        digest = search.strip().lower()
        if SHA256.fullmatch(digest):
            # A full SHA-256 finds the scans of that content (the words index splits it).
            return query.where(MediaScan.sha256 == digest)
        if self.session.get_bind().dialect.name == "sqlite":
            match = fts5_query(search)
            if match is None:
                return query
            hits = (
                text("SELECT scan_id FROM media_scans_fts WHERE media_scans_fts MATCH :q")
                .bindparams(q=match)
                .columns(column("scan_id", MediaScan.id.type))
            )
            return query.where(MediaScan.id.in_(hits))
        expression = tsquery(search)
        if expression is None:
            return query
        terms = func.to_tsquery("simple", expression)
        operative = func.to_tsvector(
            "simple",
            func.regexp_replace(User.name + " " + User.username, "[^[:alnum:]]+", " ", "g"),
        )
        return query.where(or_(column("search_vector").op("@@")(terms), operative.op("@@")(terms)))

    def evidence(self, scan_id: uuid.UUID) -> Sequence[MediaEvidence]:
        return self.session.scalars(
            select(MediaEvidence)
            .where(MediaEvidence.scan_id == scan_id)
            .order_by(MediaEvidence.name)
        ).all()

    def evidence_item(self, scan_id: uuid.UUID, name: str) -> MediaEvidence | None:
        return self.session.scalar(
            select(MediaEvidence).where(
                MediaEvidence.scan_id == scan_id, MediaEvidence.name == name
            )
        )
