"""The bell and the notifications page in headless Chromium."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.live import LiveServer, LogCapture
from tests.malware.helpers import add_key, eicar_variant, upload, wait_for
from tests.web.test_dashboard import CHROMIUM, browser, page, sign_in  # noqa: F401 - fixtures

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}")


def test_the_bell_counts_live_and_the_page_marks_read(
    page: sync_api.Page,  # noqa: F811
    api: httpx.Client,
    make_account: Callable[..., Account],
    log_capture: LogCapture,
    vt: Any,
    server: LiveServer,
) -> None:
    account = make_account()
    add_key(api, account, vt)
    sign_in(page, account)
    count = page.locator("#bell-count")
    sync_api.expect(count).to_have_text("0")
    # The tab's socket.io connection is up before the scan finishes.
    deadline = time.monotonic() + 15
    while f"realtime.connected user_id={account.id}" not in log_capture.text():
        assert time.monotonic() < deadline, "the dashboard did not connect to socket.io"
        time.sleep(0.05)

    scan_id = upload(api, account, eicar_variant(), "payload.exe")["scan"]["scan_id"]
    wait_for(api, account, scan_id)
    sync_api.expect(count).to_have_text("1")  # pushed, no reload

    page.locator("#bell").click()
    sync_api.expect(page.get_by_role("heading", name="Notifications", exact=True)).to_be_visible()
    item = page.locator(f"li.notification:has(a[href='/scans/malware/{scan_id}'])")
    sync_api.expect(item).to_contain_text("Malware found in payload.exe")
    item.get_by_role("button", name="Mark read").click()
    sync_api.expect(count).to_have_text("0")
    sync_api.expect(item.get_by_role("button", name="Mark read")).to_have_count(0)
    unread = api.get("/api/notifications/unread-count", headers=account.headers)
    assert unread.json()["data"]["unread"] == 0
