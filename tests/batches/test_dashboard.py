"""The upload page with several files: one batch, each file followed to both its answers,
and the file's page with both side by side."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from tests.conftest import Account
from tests.malware.helpers import eicar_variant, upload, wait_for
from tests.media.helpers import photo_jpeg
from tests.web.test_dashboard import browser, page, sign_in, snap, sync_api  # noqa: F401


def test_several_files_go_as_one_batch_with_both_answers(
    page: sync_api.Page,  # noqa: F811
    make_account: Callable[..., Account],
) -> None:
    """Every file scanned for malware, every picture also checked for authenticity: one
    row per file with both, and the file's page with both side by side."""
    account = make_account()
    sign_in(page, account)
    page.locator("#file-input").set_input_files(
        [
            {"name": "one.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(seed=11)},
            {"name": "two.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(seed=12)},
            {"name": "eicar.com", "mimeType": "text/plain", "buffer": eicar_variant()},
        ]
    )
    sync_api.expect(page.get_by_text("3 files (")).to_be_visible()
    page.get_by_role("button", name="Upload and scan").click()
    batch = page.locator("section.batch")
    sync_api.expect(batch.get_by_role("heading")).to_have_text(
        "Batch of 3 files: 3 accepted, 0 rejected"
    )
    summary = batch.locator(".batch-summary")
    sync_api.expect(summary).to_contain_text("malware: 3 completed", timeout=60_000)
    sync_api.expect(summary).to_contain_text("media: 2 completed", timeout=60_000)
    eicar = batch.locator("li", has_text="eicar.com")
    sync_api.expect(eicar.locator("[data-kind=malware]")).to_have_text(
        "malicious? detection ratio 1/1"
    )
    sync_api.expect(eicar.locator("[data-kind=media]")).to_have_text(
        "authentic? not a picture, video or recording"
    )
    one = batch.locator("li", has_text="one.jpg")
    sync_api.expect(one.locator("[data-kind=malware]")).to_have_text(
        "malicious? detection ratio 0/1"
    )
    sync_api.expect(one.locator("[data-kind=media]")).to_have_text(
        re.compile(r"^authentic\? (AUTHENTIC|SUSPICIOUS|DEEPFAKE) · risk \d+$")
    )
    sync_api.expect(batch.get_by_role("link", name="Both answers")).to_have_count(3)
    snap(page, "batch-both-answers")
    one.get_by_role("link", name="Both answers").click()
    sync_api.expect(page.get_by_role("heading", name="one.jpg", exact=True)).to_be_visible()
    sync_api.expect(page.get_by_label("Malware verdict")).to_contain_text(
        "0 of 1 engine flagged it as malicious"
    )
    authentic = page.get_by_label("Authenticity verdict")
    sync_api.expect(authentic.locator(".big .badge")).to_have_text(
        re.compile("^(AUTHENTIC|SUSPICIOUS|DEEPFAKE)$")
    )
    snap(page, "file-both-answers")
    snap(page, "file-both-answers-phone", width=390)
    authentic.get_by_role("link", name="Open the media result").click()
    sync_api.expect(page.get_by_role("heading", name=re.compile("one.jpg"))).to_be_visible()
    # The picture itself, and the way back to both answers.
    original = page.get_by_label("The file").locator("img.original")
    sync_api.expect(original).to_have_attribute("src", re.compile(r"^blob:"))
    page.get_by_role("link", name=re.compile("^Both answers for this file")).click()
    sync_api.expect(page.get_by_label("Malware verdict")).to_be_visible()


def test_a_stored_picture_is_checked_from_its_page(
    page: sync_api.Page,  # noqa: F811
    make_account: Callable[..., Account],
    api: httpx.Client,
) -> None:
    """A picture uploaded through the VirusTotal document's API has a malware verdict only:
    its page offers the authenticity check, which then runs live."""
    account = make_account()
    body = upload(api, account, photo_jpeg(seed=13), name="from-the-api.jpg")
    wait_for(api, account, body["scan"]["scan_id"])
    sign_in(page, account)
    page.goto(f"/files/{body['id']}")
    authentic = page.get_by_label("Authenticity verdict")
    sync_api.expect(authentic).to_contain_text("Not analysed yet.")
    authentic.get_by_role("button", name="Check its authenticity").click()
    sync_api.expect(authentic.locator(".big .badge")).to_have_text(
        re.compile("^(AUTHENTIC|SUSPICIOUS|DEEPFAKE)$"), timeout=60_000
    )
    history = api.get(
        "/api/scans/history", headers=account.headers, params={"search": body["hash_sha256"]}
    ).json()
    assert [row["fileName"] for row in history["data"]] == ["from-the-api.jpg"]
