"""The audit log page in headless Chromium (fixtures shared with tests/web)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import Account
from tests.malware.helpers import unique_content, upload
from tests.web.test_dashboard import (  # noqa: F401 - fixtures, found by name
    browser,
    page,
    pytestmark,
    sign_in,
    sync_api,
)


def test_admin_reads_filters_and_exports_the_log(
    page: sync_api.Page,  # noqa: F811
    make_account: Callable[..., Account],
) -> None:
    admin = make_account("admin")
    sign_in(page, admin)
    page.get_by_role("link", name="Audit log").click()
    sync_api.expect(page.get_by_role("heading", name="Audit log")).to_be_visible()
    sync_api.expect(page.locator("table.audit tbody tr").first).to_be_visible()

    page.get_by_label("Actor").fill(admin.username)
    page.get_by_label("Action").select_option("auth.")
    page.get_by_role("button", name="Apply").click()
    sync_api.expect(page).to_have_url(
        re.compile(rf"/admin/audit\?actor={admin.username}&action=auth\.$")
    )
    rows = page.locator("table.audit tbody tr")
    sync_api.expect(rows.first).to_contain_text("auth.login")
    assert all(admin.username in text for text in rows.all_inner_texts())
    # The filters survive a reload: they live in the address.
    page.reload()
    sync_api.expect(page.get_by_label("Actor")).to_have_value(admin.username)
    sync_api.expect(page.get_by_label("Action")).to_have_value("auth.")

    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV").click()
    download = info.value
    assert re.fullmatch(r"veriscan-audit-\d{8}T\d{6}Z\.csv", download.suggested_filename)
    path = download.path()
    assert path is not None
    exported = list(csv.DictReader(io.StringIO(Path(path).read_text("utf-8"))))
    assert exported and {row["actor_username"] for row in exported} == {admin.username}
    assert "auth.login" in {row["action"] for row in exported}

    # An operative sees no link, and the API's refusal at the address.
    page.get_by_role("button", name="Sign out").click()
    sync_api.expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    operative = make_account()
    sign_in(page, operative)
    assert page.get_by_role("link", name="Audit log").count() == 0
    page.goto("/admin/audit")
    sync_api.expect(page.get_by_role("alert")).to_be_visible()
    assert page.locator("table.audit").count() == 0


def test_the_log_is_readable_and_leads_to_what_it_names(
    page: sync_api.Page,  # noqa: F811
    make_account: Callable[..., Account],
    api: httpx.Client,
) -> None:
    admin = make_account("admin")
    owner, colleague = make_account(), make_account()
    body = upload(api, owner, unique_content("audited"), "audited.txt")
    scan_id = body["scan"]["scan_id"]
    shared = api.post(
        f"/api/scan/{scan_id}/shares", headers=owner.headers, json={"username": colleague.username}
    )
    assert shared.status_code in (200, 201), shared.text
    sign_in(page, admin)
    page.goto("/admin/audit")
    # Every action group can be chosen, cases, comments and sharing included.
    sync_api.expect(page.locator("table.audit tbody tr").first).to_be_visible()
    options = (
        page.get_by_label("Action")
        .locator("option")
        .evaluate_all("options => options.map((o) => o.textContent)")
    )
    for wanted in ("Cases (case.*)", "Comments (comment.*)", "Sharing: scan.share"):
        assert wanted in options
    page.get_by_label("Action").select_option("scan.share")
    page.get_by_role("button", name="Apply").click()
    row = page.locator("table.audit tbody tr").first
    sync_api.expect(row.locator("td[data-label=Action] code")).to_have_text("scan.share")
    assert row.locator("code").evaluate("e => getComputedStyle(e).whiteSpace") == "nowrap"
    # The target's id leads to the scan.
    row.get_by_role("link", name=scan_id).click()
    sync_api.expect(page).to_have_url(re.compile(rf"/scans/malware/{scan_id}$"))
