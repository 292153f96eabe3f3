"""The analytics and health sections of the admin statistics page, in headless Chromium."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from tests.admin.test_analytics import Rows
from tests.conftest import Account
from tests.live import LiveServer
from tests.web.test_dashboard import browser, page, sign_in, snap, sync_api  # noqa: F401
from tests.web.test_dashboard import pytestmark as dashboard_marks

pytestmark = dashboard_marks


def test_analytics_and_health_panels(
    page: sync_api.Page,  # noqa: F811
    server: LiveServer,
    make_account: Callable[..., Account],
) -> None:
    busiest = make_account()
    rows = Rows(server, busiest)
    now = datetime.now(UTC)
    for _ in range(40):  # more than any other user of the shared server today
        rows.malware(now, malicious=1)
    rows.media(now, "DEEPFAKE")
    admin = make_account("admin")
    sign_in(page, admin)
    page.get_by_role("link", name="Statistics").click()

    analytics = page.locator("section.analytics")
    expect = sync_api.expect
    expect(analytics.get_by_role("figure", name="Scans per day")).to_be_visible()
    expect(analytics.locator("figure.trend-box svg")).to_have_count(2)
    first = analytics.get_by_role("table").locator("tbody tr").first
    expect(first).to_contain_text(busiest.username)
    expect(first).to_contain_text("41")
    # The existing charts are still the five they were.
    expect(page.locator("figure.chart-box svg")).to_have_count(5)

    analytics.get_by_label("Period").select_option("month")
    expect(analytics.get_by_role("figure", name="Scans per month")).to_be_visible()
    expect(analytics.get_by_role("figure", name="Verdicts per month")).to_be_visible()
    label = analytics.locator("figure.trend-box svg").first.get_attribute("aria-label") or ""
    assert f"{now:%Y-%m} malware scans " in label

    health = page.locator("section", has=page.get_by_role("heading", name="Health"))
    database = health.get_by_role("row", name="Database")
    expect(database).to_contain_text("ok")
    expect(health.get_by_role("row", name="ClamAV")).to_contain_text("disabled")
    snap(page, "admin-analytics")
