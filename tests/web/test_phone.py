"""Every page of the dashboard at a phone's width (390 px) and a desktop's (1440 px): none
is wider than the viewport. Full-page screenshots of each are kept when
VERISCAN_SCREENSHOTS names a folder."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.live import LiveServer
from tests.malware.helpers import eicar_variant, upload, wait_for
from tests.media.helpers import photo_jpeg, upload_media, wait_media, webm_video

sync_api = pytest.importorskip("playwright.sync_api")

from tests.web.conftest import CHROMIUM  # noqa: E402
from tests.web.test_dashboard import sign_in, snap  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM} (Debian package chromium)"
)

WIDTHS = (390, 1440)


WIDEST = """() => [...document.querySelectorAll("main *")]
  .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1)
  .filter((e) => !e.closest(".scroll"))
  .slice(0, 6)
  .map((e) => `${e.tagName.toLowerCase()}.${e.className} `
    + Math.round(e.getBoundingClientRect().right))"""


def overflow(page: Any) -> int:
    """How far the page is wider than its viewport (0: it is not)."""
    return int(
        page.evaluate(
            "() => Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
            " - window.innerWidth"
        )
    )


def test_no_page_is_wider_than_a_phone(
    browser: Any,
    server: LiveServer,
    api: httpx.Client,
    make_account: Callable[..., Account],
) -> None:
    admin = make_account("admin")
    malware = upload(api, admin, eicar_variant(), name="a-rather-long-file-name-for-a-phone.com")
    wait_for(api, admin, malware["scan"]["scan_id"])
    media = upload_media(api, admin, photo_jpeg(seed=5), name="holiday-photo.jpg").json()
    wait_media(api, admin, media["data"]["id"])
    # A video stored once, with both answers: the file's page and the player with its frames.
    video = upload(api, admin, webm_video(2.0), name="a-clip-from-a-phone-camera.webm")
    started = api.post(
        "/api/files/media-scans", headers=admin.headers, json={"fileIds": [video["id"]]}
    )
    video_scan = started.json()["data"]["items"][0]["scanId"]
    wait_media(api, admin, video_scan, timeout=120)
    # An open case: the result pages then offer "Add to case" (a form that was too wide).
    case = api.post(
        "/api/cases",
        headers=admin.headers,
        json={"title": "A case with a title long enough to wrap on a phone", "priority": "high"},
    )
    assert case.status_code == 201, case.text
    pages = {
        "upload": "/upload",
        "history-malware": "/history?kind=malware",
        "history-media": "/history?kind=media",
        "malware-result": f"/scans/malware/{malware['scan']['scan_id']}",
        "media-result": f"/scans/media/{media['data']['id']}",
        "media-video": f"/scans/media/{video_scan}",
        "files": "/files",
        "file-eicar": f"/files/{malware['id']}",
        "file-video": f"/files/{video['id']}",
        "keys": "/keys",
        "cases": "/cases",
        "notifications": "/notifications",
        "profile": "/profile",
        "admin-stats": "/admin/stats",
        "admin-users": "/admin/users",
        "admin-audit": "/admin/audit",
    }
    too_wide = {}
    for width in WIDTHS:
        context = browser.new_context(base_url=server.url, viewport={"width": width, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            sign_in(page, admin)
            # The bell is drawn, not an emoji that shows as a box without an emoji font.
            sync_api.expect(page.locator("#bell svg")).to_have_count(1)
            assert "\U0001f514" not in page.locator("#nav").inner_text()
            for name, path in pages.items():
                page.goto(path)
                sync_api.expect(page.locator("main h1").first).to_be_visible()
                page.wait_for_load_state("networkidle")
                extra = overflow(page)
                if extra > 0:
                    too_wide[f"{name}@{width}"] = (extra, page.evaluate(WIDEST))
                snap(page, f"{name}-{width}", width=width)
                page.set_viewport_size({"width": width, "height": 900})
        finally:
            context.close()
    assert too_wide == {}, repr(too_wide)
