"""The result pages' comments and the media page's tag editor, in a browser."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Account
from tests.malware.helpers import unique_content, upload, wait_for
from tests.media.helpers import photo_jpeg, upload_media

sync_api = pytest.importorskip("playwright.sync_api")

from tests.web import test_dashboard as web  # noqa: E402

browser = web.browser
page = web.page


def test_media_page_edits_tags_and_comments(
    page: sync_api.Page, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    response = upload_media(api, account, photo_jpeg(seed=9), "tagged.jpg", tags="before")
    assert response.status_code == 200, response.text
    scan_id = response.json()["data"]["id"]
    web.sign_in(page, account)
    page.goto(f"/scans/media/{scan_id}")
    tags = page.get_by_label("Tags (comma-separated)")
    sync_api.expect(tags).to_have_value("before")
    tags.fill("after, second")
    page.get_by_role("button", name="Save tags").click()
    sync_api.expect(page.locator(".tag-form").locator("xpath=..")).to_contain_text("second")
    stored = api.get(f"/api/scans/{scan_id}", headers=account.headers).json()["data"]
    assert stored["tags"] == ["after", "second"]

    sync_api.expect(page.get_by_text("No comments yet.")).to_be_visible()
    page.get_by_label("New comment").fill("first look")
    page.get_by_role("button", name="Add comment").click()
    sync_api.expect(page.locator(".comment-body")).to_have_text("first look")
    page.get_by_role("button", name="Edit", exact=True).click()
    page.get_by_label("Edit comment").fill("second look")
    page.get_by_role("button", name="Save", exact=True).click()
    sync_api.expect(page.locator(".comment-body")).to_have_text("second look")
    sync_api.expect(page.locator(".comment")).to_contain_text("edited")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete", exact=True).click()
    sync_api.expect(page.get_by_text("No comments yet.")).to_be_visible()


def test_malware_page_comments(
    page: sync_api.Page, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    scan_id = str(upload(api, account, unique_content(), "note.txt")["scan"]["scan_id"])
    wait_for(api, account, scan_id)
    web.sign_in(page, account)
    page.goto(f"/scans/malware/{scan_id}")
    page.get_by_label("New comment").fill("benign, checked")
    page.get_by_role("button", name="Add comment").click()
    sync_api.expect(page.locator(".comment-body")).to_have_text("benign, checked")
    listed = api.get(f"/api/scan/{scan_id}/comments", headers=account.headers).json()
    assert [item["body"] for item in listed["data"]] == ["benign, checked"]
