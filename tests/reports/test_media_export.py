"""GET /api/scans/{id}/export?format=json|csv|pdf: a media scan as a download."""

from __future__ import annotations

import csv
import io
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import Account, assert_envelope
from tests.live import LiveServer
from tests.reports.rows import media_scans, picture
from veriscan.audit.models import AuditEvent

EVIDENCE = [
    ("ela-heatmap", "Error-level analysis", picture((200, 40, 40), (320, 240))),
    ("faces", "Detected faces", picture((40, 40, 200), (1600, 400), "JPEG")),
]
EXPLANATION = "Blending seams around the jaw line and a GAN fingerprint in the spectrum."


def suspicious_scan(server: LiveServer, owner: Account) -> str:
    (scan_id,) = media_scans(
        server,
        owner.id,
        [
            {
                "file_name": "=cmd|' /C calc'!A0 interview.jpg",
                "result": "DEEPFAKE",
                "risk_score": 91,
                "confidence": 87,
                "gan_fingerprint": 76,
                "explanation": EXPLANATION,
                "tags": ["case-17", "@press"],
                "tags_text": "case-17 @press",
                "media_metadata": {"Make": "Canon", "Software": "+FaceSwap 2", "ISO": 200},
                "gps_latitude": -33.856784,
                "gps_longitude": 151.215297,
            }
        ],
        evidence=EVIDENCE,
    )
    return scan_id


def export(api: httpx.Client, account: Account, scan_id: str, fmt: str | None) -> httpx.Response:
    params = {} if fmt is None else {"format": fmt}
    return api.get(f"/api/scans/{scan_id}/export", headers=account.headers, params=params)


def assert_download(response: httpx.Response, scan_id: str, ext: str, media_type: str) -> None:
    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition == f'attachment; filename="veriscan-media-scan-{scan_id}.{ext}"'
    assert response.headers["content-type"].split(";")[0].strip() == media_type


def test_json_is_the_scan_as_the_api_gives_it(
    api: httpx.Client, server: LiveServer, account: Account
) -> None:
    scan_id = suspicious_scan(server, account)
    shown = api.get(f"/api/scans/{scan_id}", headers=account.headers).json()["data"]
    for fmt in ("json", None):  # JSON is the default
        response = export(api, account, scan_id, fmt)
        assert_download(response, scan_id, "json", "application/json")
        document = response.json()
        assert document["scan"] == shown
        assert document["mimeType"] == "image/jpeg"
        assert document["exportedBy"] == account.username
        assert document["exportedAt"].endswith("Z")
    assert [e["name"] for e in shown["evidence"]] == ["ela-heatmap", "faces"]


def test_csv_is_field_value_rows_safe_for_spreadsheets(
    api: httpx.Client, server: LiveServer, account: Account
) -> None:
    scan_id = suspicious_scan(server, account)
    response = export(api, account, scan_id, "csv")
    assert_download(response, scan_id, "csv", "text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["field", "value"]
    assert all(len(row) == 2 for row in rows)
    fields = dict(rows[1:])
    assert fields["id"] == scan_id
    assert fields["fileName"] == "'=cmd|' /C calc'!A0 interview.jpg"  # not a formula
    assert fields["result"] == "DEEPFAKE"
    assert fields["riskScore"] == "91" and fields["confidence"] == "87"
    assert fields["videoScore"] == "" and fields["ganFingerprint"] == "76"
    assert fields["explanation"] == EXPLANATION
    assert fields["tags"] == "case-17; @press"
    assert fields["gpsLatitude"] == "-33.856784"  # a number, left as one
    assert fields["metadata.Make"] == "Canon"
    assert fields["metadata.Software"] == "'+FaceSwap 2"
    assert fields["metadata.ISO"] == "200"
    assert fields["evidence.faces"] == "Detected faces"
    assert fields["mimeType"] == "image/jpeg"
    assert fields["hash"].startswith("sha256:")


def pdf_tool(*args: str | Path) -> str:
    return subprocess.run(list(args), check=True, capture_output=True, text=True).stdout


def test_pdf_has_the_verdict_explanation_and_every_picture(
    api: httpx.Client, server: LiveServer, account: Account, tmp_path: Path
) -> None:
    scan_id = suspicious_scan(server, account)
    response = export(api, account, scan_id, "pdf")
    assert_download(response, scan_id, "pdf", "application/pdf")
    source = tmp_path / "report.pdf"
    source.write_bytes(response.content)
    text = " ".join(pdf_tool("pdftotext", source, "-").split())
    for expected in (
        "interview.jpg",
        "DEEPFAKE",
        EXPLANATION,
        "91 / 100",
        "Canon",
        "-33.856784, 151.215297",
        "Error-level analysis",
        "Detected faces",
        account.username,
        "Page 1 of",
    ):
        assert expected in text, expected
    assert "n/a" in text  # the video, audio and temporal scores are null
    pdf_tool("pdftoppm", "-r", "40", "-png", source, tmp_path / "page")
    assert len(list(tmp_path.glob("page*.png"))) >= 1
    listing = pdf_tool("pdfimages", "-list", source).splitlines()[2:]
    images = [line.split() for line in listing if line.split()[2] == "image"]
    assert sorted((int(row[3]), int(row[4])) for row in images) == [(320, 240), (1600, 400)]


def test_pdf_without_evidence_or_scores_says_so(
    api: httpx.Client, server: LiveServer, account: Account, tmp_path: Path
) -> None:
    (scan_id,) = media_scans(
        server,
        account.id,
        [
            {
                "status": "FAILED",
                "result": None,
                "risk_score": None,
                "confidence": None,
                "error": "the decoder gave up",
                "explanation": "",
            }
        ],
    )
    source = tmp_path / "report.pdf"
    source.write_bytes(export(api, account, scan_id, "pdf").content)
    text = " ".join(pdf_tool("pdftotext", source, "-").split())
    assert "Analysis failed: the decoder gave up" in text
    assert "No evidence pictures" in text
    assert pdf_tool("pdfimages", "-list", source).splitlines()[2:] == []


def test_visibility_follows_the_scan_itself(
    api: httpx.Client, server: LiveServer, make_account: Callable[..., Account]
) -> None:
    owner, other, analyst = make_account(), make_account(), make_account("analyst")
    scan_id = suspicious_scan(server, owner)
    for fmt in ("json", "csv", "pdf"):
        assert_envelope(export(api, other, scan_id, fmt), 404, "NOT_FOUND")
        assert export(api, analyst, scan_id, fmt).status_code == 200
    assert_envelope(export(api, owner, str(uuid.uuid4()), "json"), 404)
    assert_envelope(export(api, owner, "not-a-uuid", "json"), 404)
    assert_envelope(api.get(f"/api/scans/{scan_id}/export"), 401)


def test_unsupported_format_is_400(api: httpx.Client, server: LiveServer, account: Account) -> None:
    scan_id = suspicious_scan(server, account)
    for fmt in ("xml", "PDF", "html", "json; x"):
        assert_envelope(export(api, account, scan_id, fmt), 400, "VALIDATION_ERROR")


def test_each_export_is_audited(
    api: httpx.Client, server: LiveServer, make_account: Callable[..., Account]
) -> None:
    owner, analyst = make_account(), make_account("analyst")
    scan_id = suspicious_scan(server, owner)
    assert export(api, analyst, scan_id, "csv").status_code == 200
    assert export(api, make_account(), scan_id, "pdf").status_code == 404
    with server.context.db.session(writes=False) as session:
        events = session.scalars(select(AuditEvent).where(AuditEvent.target_id == scan_id)).all()
        entries: list[dict[str, Any]] = [
            {"action": e.action, "actor": e.actor_username, "details": e.details} for e in events
        ]
    assert entries == [
        {
            "action": "scan.export",
            "actor": analyst.username,
            "details": {"format": "csv", "kind": "media"},
        }
    ]


def test_a_long_metadata_value_neither_breaks_the_pdf_nor_leaves_pages_blank(
    tmp_path: Path,
) -> None:
    """A table row cannot split across pages: a C2PA manifest as one value made the export
    fail (taller than a page) or left a page holding a few rows and nothing else."""
    from datetime import UTC, datetime

    from veriscan.reports.media import MediaReport, to_pdf

    metadata: dict[str, Any] = {f"EXIF:Field{i}": f"value {i}" for i in range(26)}
    metadata["C2PA:manifest"] = {"claims": [{"assertion": "x" * 60, "n": i} for i in range(60)]}
    metadata.update({f"XMP:Later{i}": f"later {i}" for i in range(5)})
    scan = {
        "id": str(uuid.uuid4()),
        "fileName": "photo.jpg",
        "mediaType": "IMAGE",
        "fileSize": 1000,
        "hash": "sha256:" + "0" * 64,
        "operative": "kim",
        "timestamp": "2026-12-05T00:00:00.000Z",
        "status": "COMPLETED",
        "result": "AUTHENTIC",
        "riskScore": 10,
        "tags": [],
        "explanation": "Nothing found.",
        "metadata": metadata,
    }
    source = tmp_path / "report.pdf"
    source.write_bytes(to_pdf(MediaReport(scan, "image/jpeg", [], datetime.now(UTC), "kim")))
    pages = int(
        next(
            line.split()[-1]
            for line in pdf_tool("pdfinfo", source).splitlines()
            if line.startswith("Pages:")
        )
    )
    lines = [
        len(
            [
                x
                for x in pdf_tool("pdftotext", "-f", str(n), "-l", str(n), source, "-").splitlines()
                if x.strip()
            ]
        )
        for n in range(1, pages + 1)
    ]
    assert pages == 2 and min(lines[:-1]) >= 40, lines
    text = pdf_tool("pdftotext", source, "-")
    assert "more characters: the JSON export has it whole)" in " ".join(text.split())
    assert "XMP:Later4" in text
