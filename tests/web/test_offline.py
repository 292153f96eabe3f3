"""The dashboard and /docs load nothing from another host: in headless Chromium, every
request to another host is refused and recorded, and the pages still work."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import Account
from tests.live import LiveServer

sync_api = pytest.importorskip("playwright.sync_api")

from tests.web.conftest import CHROMIUM  # noqa: E402
from tests.web.test_dashboard import sign_in  # noqa: E402

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM} (Debian package chromium)"
)


@pytest.fixture
def walled(browser: Any, server: LiveServer) -> Iterator[tuple[Any, list[str]]]:
    """A page whose requests to any host but the server's are refused and recorded."""
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(15_000)
    elsewhere: list[str] = []
    own = urlsplit(server.url).netloc

    def guard(route: Any) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    try:
        yield context.new_page(), elsewhere
    finally:
        context.close()


def test_swagger_ui_works_with_no_way_out(walled: tuple[Any, list[str]]) -> None:
    page, elsewhere = walled
    page.goto("/docs")
    sync_api.expect(page.locator(".swagger-ui .info .title")).to_contain_text("Veriscan")
    sync_api.expect(page.locator(".opblock-tag-section").first).to_be_visible()
    icon = page.locator("link[rel~=icon]").first.get_attribute("href")
    assert icon == "/static/vendor/swagger-ui/favicon-32x32.png"
    assert elsewhere == []


def test_the_dashboard_loads_nothing_from_elsewhere(
    walled: tuple[Any, list[str]], make_account: Callable[..., Account]
) -> None:
    page, elsewhere = walled
    account = make_account()
    sign_in(page, account)
    for link in ("History", "Keys", "Upload"):
        page.get_by_role("link", name=link).click()
        sync_api.expect(page.get_by_role("heading").first).to_be_visible()
    assert elsewhere == []
