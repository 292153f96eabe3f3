"""The dashboard in headless Chromium (Debian's package), driven by Playwright.

One browser for the module, a fresh context (cookies, storage) per test. Set
VERISCAN_SCREENSHOTS=docs/screenshots to keep pictures of the main pages.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.live import LiveServer
from tests.malware.helpers import add_key, eicar_variant, upload, wait_for
from tests.media.helpers import photo_jpeg, upload_media, wait_media

sync_api = pytest.importorskip("playwright.sync_api")

from tests.web import conftest as web  # noqa: E402

CHROMIUM = web.CHROMIUM
# Re-exported: the dashboard tests of other packages take their fixtures from here.
browser = web.browser

SCREENSHOTS = os.environ.get("VERISCAN_SCREENSHOTS", "").strip()

pytestmark = pytest.mark.skipif(
    shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM} (Debian package chromium)"
)


@pytest.fixture
def page(browser: sync_api.Browser, server: LiveServer) -> Iterator[sync_api.Page]:
    context = browser.new_context(base_url=server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on(
        "console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None
    )
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], errors


def snap(page: sync_api.Page, name: str, *, width: int = 1280) -> None:
    """Keep a picture of the page when asked to (VERISCAN_SCREENSHOTS=folder)."""
    if not SCREENSHOTS:
        return
    folder = Path(SCREENSHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": width, "height": 900})
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page: sync_api.Page, account: Account, *, by_email: bool = False) -> None:
    page.goto("/signin")
    page.get_by_label("Username or email").fill(account.email if by_email else account.username)
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_role("heading", name="Upload")).to_be_visible()


def test_security_headers_on_pages_and_assets(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url) as client:
        for path in ("/", "/scans/malware/0c7c1a8e-0000-4000-8000-000000000000", "/static/app.css"):
            response = client.get(path)
            assert response.status_code == 200, path
            policy = response.headers["content-security-policy"]
            assert "default-src 'self'" in policy
            assert f"ws://127.0.0.1:{server.port}" in policy
            assert "frame-ancestors 'none'" in policy
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert response.headers["x-frame-options"] == "DENY"
        assert "<main" in client.get("/").text
        # The API keeps its own answers: unknown paths are still enveloped 404s.
        missing = client.get("/api/nothing-here")
        assert missing.status_code == 404
        assert missing.json()["success"] is False
        assert client.get("/static/vendor/socket.io.min.js").status_code == 200


def test_sign_in_and_out(page: sync_api.Page, make_account: Callable[..., Account]) -> None:
    account = make_account()
    page.goto("/history")  # a protected page sends you to sign in first
    sync_api.expect(page).to_have_url(re.compile(r"/signin$"))
    page.get_by_label("Username or email").fill(account.username)
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    sync_api.expect(page.get_by_role("alert")).to_contain_text("nvalid")
    snap(page, "signin")
    page.get_by_label("Password").fill(account.password)
    page.get_by_role("button", name="Sign in").click()
    # ...and back to where you were going.
    sync_api.expect(page.get_by_role("heading", name="History")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    sync_api.expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, account, by_email=True)


def test_upload_scans_live_then_result_and_pdf(
    page: sync_api.Page, make_account: Callable[..., Account]
) -> None:
    account = make_account()
    sign_in(page, account)
    page.locator("#file-input").set_input_files(
        {"name": "eicar.com", "mimeType": "application/octet-stream", "buffer": eicar_variant()}
    )
    sync_api.expect(page.get_by_text("eicar.com (")).to_be_visible()
    snap(page, "upload")
    page.get_by_role("button", name="Upload and scan").click()
    # The scan's progress arrives over socket.io; the page changes without reloading.
    page.evaluate("window.__sameDocument = true")
    # One upload, both questions: the malware verdict, and why there is no authenticity one.
    malware = page.locator(".live").get_by_label("Malware verdict")
    sync_api.expect(malware.locator(".badge")).to_have_text("malicious")
    sync_api.expect(malware).to_contain_text("1/1 1 of 1 engine flagged it as malicious")
    sync_api.expect(page.locator(".live").get_by_label("Authenticity verdict")).to_have_text(
        "Is it authentic?Not a picture, video or recording: there is no authenticity to check."
    )
    assert page.evaluate("window.__sameDocument") is True
    snap(page, "upload-complete")

    page.get_by_role("link", name="Open the malware result").click()
    sync_api.expect(page.get_by_role("heading", name=re.compile("eicar.com"))).to_be_visible()
    sync_api.expect(page.get_by_label("Detection ratio")).to_have_text(re.compile(r"^1/\d+$"))
    sync_api.expect(page.locator(".ratio-words")).to_have_text(
        "1 of 1 engine flagged the file as malicious (local engines only; VirusTotal did not "
        "run: No active VirusTotal API key)"
    )
    sync_api.expect(page.locator("figure.chart-box svg rect.chart-bar")).to_have_count(7)
    sync_api.expect(page.get_by_text("SHA-256")).to_be_visible()
    assert "null" not in page.locator("main").inner_text()
    # Which engines ran and which did not, in words.
    coverage = page.get_by_label("Engines that ran")
    sync_api.expect(coverage.locator("li[data-engine=ClamAV]")).to_have_text(
        "ClamAV did not run ClamAV is not configured on this server (VERISCAN_CLAMD_SOCKET)"
    )
    sync_api.expect(coverage.locator("li[data-engine=VirusTotal]")).to_have_text(
        "VirusTotal did not run No active VirusTotal API key"
    )
    engines = page.locator("table.table tbody tr")
    sync_api.expect(engines.first).to_be_visible()
    page.get_by_role("combobox", name=re.compile("^Category")).select_option("malicious")
    sync_api.expect(engines).to_have_count(1)
    sync_api.expect(engines.first).to_contain_text("malicious")
    page.get_by_role("combobox", name=re.compile("^Category")).select_option("")
    page.get_by_role("button", name="Engine").click()
    sync_api.expect(page.locator("th[data-key=engine_name]")).to_have_attribute(
        "aria-sort", "ascending"
    )
    snap(page, "malware-result")
    snap(page, "malware-result-phone", width=390)

    with page.expect_download() as info:
        page.get_by_role("button", name="Export PDF").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    path = download.path()
    assert path is not None
    assert Path(path).read_bytes().startswith(b"%PDF")


def test_history_filters(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client
) -> None:
    account = make_account()
    flagged = upload(api, account, eicar_variant(), name="flagged.com")
    clean_content = f"clean {secrets.token_hex(8)}\n".encode()
    clean = upload(api, account, clean_content, name="clean.txt")
    for body in (flagged, clean):
        assert wait_for(api, account, body["scan"]["scan_id"])["status"] == "completed"
    response = upload_media(api, account, photo_jpeg(seed=3), name="holiday.jpg", tags="case-7")
    media_id = response.json()["data"]["id"]
    assert wait_media(api, account, media_id)["status"] == "COMPLETED"

    sign_in(page, account)
    page.get_by_role("link", name="History").click()
    rows = page.locator("table.table tbody tr")
    sync_api.expect(rows).to_have_count(2)
    page.get_by_label("Detections from").fill("1")
    page.get_by_role("button", name="Apply").click()
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text("flagged.com")
    assert "detection_min=1" in page.url
    snap(page, "history-malware")
    page.get_by_label("Detections from").fill("5")
    page.get_by_role("button", name="Apply").click()
    sync_api.expect(page.get_by_text("No scans match these filters.")).to_be_visible()

    # Search by a part of the name, then by a hash; the verdict column says what it means.
    page.get_by_label("Detections from").fill("")
    page.get_by_label("Search").fill("FLAGGED")
    page.get_by_role("button", name="Apply").click()
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first.locator("td[data-label=Verdict]")).to_have_text("malicious")
    page.get_by_label("Search").fill("")
    page.get_by_label("Hash").fill(hashlib.sha256(clean_content).hexdigest())
    page.get_by_role("button", name="Apply").click()
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text("clean.txt")
    sync_api.expect(rows.first.locator("td[data-label=Verdict]")).to_have_text(
        "no local rule matched"
    )

    page.get_by_role("link", name="Media scans").click()
    page.get_by_label("Search").fill("case-7")
    page.get_by_role("button", name="Apply").click()
    sync_api.expect(rows).to_have_count(1)
    snap(page, "history-media")
    page.get_by_role("link", name="holiday.jpg").click()
    sync_api.expect(page.get_by_role("heading", name=re.compile("holiday.jpg"))).to_be_visible()
    sync_api.expect(page.get_by_text("Risk score")).to_be_visible()
    sync_api.expect(page.get_by_text("case-7")).to_be_visible()
    snap(page, "media-result")


def test_history_follows_the_unfinished_scans_on_its_page(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client, vt: Any
) -> None:
    account = make_account()
    add_key(api, account, vt)
    content = f"busy {secrets.token_hex(8)}\n".encode()
    # VirusTotal answers 503 to every lookup of this file: the scan stays in progress.
    vt.fail_next(10_000, status=503, path_prefix=f"/files/{hashlib.sha256(content).hexdigest()}")
    try:
        scan_id = upload(api, account, content, name="busy.txt")["scan"]["scan_id"]
        deadline = time.monotonic() + 10
        while (
            api.get(f"/api/scan/{scan_id}/status", headers=account.headers).json()["status"]
            != "scanning"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        sign_in(page, account)
        page.get_by_role("link", name="History").click()
        row = page.locator(f"tr[data-scan='{scan_id}']")
        sync_api.expect(row).to_contain_text("scanning")
        page.evaluate("window.__sameDocument = true")
    finally:
        vt.clear_faults()
    # The outcome arrives over socket.io and the row changes without reloading the page.
    sync_api.expect(row.locator("td[data-label=Status]")).to_have_text("completed", timeout=30_000)
    sync_api.expect(row.locator("td[data-label=Detections]")).to_have_text(re.compile(r"^0/\d+$"))
    assert page.evaluate("window.__sameDocument") is True


def test_keys_are_listed_without_their_value(
    page: sync_api.Page, make_account: Callable[..., Account], vt: object
) -> None:
    account = make_account()
    value = secrets.token_hex(32)
    vt.add_key(value)  # type: ignore[attr-defined]
    sign_in(page, account)
    page.get_by_role("link", name="Keys").click()
    sync_api.expect(page.get_by_text("No VirusTotal keys yet.")).to_be_visible()
    page.get_by_label("Name").fill("Team key")
    page.get_by_label("VirusTotal API key").fill(value)
    page.get_by_role("button", name="Validate").click()
    sync_api.expect(page.get_by_text("valid", exact=False).first).to_be_visible()
    page.get_by_role("button", name="Add key").click()
    row = page.locator("tr", has_text="Team key")
    sync_api.expect(row).to_be_visible()
    sync_api.expect(row).to_contain_text("yes")
    assert value not in page.content()
    row.get_by_role("button", name="Deactivate").click()
    sync_api.expect(page.locator("tr", has_text="Team key")).to_contain_text("no")
    page.get_by_label("New name for Team key").fill("Renamed key")
    page.get_by_role("button", name="Rename").click()
    sync_api.expect(page.locator("tr", has_text="Renamed key")).to_be_visible()
    snap(page, "keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    sync_api.expect(page.get_by_text("No VirusTotal keys yet.")).to_be_visible()


def test_admin_statistics(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client, vt: object
) -> None:
    operative = make_account()
    add_key(api, operative, vt)
    admin = make_account("admin")
    sign_in(page, admin)
    page.get_by_role("link", name="Statistics").click()
    sync_api.expect(page.get_by_role("heading", name="Statistics")).to_be_visible()
    sync_api.expect(page.locator("figure.chart-box svg")).to_have_count(5)
    sync_api.expect(page.get_by_text("operational")).to_be_visible()
    snap(page, "admin-stats")

    # An operative who types the address gets the API's own refusal.
    page.get_by_role("button", name="Sign out").click()
    sync_api.expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, operative)
    page.goto("/admin/stats")
    sync_api.expect(page.get_by_role("alert")).to_be_visible()
    assert page.get_by_role("link", name="Statistics").count() == 0


def test_admin_manages_users(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client
) -> None:
    operative = make_account()
    admin = make_account("admin")

    def reported() -> dict[str, object]:
        response = api.get(
            "/api/admin/users", params={"search": operative.username}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        [user] = response.json()["data"]
        return dict(user)

    sign_in(page, admin)
    page.get_by_role("link", name="Users").click()
    sync_api.expect(page.get_by_role("heading", name="Users")).to_be_visible()
    page.get_by_label("Search").fill(operative.username)
    page.get_by_label("Role", exact=True).select_option("operative")
    page.get_by_role("button", name="Apply").click()
    rows = page.locator("table.users tbody tr")
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(rows.first).to_contain_text(operative.email)
    assert f"search={operative.username}" in page.url

    page.get_by_label(f"Role for {operative.username}").select_option("analyst")
    sync_api.expect(page.get_by_text("role is now analyst")).to_be_visible()
    assert reported()["role"] == "analyst"

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Deactivate {operative.username}").click()
    sync_api.expect(rows.first).to_contain_text("inactive")
    sync_api.expect(
        page.get_by_role("button", name=f"Activate {operative.username}")
    ).to_be_focused()
    # Polled: once in CI (a loaded 2-core machine) the server logged this update only
    # after the page already showed it; not understood yet (see the session note).
    deadline = time.monotonic() + 10
    while reported()["is_active"] is not False:
        assert time.monotonic() < deadline, "the API still reports the user active"
        time.sleep(0.1)

    # The API's own message when it refuses: the username is taken.
    page.get_by_label("Username", exact=True).fill(operative.username)
    page.get_by_label("Email", exact=True).fill(f"other-{operative.email}")
    page.get_by_label("Password", exact=True).fill("another-long-password")
    page.get_by_role("button", name="Create user").click()
    sync_api.expect(page.get_by_role("alert")).to_have_text("Username already exists")
    snap(page, "admin-users")

    # An operative sees no link, and the API's refusal at the address.
    page.get_by_role("button", name="Sign out").click()
    sync_api.expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    other = make_account()
    sign_in(page, other)
    assert page.get_by_role("link", name="Users").count() == 0
    page.goto("/admin/users")
    sync_api.expect(page.get_by_role("alert")).to_be_visible()
    assert page.locator("table.users").count() == 0


def test_an_unknown_page_gets_the_dashboards_not_found(page: sync_api.Page) -> None:
    response = page.goto("/no/such/page")
    assert response is not None and response.status == 404
    sync_api.expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    sync_api.expect(page.get_by_text("There is no such page.")).to_be_visible()


def test_only_a_browsers_page_request_gets_html(server: LiveServer) -> None:
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    with httpx.Client(base_url=server.url) as client:
        page = client.get("/no/such/page", headers=html)
        assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert '<script type="module" src="/static/js/app.js"' in page.text
        # Scripts, the API and POSTs keep the error envelope.
        for method, path, headers in (
            ("GET", "/no/such/page", {"Accept": "application/json"}),
            ("GET", "/api/no/such/thing", html),
            ("GET", "/static/no-such.js", html),
            ("POST", "/no/such/page", html),
        ):
            answer = client.request(method, path, headers=headers)
            assert answer.status_code in (404, 405), (method, path)
            assert answer.json()["success"] is False, (method, path)


def test_history_has_one_page_size_and_remembers_it(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client
) -> None:
    account = make_account()
    for i in range(12):
        body = upload(api, account, f"page {i} {secrets.token_hex(8)}\n".encode(), name=f"p{i}.txt")
        wait_for(api, account, body["scan"]["scan_id"])
    sign_in(page, account)
    page.get_by_role("link", name="History").click()
    rows = page.locator("table.table tbody tr")
    sync_api.expect(rows).to_have_count(12)  # 20 a page, as for media scans (the API says 10)
    sync_api.expect(page.get_by_label("Per page")).to_have_value("20")
    page.get_by_label("Per page").select_option("10")
    page.get_by_role("button", name="Apply").click()
    sync_api.expect(rows).to_have_count(10)
    page.get_by_role("link", name="Media scans").click()
    sync_api.expect(page.get_by_label("Per page")).to_have_value("10")  # remembered
    page.get_by_role("link", name="Malware scans").click()
    sync_api.expect(rows).to_have_count(10)


def test_a_single_media_upload_shows_its_live_stages(
    page: sync_api.Page, make_account: Callable[..., Account]
) -> None:
    """Not "Uploading 100%" for the whole analysis: the upload answers at once (Prefer:
    respond-async) and the analysis's stages arrive over socket.io."""
    account = make_account()
    sign_in(page, account)
    page.evaluate(
        """() => {
          window.__stages = [];
          new MutationObserver(() => {
            const where = ".live [aria-label='Authenticity verdict'] .stage";
            for (const el of document.querySelectorAll(where)) {
              const text = el.textContent;
              if (window.__stages[window.__stages.length - 1] !== text) window.__stages.push(text);
            }
          }).observe(document.body, {subtree: true, childList: true, characterData: true});
        }"""
    )
    page.locator("#file-input").set_input_files(
        {"name": "castle.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg(seed=77)}
    )
    page.get_by_role("button", name="Upload and scan").click()
    authentic = page.locator(".live").get_by_label("Authenticity verdict")
    sync_api.expect(authentic.locator(".big .badge")).to_have_text(
        re.compile("^(AUTHENTIC|SUSPICIOUS|DEEPFAKE)$")
    )
    sync_api.expect(authentic.get_by_role("link", name="Open the media result")).to_be_visible()
    malware = page.locator(".live").get_by_label("Malware verdict")
    sync_api.expect(malware).to_contain_text("0 of 1 engine flagged it as malicious")
    stages = page.evaluate("window.__stages")
    live = [s for s in stages if re.fullmatch(r"[\w:. ]+ \(\d+%\)", s)]
    assert live, stages  # at least one stage with its percentage, before "Completed"
    assert stages[-1] == "Completed"


def test_sharing_suggests_people_as_one_types(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client
) -> None:
    owner, colleague = make_account(), make_account()
    body = upload(api, owner, f"shared {secrets.token_hex(8)}\n".encode(), name="shared.txt")
    wait_for(api, owner, body["scan"]["scan_id"])
    sign_in(page, owner)
    page.goto(f"/scans/malware/{body['scan']['scan_id']}")
    field = page.get_by_label("Share with (username)")
    field.press_sequentially(colleague.username[:-2])
    option = page.locator(f"datalist option[value='{colleague.username}']")
    sync_api.expect(option).to_have_count(1)
    field.fill(colleague.username)
    page.get_by_role("button", name="Share").click()
    sync_api.expect(page.locator(".shares")).to_contain_text(colleague.username)


def test_a_media_result_shows_its_evidence_in_words(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client
) -> None:
    """Content Credentials in a panel, GPS with a link to the place, scores that say which
    way is bad, no rows for scores a still picture does not have, the explanation as a
    list, and evidence pictures that open full size."""
    from tests.analyzers.fixtures import created_manifest, gps_exif, image_bytes, make_test_ca
    from tests.analyzers.fixtures import sign as c2pa_sign

    picture = image_bytes("JPEG", (320, 240), exif=gps_exif(48.8584, 2.2945))
    signed = c2pa_sign(
        picture, "image/jpeg", created_manifest("trainedAlgorithmicMedia"), make_test_ca()
    )
    account = make_account()
    scan_id = upload_media(api, account, signed, name="signed.jpg").json()["data"]["id"]
    assert wait_media(api, account, scan_id)["status"] == "COMPLETED"
    sign_in(page, account)
    page.goto(f"/scans/media/{scan_id}")
    credentials = page.get_by_label("Content Credentials")
    sync_api.expect(credentials).to_contain_text(
        "intact, but the signer is not in this server's trust list"
    )
    sync_api.expect(credentials).to_contain_text("AI declaredyes")  # a term and its value
    sync_api.expect(credentials).to_contain_text("trainedAlgorithmicMedia")
    sync_api.expect(credentials).to_contain_text("Actionscreated")
    sync_api.expect(credentials).to_contain_text(
        "the signing certificate is not in the trust list signingCredential.untrusted"
    )
    osm = page.get_by_role("link", name="Show on OpenStreetMap")
    assert osm.get_attribute("href") == (
        "https://www.openstreetmap.org/?mlat=48.85840&mlon=2.29450#map=16/48.85840/2.29450"
    )
    sync_api.expect(
        page.get_by_text("0 = no sign of manipulation, 100 = certainly")
    ).to_be_visible()
    main = page.locator("main").inner_text()
    assert "Video" not in main.split("Scores (0-100)")[0] and "Temporal" not in main
    assert page.locator("ul.explanation li").count() >= 2
    first = page.locator(".evidence a.full-size").first
    sync_api.expect(first).to_have_attribute("href", re.compile(r"^blob:"))
    assert '"c2pa"' not in main  # no raw JSON of the manifest in the metadata table
    # The camera from EXIF (the fixture's GPS EXIF names a model).
    sync_api.expect(page.locator("main")).to_contain_text("CameraTest Camera")


def test_a_video_plays_with_its_sampled_frames_and_a_recording_with_its_spectrogram(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client
) -> None:
    import io

    import soundfile

    from tests.analyzers.test_audio import RATE, recorded_voice
    from tests.media.helpers import webm_video

    voice = io.BytesIO()
    soundfile.write(voice, recorded_voice(seconds=4.0), RATE, format="WAV", subtype="PCM_16")
    account = make_account()
    video = upload_media(api, account, webm_video(3.0), name="clip.webm").json()["data"]
    video = wait_media(api, account, video["id"], timeout=120)
    recording = upload_media(api, account, voice.getvalue(), name="voice.wav").json()["data"]
    recording = wait_media(api, account, recording["id"], timeout=120)
    sign_in(page, account)

    page.goto(f"/scans/media/{video['id']}")
    shown = page.get_by_label("The file")
    player = shown.locator("video.original")
    sync_api.expect(player).to_have_attribute("src", re.compile(r"^blob:"))
    marks = shown.get_by_role("group", name="Sampled frames").locator("button.mark")
    sync_api.expect(marks).to_have_count(len(video["frames"]))
    page.wait_for_function("() => document.querySelector('video.original').readyState >= 1")
    last = video["frames"][-1]
    marks.last.click()
    seconds = player.evaluate("v => v.currentTime")
    assert abs(seconds - last["time"]) < 0.05, (seconds, last)
    frame = video["frames"][0]
    at = f"{int(frame['time'] // 60)}:{frame['time'] % 60:04.1f}"
    sync_api.expect(shown.locator("ol.frames li").first).to_have_text(
        re.compile(rf"^{re.escape(at)}: risk {frame['score']}(, \d+ faces?)?$")
    )
    snap(page, "media-video")

    page.goto(f"/scans/media/{recording['id']}")
    shown = page.get_by_label("The file")
    sync_api.expect(shown.locator("audio.original")).to_have_attribute("src", re.compile("^blob:"))
    spectrogram = shown.locator("img.spectrogram")
    sync_api.expect(spectrogram).to_have_attribute("src", re.compile(r"^blob:"))
    sync_api.expect(shown.locator("figcaption")).to_contain_text("Spectrogram of the first")
    snap(page, "media-audio")


def test_the_files_page_pages_with_the_total_from_the_api(
    page: sync_api.Page, make_account: Callable[..., Account], api: httpx.Client
) -> None:
    account = make_account()
    for n in range(23):
        upload(
            api, account, f"paged file {n} {secrets.token_hex(4)}\n".encode(), name=f"f{n:02}.txt"
        )
    sign_in(page, account)
    page.get_by_role("link", name="Files", exact=True).click()
    rows = page.locator("table.files tbody tr")
    sync_api.expect(rows).to_have_count(20)
    sync_api.expect(page.locator("main")).to_contain_text("23 files")
    sync_api.expect(rows.first).to_contain_text("f22.txt")  # newest first
    page.get_by_role("button", name="Next").click()
    sync_api.expect(rows).to_have_count(3)
    sync_api.expect(rows.last).to_contain_text("f00.txt")
    sync_api.expect(page).to_have_url(re.compile(r"/files\?page=2&per_page=20$"))
    page.get_by_label("Search").fill("f07")
    page.get_by_role("button", name="Search").click()
    sync_api.expect(rows).to_have_count(1)
    sync_api.expect(page.locator("main")).to_contain_text("1 file")
    rows.first.get_by_role("link", name="f07.txt").click()
    sync_api.expect(page.get_by_label("Malware verdict")).to_be_visible()
