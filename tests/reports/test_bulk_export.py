"""GET /api/scans/export and GET /api/scan/export: every scan of a listing, streamed."""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer
from tests.reports.rows import malware_scans, media_scans
from veriscan.audit.models import AuditEvent

MEDIA_COLUMNS = [
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
    "metadata",
]
MALWARE_COLUMNS = [
    "scan_id",
    "file_id",
    "filename",
    "sha256",
    "status",
    "detection_ratio",
    "malicious",
    "suspicious",
    "undetected",
    "harmless",
    "scan_date",
    "error",
]


def bulk(api: httpx.Client, account: Account, path: str, fmt: str, **params: Any) -> httpx.Response:
    return api.get(path, headers=account.headers, params={"format": fmt, **params})


def rows_of(response: httpx.Response) -> list[dict[str, str]]:
    assert response.content.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def assert_attachment(response: httpx.Response, kind: str, fmt: str) -> None:
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.startswith(f'attachment; filename="veriscan-{kind}-scans-')
    assert disposition.endswith(f'.{fmt}"')
    # Streamed: no length known in advance.
    assert response.headers.get("transfer-encoding") == "chunked"


def test_media_export_applies_the_history_filters(
    api: httpx.Client, server: LiveServer, make_account: Callable[..., Account]
) -> None:
    owner, other = make_account(), make_account()
    word = f"otter{secrets.token_hex(3)}"
    ids = media_scans(
        server,
        owner.id,
        [
            {"file_name": f"{word} one.jpg", "result": "DEEPFAKE", "risk_score": 90},
            {"file_name": f"{word} two.jpg", "result": "AUTHENTIC", "risk_score": 5},
            {
                "file_name": f"{word} three.mp4",
                "media_type": "VIDEO",
                "result": "DEEPFAKE",
                "risk_score": 70,
            },
            {"file_name": "unrelated.jpg", "result": "DEEPFAKE", "risk_score": 99},
        ],
    )
    media_scans(server, other.id, [{"file_name": f"{word} theirs.jpg", "result": "DEEPFAKE"}])
    path = "/api/scans/export"

    everything = bulk(api, owner, path, "json")
    assert_attachment(everything, "media", "json")
    assert {item["id"] for item in everything.json()} == set(ids)  # not the other's scan

    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"verdict": "DEEPFAKE"}, [ids[3], ids[2], ids[0]]),
        ({"verdict": "DEEPFAKE", "search": word}, [ids[2], ids[0]]),
        ({"mediaType": "VIDEO"}, [ids[2]]),
        ({"search": word, "sortBy": "riskScore", "sortOrder": "asc"}, [ids[1], ids[2], ids[0]]),
        ({"status": "FAILED"}, []),
        ({"startDate": (datetime.now(UTC) + timedelta(days=2)).date().isoformat()}, []),
    ]
    for params, expected in cases:
        listed = api.get("/api/scans/history", headers=owner.headers, params=params).json()
        assert [item["id"] for item in listed["data"]] == expected, params  # the same rows
        exported = bulk(api, owner, path, "json", **params)
        assert [item["id"] for item in exported.json()] == expected, params
        csv_rows = rows_of(bulk(api, owner, path, "csv", **params))
        assert [row["id"] for row in csv_rows] == expected, params

    shown = api.get(f"/api/scans/{ids[0]}", headers=owner.headers).json()["data"]
    (item,) = bulk(api, owner, path, "json", search=f"{word} one").json()
    assert item == {key: value for key, value in shown.items() if key != "evidence"}


def test_media_csv_has_a_header_and_guarded_cells(
    api: httpx.Client, server: LiveServer, account: Account
) -> None:
    (scan_id,) = media_scans(
        server,
        account.id,
        [
            {
                "file_name": "=HYPERLINK(x).jpg",
                "tags": ["a", "b"],
                "media_metadata": {"Make": "Nikon"},
                "gps_latitude": -1.5,
                "gps_longitude": 2.25,
            }
        ],
    )
    response = bulk(api, account, "/api/scans/export", "csv")
    assert_attachment(response, "media", "csv")
    assert response.headers["content-type"].startswith("text/csv")
    header = response.content.decode("utf-8-sig").splitlines()[0]
    assert header.split(",") == MEDIA_COLUMNS
    (row,) = rows_of(response)
    assert row["id"] == scan_id
    assert row["fileName"] == "'=HYPERLINK(x).jpg"
    assert row["tags"] == "a; b"
    assert (row["gpsLatitude"], row["gpsLongitude"]) == ("-1.5", "2.25")
    assert json.loads(row["metadata"]) == {"Make": "Nikon"}
    assert row["operative"] == account.username


def test_analysts_export_everyone_and_bad_filters_are_400(
    api: httpx.Client, server: LiveServer, make_account: Callable[..., Account]
) -> None:
    first, second, analyst = make_account(), make_account(), make_account("analyst")
    word = f"heron{secrets.token_hex(3)}"
    mine = media_scans(server, first.id, [{"file_name": f"{word}.jpg"}])
    theirs = media_scans(server, second.id, [{"file_name": f"{word}.png"}])
    exported = bulk(api, analyst, "/api/scans/export", "json", search=word).json()
    assert {item["id"] for item in exported} == {*mine, *theirs}
    for bad in (
        {"format": "pdf"},
        {"format": "xml"},
        {"verdict": "FAKE"},
        {"startDate": "yesterday"},
        {"startDate": "2026-02-02", "endDate": "2026-01-01"},
    ):
        response = api.get("/api/scans/export", headers=analyst.headers, params=bad)
        assert_envelope(response, 400)
    assert_envelope(api.get("/api/scans/export"), 401)


def test_malware_export_applies_the_listing_filters(
    api: httpx.Client, server: LiveServer, make_account: Callable[..., Account]
) -> None:
    owner, other = make_account(), make_account()
    ids = malware_scans(
        server,
        owner.id,
        [
            {"filename": "clean.bin"},
            {"filename": "=evil.exe", "malicious": 4, "undetected": 1},
            {"filename": "worse.exe", "malicious": 5, "undetected": 0},
            {
                "filename": "broken.bin",
                "status": "failed",
                "with_verdict": 0,
                "undetected": 0,
                "error": "engine down",
            },
        ],
    )
    malware_scans(server, other.id, [{"filename": "theirs.exe", "malicious": 5}])
    path = "/api/scan/export"

    everything = bulk(api, owner, path, "json")
    assert_attachment(everything, "malware", "json")
    assert [item["scan_id"] for item in everything.json()] == ids[::-1]

    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"detection_min": "1"}, [ids[2], ids[1]]),
        ({"detection_min": "1", "detection_max": "4"}, [ids[1]]),
        ({"status": "failed"}, [ids[3]]),
        (
            {"sort_by": "detection_ratio", "sort_order": "desc", "status": "completed"},
            [ids[2], ids[1], ids[0]],
        ),
        ({"date_from": (datetime.now(UTC) + timedelta(days=2)).date().isoformat()}, []),
    ]
    for params, expected in cases:
        listed = api.get("/api/scan/results", headers=owner.headers, params=params).json()
        assert [s["id"] for s in listed["scans"]] == expected, params
        exported = bulk(api, owner, path, "json", **params).json()
        assert [item["scan_id"] for item in exported] == expected, params

    response = bulk(api, owner, path, "csv", detection_min="4")
    assert_attachment(response, "malware", "csv")
    header = response.content.decode("utf-8-sig").splitlines()[0]
    assert header.split(",") == MALWARE_COLUMNS
    rows = rows_of(response)
    assert [(r["filename"], r["detection_ratio"]) for r in rows] == [
        ("worse.exe", "5/5"),
        ("'=evil.exe", "4/5"),
    ]
    for bad in (
        {"status": "done"},
        {"detection_min": "5", "detection_max": "1"},
        {"format": "pdf"},
    ):
        assert_envelope(api.get(path, headers=owner.headers, params=bad), 400)


def test_bulk_exports_are_audited_with_their_count(
    api: httpx.Client, server: LiveServer, account: Account
) -> None:
    media_scans(server, account.id, [{}, {}])
    malware_scans(server, account.id, [{}])
    assert bulk(api, account, "/api/scans/export", "csv").status_code == 200
    assert bulk(api, account, "/api/scan/export", "json").status_code == 200
    with server.context.db.session(writes=False) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor_username == account.username)
            .where(AuditEvent.action == "scan.bulk_export")
            .order_by(AuditEvent.created_at)
        ).all()
        details = [e.details for e in events]
    assert details == [
        {"format": "csv", "kind": "media", "count": 2},
        {"format": "json", "kind": "malware", "count": 1},
    ]


def test_three_hundred_scans_stream_whole(
    api: httpx.Client, server: LiveServer, account: Account
) -> None:
    ids = media_scans(server, account.id, [{"file_name": f"bulk-{i:03d}.jpg"} for i in range(300)])
    with api.stream("GET", "/api/scans/export", headers=account.headers) as response:
        assert response.status_code == 200
        chunks = list(response.iter_raw())
    items = json.loads(b"".join(chunks))
    assert [item["id"] for item in items] == ids[::-1]
    assert len(chunks) > 1  # written as it was read, not in one piece
    csv_rows = rows_of(bulk(api, account, "/api/scans/export", "csv"))
    assert len(csv_rows) == 300
    assert csv_rows[-1]["fileName"] == "bulk-000.jpg"


def test_openapi_documents_the_exports(api: httpx.Client) -> None:
    spec = api.get("/openapi.json").json()

    def parameters(path: str) -> dict[str, Any]:
        operation = spec["paths"][path]["get"]
        assert {"400", "401"} <= set(operation["responses"]), path
        return {p["name"]: p["schema"] for p in operation["parameters"]}

    def formats(schema: dict[str, Any]) -> list[str]:
        return list(schema.get("enum") or schema["anyOf"][0]["enum"])

    media = parameters("/api/scans/export")
    assert formats(media["format"]) == ["json", "csv"]
    assert {"search", "status", "mediaType", "verdict", "startDate", "endDate"} <= set(media)
    assert not {"page", "limit"} & set(media)
    malware = parameters("/api/scan/export")
    assert formats(malware["format"]) == ["json", "csv"]
    assert {"status", "detection_min", "detection_max", "date_from", "date_to"} <= set(malware)
    one = parameters("/api/scans/{scan_id}/export")
    assert formats(one["format"]) == ["json", "csv", "pdf"]
    assert "404" in spec["paths"]["/api/scans/{scan_id}/export"]["get"]["responses"]
