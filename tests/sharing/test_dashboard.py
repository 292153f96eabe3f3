"""The result pages' sharing panel and the lists' scope selector, in a browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.conftest import Account
from tests.malware.helpers import unique_content, upload, wait_for
from tests.media.helpers import photo_jpeg, upload_media, wait_media

sync_api = pytest.importorskip("playwright.sync_api")

from tests.web import test_dashboard as web  # noqa: E402

browser = web.browser
page = web.page
expect = sync_api.expect


def switch_to(page: sync_api.Page, account: Account) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Username or email")).to_be_visible()
    web.sign_in(page, account)


def test_share_a_malware_scan_through_the_panel(
    page: sync_api.Page, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner, reader = make_account(), make_account()
    scan_id = str(upload(api, owner, unique_content(), "shared-sample.txt")["scan"]["scan_id"])
    wait_for(api, owner, scan_id)

    web.sign_in(page, owner)
    page.goto(f"/scans/malware/{scan_id}")
    panel = page.locator("section.sharing")
    expect(panel.locator(".assignee")).to_have_text("Not assigned.")
    expect(panel.locator(".shares")).to_have_text("Not shared with anyone.")
    # A refusal shows in the panel, in the API's words.
    panel.get_by_label("Share with (username)").fill("nobody_at_all")
    panel.get_by_role("button", name="Share", exact=True).click()
    expect(panel.get_by_role("alert")).to_have_text("User not found")
    panel.get_by_label("Share with (username)").fill(reader.username)
    panel.get_by_role("button", name="Share", exact=True).click()
    expect(panel.locator(".shares .who")).to_have_text([reader.username])
    expect(panel.get_by_role("alert")).to_have_count(0)
    expect(panel.get_by_label("Share with (username)")).to_have_value("")
    shares = api.get(f"/api/scan/{scan_id}/shares", headers=owner.headers).json()["data"]
    assert [share["user"]["id"] for share in shares] == [reader.id]

    switch_to(page, reader)
    page.goto("/history?kind=malware")
    page.get_by_label("Show").select_option(label="Shared with me")
    expect(page).to_have_url(re.compile(r"/history\?kind=malware&scope=shared(&|$)"))
    expect(page.get_by_label("Show")).to_have_value("shared")
    rows = page.locator("main table.table tbody tr")
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name="shared-sample.txt").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("shared-sample.txt")
    expect(page.get_by_label("Detection ratio")).to_be_visible()

    switch_to(page, owner)
    page.goto(f"/scans/malware/{scan_id}")
    panel = page.locator("section.sharing")
    panel.get_by_role("button", name=f"Stop sharing with {reader.username}").click()
    expect(panel.locator(".shares")).to_have_text("Not shared with anyone.")

    switch_to(page, reader)
    page.goto("/history?kind=malware&scope=shared")
    expect(page.get_by_text("No scans match these filters.")).to_be_visible()
    expect(page.locator("main table.table")).to_have_count(0)


def test_assign_a_media_scan_through_the_panel(
    page: sync_api.Page, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner, analyst, bystander = make_account(), make_account("analyst"), make_account()
    response = upload_media(api, owner, photo_jpeg(seed=21), "assigned.jpg")
    assert response.status_code in (200, 202), response.text
    scan_id = str(response.json()["data"]["id"])
    wait_media(api, owner, scan_id)

    web.sign_in(page, owner)
    page.goto(f"/scans/media/{scan_id}")
    panel = page.locator("section.sharing")
    expect(panel.locator(".assignee")).to_have_text("Not assigned.")
    panel.get_by_label("Assign to (username)").fill(bystander.username)
    panel.get_by_role("button", name="Assign", exact=True).click()
    expect(panel.get_by_role("alert")).to_have_text("A scan is assigned to an analyst or an admin")
    panel.get_by_label("Assign to (username)").fill(analyst.username)
    panel.get_by_role("button", name="Assign", exact=True).click()
    expect(panel.locator(".assignee .who")).to_have_text(analyst.username)
    expect(panel.locator(".assignee .badge")).to_have_text("analyst")
    expect(panel.get_by_role("alert")).to_have_count(0)
    web.snap(page, "media-result-sharing")
    stored = api.get(f"/api/scans/{scan_id}/assignment", headers=owner.headers).json()["data"]
    assert stored["assignee"]["id"] == analyst.id

    switch_to(page, analyst)
    page.goto("/history?kind=media")
    page.get_by_label("Show").select_option(label="Assigned to me")
    expect(page.get_by_label("Show")).to_have_value("assigned")
    rows = page.locator("main table.table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.get_by_role("link")).to_have_text("assigned.jpg")
    expect(rows.get_by_role("link")).to_have_attribute("href", f"/scans/media/{scan_id}")
    # "Mine" is the analyst's own scans: none.
    page.get_by_label("Show").select_option(label="Mine")
    expect(page.get_by_label("Show")).to_have_value("own")
    expect(page.get_by_text("No scans match these filters.")).to_be_visible()

    # The assignee may hand it back: the panel empties.
    page.goto(f"/scans/media/{scan_id}")
    panel = page.locator("section.sharing")
    panel.get_by_role("button", name="Remove assignee").click()
    expect(panel.locator(".assignee")).to_have_text("Not assigned.")
    assert api.get(f"/api/scans/{scan_id}/assignment", headers=owner.headers).json()["data"] is None
