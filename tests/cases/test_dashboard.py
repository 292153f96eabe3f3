"""The cases pages and the result pages' "Add to case", in a browser."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.cases.helpers import media_scan
from tests.conftest import Account

sync_api = pytest.importorskip("playwright.sync_api")

from tests.web import test_dashboard as web  # noqa: E402

browser = web.browser
page = web.page
expect = sync_api.expect

CASE_ID = r"[0-9a-f-]{36}"


def test_case_from_creation_to_note(
    page: sync_api.Page, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner = make_account()
    scan_id = media_scan(api, owner, name="case-photo.jpg", seed=31)
    web.sign_in(page, owner)

    # The cases list, from the navigation; a new case opens its page.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    expect(page.get_by_role("heading", name="Cases", exact=True)).to_be_visible()
    expect(page.get_by_text("No cases yet.")).to_be_visible()
    form = page.locator("form.new-case")
    form.get_by_label("Title").fill("Harbour footage")
    form.get_by_label("Description").fill("Photos from the harbour <b>drop</b>")
    form.get_by_label("Priority").select_option("high")
    form.get_by_role("button", name="Create case").click()
    expect(page).to_have_url(re.compile(rf"/cases/{CASE_ID}$"))
    case_id = page.url.rsplit("/", 1)[1]
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour footage Open High")
    expect(page.locator(".case-header .explanation")).to_have_text(
        "Photos from the harbour <b>drop</b>"
    )
    no_scans = "No scans in this case yet. Add one from its result page."
    expect(page.locator("main")).to_contain_text(no_scans)

    # "Add to case" on the media result page offers the open case.
    page.goto(f"/scans/media/{scan_id}")
    control = page.locator("section.add-to-case")
    expect(control.get_by_label("Case")).to_have_value(case_id)
    control.get_by_role("button", name="Add to case").click()
    expect(control.get_by_role("status")).to_have_text("Added to Harbour footage.")
    # Twice is refused, inline.
    control.get_by_role("button", name="Add to case").click()
    expect(control.get_by_role("alert")).to_have_text("The scan is already in the case")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cases").click()
    page.locator("table.cases").get_by_role("link", name="Harbour footage").click()

    # The case page lists the scan, linked to its result page.
    expect(page).to_have_url(re.compile(rf"/cases/{case_id}$"))
    scans = page.locator("table.case-scans tbody tr")
    expect(scans).to_have_count(1)
    scan_link = scans.get_by_role("link")
    expect(scan_link).to_have_text("case-photo.jpg")
    expect(scan_link).to_have_attribute("href", f"/scans/media/{scan_id}")

    # Status: saved on change.
    page.get_by_label("Status", exact=True).select_option(label="In progress")
    expect(page.get_by_role("heading", level=1)).to_have_text("Harbour footage In progress High")
    expect(page.get_by_label("Status", exact=True)).to_have_value("in_progress")
    stored = api.get(f"/api/cases/{case_id}", headers=owner.headers).json()["data"]
    assert stored["status"] == "in_progress"

    # A note: listed, kept as typed.
    page.get_by_label("New note").fill("Metadata <i>stripped</i> before upload")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".note .comment-body")).to_have_text(
        ["Metadata <i>stripped</i> before upload"]
    )
    expect(page.get_by_label("New note")).to_have_value("")

    # The case's address is a page of its own: a reload (or a bookmark) opens it again.
    page.reload()
    expect(page.locator(".note .comment-body")).to_have_text(
        ["Metadata <i>stripped</i> before upload"]
    )

    # The timeline, oldest first: the case's own events, among the scan's own.
    case_events = page.locator("ol.timeline li[data-action^='case.'] .what")
    expect(case_events).to_have_text(
        [
            "Case created",
            "Scan added: case-photo.jpg",
            "Status changed from Open to In progress",
            "Note added",
        ]
    )
    expect(page.locator("ol.timeline li[data-action^='case.']").first).to_contain_text(
        f"by {owner.username}"
    )
    actions = page.locator("ol.timeline li").evaluate_all(
        "items => items.map((li) => li.dataset.action)"
    )
    assert actions == [
        "scan.uploaded",
        "scan.completed",
        "case.created",
        "case.scan_added",
        "case.status_changed",
        "case.note_added",
    ]

    web.snap(page, "case")

    # Back in the list, with the filters.
    page.get_by_role("link", name="← All cases").click()
    row = page.locator("table.cases tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td")).to_have_text(
        ["Harbour footage", "In progress", "High", owner.username, "1", "0", re.compile(r"\S")]
    )
    web.snap(page, "cases")
    page.get_by_label("Status").select_option("closed")
    page.get_by_role("button", name="Apply").click()
    expect(page.get_by_text("No cases match these filters.")).to_be_visible()


def test_case_members_and_notification_link(
    page: sync_api.Page, make_account: Callable[..., Account]
) -> None:
    owner, analyst = make_account("analyst"), make_account("analyst")
    web.sign_in(page, owner)
    page.get_by_role("link", name="Cases").click()
    form = page.locator("form.new-case")
    form.get_by_label("Title").fill("Shared inquiry")
    form.get_by_role("button", name="Create case").click()
    expect(page).to_have_url(re.compile(rf"/cases/{CASE_ID}$"))
    case_id = page.url.rsplit("/", 1)[1]

    page.get_by_label("Add member (username)").fill("nobody_at_all")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("alert")).to_have_text("User not found")
    page.get_by_label("Add member (username)").fill(analyst.username)
    page.get_by_role("button", name="Add member").click()
    expect(page.locator("ul.people .who")).to_have_text([analyst.username])
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("ol.timeline li .what").last).to_have_text(
        f"Member added: {analyst.username}"
    )

    # The member's notification leads to the case page.
    page.get_by_role("button", name="Sign out").click()
    web.sign_in(page, analyst)
    page.goto("/notifications")
    notice = page.get_by_role("link", name="Added to case: Shared inquiry")
    expect(notice).to_have_attribute("href", f"/cases/{case_id}")
    notice.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Shared inquiry Open Medium")

    # A member edits the title and description in place; only what changed is sent.
    page.get_by_role("button", name="Edit title and description").click()
    page.get_by_label("Title").fill("Shared inquiry (harbour)")
    page.get_by_label("Description").fill("Two <i>sources</i>")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Shared inquiry (harbour) Open Medium"
    )
    expect(page.locator(".case-header .explanation")).to_have_text("Two <i>sources</i>")
    expect(page.locator("ol.timeline li .what").last).to_have_text(
        "Details changed: title, description"
    )


def test_long_notes_and_timeline_show_more(
    page: sync_api.Page, api: httpx.Client, make_account: Callable[..., Account]
) -> None:
    owner = make_account()
    created = api.post("/api/cases", headers=owner.headers, json={"title": "Long inquiry"})
    assert created.status_code == 201, created.text
    case_id = created.json()["data"]["id"]
    for i in range(200):
        added = api.post(
            f"/api/cases/{case_id}/notes", headers=owner.headers, json={"body": f"Note {i:03d}"}
        )
        assert added.status_code == 201, added.text
    web.sign_in(page, owner)
    page.goto(f"/cases/{case_id}")
    # Notes come 100 a page, oldest first.
    notes = page.locator("article.note .comment-body")
    expect(notes).to_have_count(100)
    expect(notes.last).to_have_text("Note 099")
    page.get_by_role("button", name="Show more notes (100 more)").click()
    expect(notes).to_have_count(200)
    expect(notes.last).to_have_text("Note 199")
    expect(page.get_by_role("button", name=re.compile("Show more notes"))).to_have_count(0)
    # The timeline, 200 a page: the creation and 200 notes.
    events = page.locator("ol.timeline li")
    expect(events).to_have_count(200)
    page.get_by_role("button", name="Show more events (1 more)").click()
    expect(events).to_have_count(201)
    # After a new note the two pages shown stay shown; the new one is on a third.
    page.get_by_label("New note").fill("Note 200")
    page.get_by_role("button", name="Add note").click()
    expect(page.get_by_role("button", name="Show more notes (1 more)")).to_be_visible()
    expect(notes).to_have_count(200)
    expect(events).to_have_count(202)
