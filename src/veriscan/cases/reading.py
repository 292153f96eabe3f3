"""Reading cases: a case with its members and scans, the listing, notes and timeline.
Whoever does not read a case is told it does not exist."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from veriscan.accounts.models import User
from veriscan.cases.models import CaseMember, CaseNote, CaseScan
from veriscan.cases.repository import CaseFilters, CaseRepository, CaseRow
from veriscan.core.errors import NotFound
from veriscan.scans import ScanKind, ScanRef, access
from veriscan.scans.hooks import hooks_for

CASE_NOT_FOUND = "Case not found"
_FINISHED = {"completed": "scan.completed", "failed": "scan.failed"}


@dataclass(frozen=True)
class ScanItem:
    """A scan in a case, as the case shows it."""

    kind: str
    scan_id: uuid.UUID
    file_name: str
    status: str
    verdict: str | None
    detection_ratio: str | None
    created_at: datetime
    completed_at: datetime | None
    added_at: datetime
    added_by: User | None


@dataclass(frozen=True)
class CaseView:
    row: CaseRow
    created_by: User | None
    members: list[tuple[CaseMember, User]]
    scans: list[ScanItem]
    # Scans in the case the viewer does not read: an admin who takes no part in the case
    # sees it, but not the malware scans of others in it (scans/access.py).
    hidden_scans: int = 0


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    action: str
    actor: tuple[uuid.UUID, str] | None
    details: dict[str, Any]


def readable_case(session: Session, viewer: User, case_id: uuid.UUID) -> CaseRow:
    row = CaseRepository(session).get_readable(viewer, case_id)
    if row is None:
        raise NotFound(CASE_NOT_FOUND)
    return row


def view(session: Session, viewer: User, case_id: uuid.UUID) -> CaseView:
    return _view(session, viewer, readable_case(session, viewer, case_id))


def _view(session: Session, viewer: User, row: CaseRow) -> CaseView:
    repository = CaseRepository(session)
    case = row.case
    members = repository.members(case.id)
    created_by = repository.user(case.created_by) if case.created_by else None
    links = repository.case_scans(case.id)
    shown = _readable_links(session, viewer, row, links, members)
    return CaseView(
        row,
        created_by,
        members,
        scan_items(session, shown),
        hidden_scans=len(links) - len(shown),
    )


def _takes_part(viewer: User, row: CaseRow, members: list[tuple[CaseMember, User]]) -> bool:
    return row.case.owner_id == viewer.id or any(user.id == viewer.id for _, user in members)


def _readable_links(
    session: Session,
    viewer: User,
    row: CaseRow,
    links: list[CaseScan],
    members: list[tuple[CaseMember, User]],
) -> list[CaseScan]:
    """The case's scans the viewer reads: all of them for its owner and members (the case
    is their grant), only those they read anyway for an admin taking no part."""
    if _takes_part(viewer, row, members):
        return links
    readable = _readable_keys(session, viewer, [(link.scan_kind, link.scan_id) for link in links])
    return [link for link in links if (link.scan_kind, link.scan_id) in readable]


def _readable_keys(
    session: Session, viewer: User, keys: list[tuple[str, uuid.UUID]]
) -> set[tuple[str, uuid.UUID]]:
    readable: set[tuple[str, uuid.UUID]] = set()
    for kind in ScanKind:
        ids = [scan_id for scan_kind, scan_id in keys if scan_kind == kind.value]
        readable |= {(kind.value, i) for i in access.readable_ids(session, viewer, kind, ids)}
    return readable


def scan_items(session: Session, links: list[CaseScan]) -> list[ScanItem]:
    repository = CaseRepository(session)
    scans: dict[tuple[str, uuid.UUID], ScanRef] = {}
    for kind in ScanKind:
        ids = [link.scan_id for link in links if link.scan_kind == kind.value]
        if ids:
            loaded = hooks_for(kind).load(session, ids)
            scans.update(((kind.value, scan_id), scan) for scan_id, scan in loaded.items())
    adders = repository.users([link.added_by for link in links if link.added_by])
    items = []
    for link in links:
        # A link to a scan deleted meanwhile shows nothing (its cleanup removes the link).
        found = scans.get((link.scan_kind, link.scan_id))
        if found is None:
            continue
        items.append(
            ScanItem(
                found.kind.value,
                found.id,
                found.file_name,
                found.status,
                found.verdict,
                found.detection_ratio,
                found.created_at,
                found.completed_at,
                link.added_at,
                adders.get(link.added_by) if link.added_by else None,
            )
        )
    return items


def _scan_key(details: dict[str, Any]) -> tuple[str, uuid.UUID] | None:
    try:
        return str(details["scanKind"]), uuid.UUID(str(details["scanId"]))
    except (KeyError, ValueError):
        return None


def list_cases(
    session: Session, viewer: User, filters: CaseFilters
) -> tuple[list[CaseRow], int, int]:
    rows, total = CaseRepository(session).listing(viewer, filters)
    return rows, total, math.ceil(total / filters.limit) if total else 0


def list_notes(
    session: Session, viewer: User, case_id: uuid.UUID, page: int, limit: int
) -> tuple[list[CaseNote], int, int]:
    readable_case(session, viewer, case_id)
    rows, total = CaseRepository(session).notes(case_id, page, limit)
    return rows, total, math.ceil(total / limit) if total else 0


def timeline(
    session: Session, viewer: User, case_id: uuid.UUID, page: int, limit: int
) -> tuple[list[TimelineItem], int, int]:
    """The case's events and its scans' uploads and outcomes, oldest first."""
    row = readable_case(session, viewer, case_id)
    repository = CaseRepository(session)
    events = repository.events(case_id)
    links = repository.case_scans(case_id)
    members = repository.members(case_id)
    shown = _readable_links(session, viewer, row, links, members)
    hidden: set[tuple[str, uuid.UUID]] = set()
    if not _takes_part(viewer, row, members):
        # An admin taking no part: events about scans they do not read say only the kind.
        keys = [key for event in events if (key := _scan_key(event.details)) is not None]
        hidden = set(keys) - _readable_keys(session, viewer, list(set(keys)))
    items = [
        TimelineItem(
            event.created_at,
            event.action,
            (event.actor_id, event.actor_username or "") if event.actor_id else None,
            (
                {"scanKind": event.details["scanKind"], "hidden": True}
                if _scan_key(event.details) in hidden
                else event.details
            ),
        )
        for event in events
    ]
    for scan in scan_items(session, shown):
        about = {"scanKind": scan.kind, "scanId": str(scan.scan_id), "fileName": scan.file_name}
        items.append(TimelineItem(scan.created_at, "scan.uploaded", None, about))
        finished = _FINISHED.get(scan.status.lower())
        if finished and scan.completed_at is not None:
            outcome = (
                {"verdict": scan.verdict}
                if scan.kind == ScanKind.MEDIA.value
                else {"detectionRatio": scan.detection_ratio}
            )
            items.append(TimelineItem(scan.completed_at, finished, None, {**about, **outcome}))
    items.sort(key=lambda item: item.at)  # stable: a case's own events first on a tie
    total = len(items)
    start = (page - 1) * limit
    return items[start : start + limit], total, math.ceil(total / limit) if total else 0
