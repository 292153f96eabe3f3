"""The upload page with several files: one batch, each file followed to its result."""

from __future__ import annotations

from collections.abc import Callable

from tests.conftest import Account
from tests.malware.helpers import unique_content
from tests.media.helpers import photo_jpeg
from tests.web.test_dashboard import browser, page, sign_in, sync_api  # noqa: F401


def test_several_files_go_as_one_batch(
    page: sync_api.Page,  # noqa: F811
    make_account: Callable[..., Account],
) -> None:
    account = make_account()
    sign_in(page, account)
    page.get_by_label("Media authenticity scan").check()
    page.locator("#file-input").set_input_files(
        [
            {"name": "one.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(seed=11)},
            {"name": "two.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(seed=12)},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": unique_content()},
        ]
    )
    sync_api.expect(page.get_by_text("3 files (")).to_be_visible()
    page.get_by_role("button", name="Upload and scan").click()
    batch = page.locator("section.batch")
    sync_api.expect(batch.get_by_role("heading")).to_have_text(
        "Batch of 3 files: 2 accepted, 1 rejected"
    )
    sync_api.expect(batch.locator("li", has_text="notes.txt")).to_contain_text("UNSUPPORTED_MEDIA")
    sync_api.expect(batch.locator(".batch-summary")).to_contain_text("2 completed", timeout=60_000)
    sync_api.expect(batch.get_by_role("link", name="Open the scan")).to_have_count(2)
    batch.locator("li", has_text="one.jpg").get_by_role("link", name="Open the scan").click()
    sync_api.expect(page.get_by_role("heading", name="one.jpg")).to_be_visible()
