"""E-mail through a real SMTP server (aiosmtpd on loopback), as the preferences ask."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import Account
from tests.live import LiveServer, LogCapture, live_server
from tests.malware.helpers import add_key, eicar_variant, unique_content, upload, wait_for
from tests.notifications.helpers import (
    Mailbox,
    free_port,
    notifications,
    set_preferences,
    smtp_server,
)
from veriscan.core.config import Settings

PASSWORD = "smtp-secret-do-not-log"


@pytest.fixture(scope="module")
def mail_server(
    settings_factory: Callable[..., Settings], log_capture: LogCapture
) -> Iterator[tuple[LiveServer, Mailbox]]:
    with (
        smtp_server() as (mailbox, port),
        live_server(
            settings_factory(
                smtp_host="127.0.0.1",
                smtp_port=port,
                smtp_security="none",
                smtp_from="Veriscan <alerts@veriscan.test>",
                public_url="https://veriscan.example/",
            )
        ) as live,
    ):
        yield live, mailbox


def test_email_critical_sends_one_message_for_malware_and_none_for_clean(
    mail_server: tuple[LiveServer, Mailbox], make_account: Callable[..., Account], vt: Any
) -> None:
    live, mailbox = mail_server
    account = make_account(on=live)
    with httpx.Client(base_url=live.url, timeout=30) as api:
        add_key(api, account, vt)
        set_preferences(api, account, email="critical")
        clean = upload(api, account, unique_content(), "notes.txt")["scan"]["scan_id"]
        wait_for(api, account, clean)
        bad = upload(api, account, eicar_variant(), "invoice.exe")["scan"]["scan_id"]
        wait_for(api, account, bad)
        [message] = mailbox.wait_for(1)
        time.sleep(0.5)  # the clean scan's delivery has long run: nothing more comes
        assert len(mailbox.messages) == 1
        assert len(notifications(api, account)["data"]) == 2  # in-app: both

    assert mailbox.recipients == [[account.email]]
    assert account.email in message["To"]
    assert message["From"] == "Veriscan <alerts@veriscan.test>"
    assert message["Subject"] == "[Veriscan] Malware found in invoice.exe"
    body = message.get_content()
    assert "invoice.exe" in body and "verdict MALICIOUS" in body
    assert f"https://veriscan.example/scans/malware/{bad}" in body


def test_a_user_who_never_chose_gets_no_email(
    mail_server: tuple[LiveServer, Mailbox], make_account: Callable[..., Account]
) -> None:
    # With SMTP configured, e-mail is still something a user asks for: without saved
    # preferences, malware is notified in the app only.
    live, mailbox = mail_server
    account = make_account(on=live)
    with httpx.Client(base_url=live.url, timeout=30) as api:
        bad = upload(api, account, eicar_variant(), "payload.exe")["scan"]["scan_id"]
        wait_for(api, account, bad)
        [notice] = notifications(api, account)["data"]
        assert notice["title"] == "Malware found in payload.exe"
        time.sleep(0.5)  # the delivery has long run: nothing comes
    assert not [m for m in mailbox.messages if account.email in m["To"]]


def test_email_all_also_sends_clean_results(
    mail_server: tuple[LiveServer, Mailbox], make_account: Callable[..., Account], vt: Any
) -> None:
    live, mailbox = mail_server
    account = make_account(on=live)
    with httpx.Client(base_url=live.url, timeout=30) as api:
        add_key(api, account, vt)
        set_preferences(api, account, email="all", inApp=False)
        clean = upload(api, account, unique_content(), "readme.md")["scan"]["scan_id"]
        wait_for(api, account, clean)
        deadline = time.monotonic() + 15
        while not [m for m in mailbox.messages if account.email in m["To"]]:
            assert time.monotonic() < deadline, "no message"
            time.sleep(0.05)
        assert notifications(api, account)["data"] == []  # e-mail only
    [message] = [m for m in mailbox.messages if account.email in m["To"]]
    assert message["Subject"] == "[Veriscan] No malware found in readme.md"
    assert "verdict CLEAN" in message.get_content()


def test_smtp_down_the_scan_completes_and_a_line_is_logged(
    settings_factory: Callable[..., Settings],
    make_account: Callable[..., Account],
    log_capture: LogCapture,
    vt: Any,
) -> None:
    closed = free_port()  # nothing listens there
    settings = settings_factory(
        smtp_host="127.0.0.1",
        smtp_port=closed,
        smtp_security="none",
        smtp_username="veriscan",
        smtp_password=PASSWORD,
        smtp_timeout=2.0,
    )
    with live_server(settings) as live, httpx.Client(base_url=live.url, timeout=30) as api:
        account = make_account(on=live)
        add_key(api, account, vt)
        set_preferences(api, account, email="all")
        scan_id = upload(api, account, eicar_variant())["scan"]["scan_id"]
        assert wait_for(api, account, scan_id)["status"] == "completed"
        deadline = time.monotonic() + 15
        while f"notifications.email_failed scan_id={scan_id}" not in log_capture.text():
            assert time.monotonic() < deadline, "no email_failed line"
            time.sleep(0.05)
        assert notifications(api, account)["data"][0]["scanId"] == scan_id
    lines = [line for line in log_capture.lines if f"scan_id={scan_id}" in line]
    [failed] = [line for line in lines if "notifications.email_failed" in line]
    assert "ConnectionRefusedError" in failed
    assert "Traceback" not in "\n".join(lines)
    assert PASSWORD not in log_capture.text()
