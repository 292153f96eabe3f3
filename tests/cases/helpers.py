"""Helpers for case tests: scans to put in cases, cases, reading rows behind the API."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.conftest import Account
from tests.live import LiveServer
from tests.malware.helpers import unique_content, upload, wait_for
from tests.media.helpers import photo_jpeg, upload_media, wait_media
from veriscan.audit.models import AuditEvent
from veriscan.malware.models import MalwareScan
from veriscan.media.models import MediaScan

MakeAccount = Callable[..., Account]


def iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def media_scan(api: httpx.Client, owner: Account, name: str = "p.jpg", seed: int = 3) -> str:
    """A finished media scan of the owner's."""
    response = upload_media(api, owner, photo_jpeg(seed=seed), name)
    assert response.status_code in (200, 202), response.text
    scan_id = str(response.json()["data"]["id"])
    wait_media(api, owner, scan_id)
    return scan_id


def malware_scan(api: httpx.Client, owner: Account, name: str = "s.txt") -> str:
    """A finished malware scan of the owner's."""
    scan_id = str(upload(api, owner, unique_content(), name)["scan"]["scan_id"])
    wait_for(api, owner, scan_id)
    return scan_id


def create_case(api: httpx.Client, caller: Account, **body: Any) -> dict[str, Any]:
    response = api.post("/api/cases", headers=caller.headers, json={"title": "A case", **body})
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def add_scan(
    api: httpx.Client, caller: Account, case_id: str, kind: str, scan_id: str
) -> httpx.Response:
    return api.post(
        f"/api/cases/{case_id}/scans",
        headers=caller.headers,
        json={"scanKind": kind, "scanId": scan_id},
    )


def audit_events(server: LiveServer, target_id: str) -> list[AuditEvent]:
    with server.context.db.session(writes=False) as session:
        return (
            session.query(AuditEvent)
            .filter(AuditEvent.target_type == "case", AuditEvent.target_id == target_id)
            .order_by(AuditEvent.created_at)
            .all()
        )


def malware_row(server: LiveServer, scan_id: str) -> MalwareScan:
    with server.context.db.session(writes=False) as session:
        row = session.get(MalwareScan, uuid.UUID(scan_id))
        assert row is not None
        session.expunge(row)
        return row


def media_row(server: LiveServer, scan_id: str) -> MediaScan:
    with server.context.db.session(writes=False) as session:
        row = session.get(MediaScan, uuid.UUID(scan_id))
        assert row is not None
        session.expunge(row)
        return row
