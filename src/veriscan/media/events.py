"""The socket.io events of media scans: to the owner, and to analysts and admins (the
final ones also to those who read it through a grant: scans.access.grantees)."""

from __future__ import annotations

import uuid
from typing import Any

from veriscan.context import AppContext
from veriscan.realtime import STAFF_ROOM, user_room
from veriscan.scans import ScanKind
from veriscan.scans.access import grantee_rooms


def _rooms(user_id: uuid.UUID) -> list[str]:
    return [user_room(user_id), STAFF_ROOM]


def progress(
    context: AppContext, user_id: uuid.UUID, scan_id: uuid.UUID, percent: int, stage: str
) -> None:
    data: dict[str, Any] = {
        "scanId": str(scan_id),
        "kind": "media",
        "progress": percent,
        "stage": stage,
    }
    context.realtime.publish("scan:progress", data, _rooms(user_id))


def complete(
    context: AppContext, user_id: uuid.UUID, scan_id: uuid.UUID, result: str, risk: int
) -> None:
    data = {"scanId": str(scan_id), "kind": "media", "result": result, "riskScore": risk}
    rooms = [*_rooms(user_id), *grantee_rooms(context, ScanKind.MEDIA, scan_id)]
    context.realtime.publish("scan:complete", data, rooms)


def error(context: AppContext, user_id: uuid.UUID, scan_id: uuid.UUID, message: str) -> None:
    data = {"scanId": str(scan_id), "kind": "media", "error": message}
    rooms = [*_rooms(user_id), *grantee_rooms(context, ScanKind.MEDIA, scan_id)]
    context.realtime.publish("scan:error", data, rooms)
