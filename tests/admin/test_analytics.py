"""GET /api/admin/analytics: scans per day, week and month, counted by the database.

Rows are written straight into the server's database with the times each test needs, in
years no other test writes to, so the counts are exact on the shared server. They are
finished (completed or failed), so no worker or sweeper picks them up.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer
from veriscan.admin.analytics import resolve_range
from veriscan.files.models import Blob, File
from veriscan.malware.models import MalwareScan, ScanStatus
from veriscan.media.models import MediaScan, MediaStatus


class Rows:
    """Writes finished scans of one user at given times."""

    def __init__(self, server: LiveServer, account: Account) -> None:
        self.server = server
        self.user_id = uuid.UUID(account.id)
        self.sha256 = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        with server.context.db.session() as session:
            session.add(Blob(sha256=self.sha256, size=1, ref_count=1))
            session.flush()
            stored = File(
                user_id=self.user_id,
                filename="sample.bin",
                file_size=1,
                mime_type="application/octet-stream",
                hash_md5="0" * 32,
                hash_sha1="0" * 40,
                hash_sha256=self.sha256,
            )
            session.add(stored)
        self.file_id = stored.id

    def malware(self, at: datetime, *, status: str = "completed", malicious: int = 0) -> None:
        with self.server.context.db.session() as session:
            session.add(
                MalwareScan(
                    user_id=self.user_id,
                    file_id=self.file_id,
                    sha256=self.sha256,
                    status=ScanStatus(status).value,
                    malicious=malicious,
                    with_verdict=max(malicious, 1),
                    created_at=at,
                    deadline_at=at + timedelta(hours=1),
                )
            )

    def media(self, at: datetime, verdict: str | None) -> None:
        status = MediaStatus.FAILED if verdict is None else MediaStatus.COMPLETED
        with self.server.context.db.session() as session:
            session.add(
                MediaScan(
                    user_id=self.user_id,
                    file_name="photo.jpg",
                    media_type="IMAGE",
                    mime_type="image/jpeg",
                    file_size=1,
                    sha256=self.sha256,
                    status=status.value,
                    result=verdict,
                    created_at=at,
                    deadline_at=at + timedelta(hours=1),
                )
            )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def get(api: httpx.Client, admin: Account, **params: str) -> dict[str, Any]:
    response = api.get("/api/admin/analytics", headers=admin.headers, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return dict(body["data"])


ZERO_MALWARE = {"total": 0, "completed": 0, "failed": 0, "detected": 0}
ZERO_MEDIA = {"total": 0, "DEEPFAKE": 0, "SUSPICIOUS": 0, "AUTHENTIC": 0, "failed": 0}


def test_days_weeks_and_months(
    api: httpx.Client, server: LiveServer, make_account: Callable[..., Account]
) -> None:
    admin = make_account("admin")
    rows = Rows(server, make_account())
    # 2001-03-04 is a Sunday, 2001-03-05 a Monday.
    rows.malware(at("2001-03-04T00:00:00"), malicious=3)
    rows.malware(at("2001-03-04T23:59:59.999999"), status="failed")
    rows.malware(at("2001-03-05T00:00:00"))
    rows.media(at("2001-03-04T12:00:00"), "DEEPFAKE")
    rows.media(at("2001-03-05T08:00:00"), "AUTHENTIC")
    rows.media(at("2001-03-07T08:00:00"), "SUSPICIOUS")
    rows.media(at("2001-03-07T09:00:00"), None)
    rows.malware(at("2001-04-30T23:00:00"), malicious=1)
    # Outside every range asked for below.
    rows.malware(at("2001-03-02T23:59:59"))
    rows.media(at("2001-05-01T00:00:00"), "AUTHENTIC")

    days = get(api, admin, period="day", **{"from": "2001-03-03", "to": "2001-03-07"})
    assert (days["period"], days["from"], days["to"]) == ("day", "2001-03-03", "2001-03-07")
    assert [b["start"] for b in days["series"]] == [f"2001-03-0{d}" for d in range(3, 8)]
    by_day = {b["start"]: (b["malware"], b["media"]) for b in days["series"]}
    assert by_day["2001-03-03"] == (ZERO_MALWARE, ZERO_MEDIA)
    assert by_day["2001-03-04"] == (
        {"total": 2, "completed": 1, "failed": 1, "detected": 1},
        {**ZERO_MEDIA, "total": 1, "DEEPFAKE": 1},
    )
    assert by_day["2001-03-05"] == (
        {"total": 1, "completed": 1, "failed": 0, "detected": 0},
        {**ZERO_MEDIA, "total": 1, "AUTHENTIC": 1},
    )
    assert by_day["2001-03-06"] == (ZERO_MALWARE, ZERO_MEDIA)
    assert by_day["2001-03-07"] == (
        ZERO_MALWARE,
        {**ZERO_MEDIA, "total": 2, "SUSPICIOUS": 1, "failed": 1},
    )

    # Weeks start on Monday: Sunday the 4th is in the week of Monday 26 February.
    weeks = get(api, admin, period="week", **{"from": "2001-02-26", "to": "2001-03-11"})
    assert [b["start"] for b in weeks["series"]] == ["2001-02-26", "2001-03-05"]
    assert [b["malware"]["total"] for b in weeks["series"]] == [3, 1]
    assert [b["media"]["total"] for b in weeks["series"]] == [1, 3]

    months = get(api, admin, period="month", **{"from": "2001-02-01", "to": "2001-04-30"})
    assert [b["start"] for b in months["series"]] == ["2001-02-01", "2001-03-01", "2001-04-01"]
    assert months["series"][0]["malware"] == ZERO_MALWARE
    assert months["series"][1]["malware"] == {
        "total": 4,
        "completed": 3,
        "failed": 1,
        "detected": 1,
    }
    assert months["series"][2]["malware"] == {
        "total": 1,
        "completed": 1,
        "failed": 0,
        "detected": 1,
    }
    assert months["series"][1]["media"] == {
        "total": 4,
        "DEEPFAKE": 1,
        "SUSPICIOUS": 1,
        "AUTHENTIC": 1,
        "failed": 1,
    }
    assert months["series"][2]["media"] == ZERO_MEDIA


def test_top_users(
    api: httpx.Client, server: LiveServer, make_account: Callable[..., Account]
) -> None:
    admin = make_account("admin")
    quiet, busy, busiest = make_account(), make_account(), make_account()
    day = at("2002-06-10T10:00:00")
    Rows(server, quiet).media(day, "AUTHENTIC")
    busy_rows = Rows(server, busy)
    for _ in range(2):
        busy_rows.malware(day)
    busy_rows.media(day, "DEEPFAKE")
    busiest_rows = Rows(server, busiest)
    for hour in range(4):
        busiest_rows.malware(day + timedelta(hours=hour))
    # Scans out of the range do not count.
    for _ in range(5):
        Rows(server, quiet).malware(at("2002-06-12T00:00:00"))

    data = get(api, admin, period="day", **{"from": "2002-06-10", "to": "2002-06-11"})
    assert data["topUsers"] == [
        {"id": busiest.id, "username": busiest.username, "scans": 4},
        {"id": busy.id, "username": busy.username, "scans": 3},
        {"id": quiet.id, "username": quiet.username, "scans": 1},
    ]
    assert sum(b["malware"]["total"] + b["media"]["total"] for b in data["series"]) == 8


def test_default_ranges(api: httpx.Client, make_account: Callable[..., Account]) -> None:
    admin = make_account("admin")
    today = datetime.now(UTC).date()
    default = get(api, admin)
    assert default["period"] == "day" and default["to"] == today.isoformat()
    assert len(default["series"]) == 30
    assert default["series"][-1]["start"] == today.isoformat()
    weeks = get(api, admin, period="week")["series"]
    assert len(weeks) == 12
    assert date.fromisoformat(weeks[-1]["start"]) == today - timedelta(days=today.weekday())
    assert all(date.fromisoformat(b["start"]).weekday() == 0 for b in weeks)
    months = get(api, admin, period="month")["series"]
    assert len(months) == 12 and months[-1]["start"] == today.replace(day=1).isoformat()


@pytest.mark.parametrize(
    ("period", "start", "end", "expected"),
    [
        ("day", None, date(2024, 3, 1), (date(2024, 2, 1), 30)),  # 29 February counts
        ("week", None, date(2024, 1, 3), (date(2023, 10, 16), 12)),
        ("month", None, date(2024, 1, 31), (date(2023, 2, 1), 12)),
        ("month", date(2023, 12, 15), date(2024, 2, 1), (date(2023, 12, 15), 3)),
    ],
)
def test_ranges_and_buckets(
    period: Any, start: date | None, end: date, expected: tuple[date, int]
) -> None:
    first, last, buckets = resolve_range(period, start, end, date(2030, 1, 1))
    assert (first, len(buckets)) == expected and last == end
    assert buckets[-1] <= end


def test_only_admins_and_bad_queries(
    api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    admin, analyst = make_account("admin"), make_account("analyst")
    assert_envelope(api.get("/api/admin/analytics", headers=analyst.headers), 403)
    assert_envelope(api.get("/api/admin/analytics"), 401)
    for params in (
        {"period": "year"},
        {"from": "2001-13-01"},
        {"from": "2001-03-02", "to": "2001-03-01"},
        {"period": "day", "from": "2001-01-01", "to": "2003-01-01"},  # too many buckets
        {"period": "month", "to": "0001-02-01"},  # before the calendar's first month
    ):
        response = api.get("/api/admin/analytics", headers=admin.headers, params=params)
        assert_envelope(response, 400, "VALIDATION_ERROR")
