"""The dashboard's export buttons, in headless Chromium (see tests/web/test_dashboard.py)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from tests.conftest import Account
from tests.live import LiveServer
from tests.reports.rows import media_scans, picture
from tests.web.test_dashboard import (  # noqa: F401  (fixtures, found by pytest by name)
    browser,
    page,
    pytestmark,
    sign_in,
)

sync_api = pytest.importorskip("playwright.sync_api")


def test_media_result_exports_a_pdf_and_history_downloads_all(
    page: sync_api.Page,  # noqa: F811
    server: LiveServer,
    account: Account,
) -> None:
    evidence = [("ela-heatmap", "Error-level analysis", picture((200, 40, 40), (64, 48)))]
    (scan_id,) = media_scans(
        server,
        account.id,
        [{"file_name": "harbour.jpg", "result": "SUSPICIOUS"}],
        evidence=evidence,
    )
    sign_in(page, account)
    page.goto(f"/scans/media/{scan_id}")
    sync_api.expect(page.get_by_role("heading", name=re.compile("harbour.jpg"))).to_be_visible()
    with page.expect_download() as info:
        page.get_by_role("button", name="Export PDF").click()
    download = info.value
    assert download.suggested_filename == f"veriscan-media-scan-{scan_id}.pdf"
    path = download.path()
    assert path is not None
    assert Path(path).read_bytes().startswith(b"%PDF")

    page.goto("/history?kind=media&verdict=SUSPICIOUS&limit=10")
    with page.expect_download() as info:
        page.get_by_role("button", name="Download all (CSV)").click()
    download = info.value
    assert re.fullmatch(r"veriscan-media-scans-\d{8}-\d{6}\.csv", download.suggested_filename)
    path = download.path()
    assert path is not None
    rows = list(csv.DictReader(io.StringIO(Path(path).read_text(encoding="utf-8-sig"))))
    assert [row["id"] for row in rows] == [scan_id]
