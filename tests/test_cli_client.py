"""`veriscan client`: the real command in a subprocess against a live server over HTTP."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Account
from tests.live import LiveServer

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "client.json"


@pytest.fixture
def run(config_file: Path, tmp_path: Path) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERISCAN_")}
    env["VERISCAN_CLIENT_CONFIG"] = str(config_file)
    env["COLUMNS"] = "200"

    def run(*args: str | Path, columns: int = 200) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "veriscan", "client", *map(str, args)],
            cwd=tmp_path,
            env={**env, "COLUMNS": str(columns)},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert "Traceback" not in completed.stdout + completed.stderr, completed.stderr
        return completed

    return run


@pytest.fixture
def logged_in(run: Run, server: LiveServer, account: Account) -> Account:
    completed = run(
        "login", "--server", server.url, "--username", account.username, "--password",
        account.password,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr
    assert f"logged in to {server.url} as {account.username}" in completed.stdout
    return account


def test_login_keeps_the_tokens_readable_by_the_user_only(
    logged_in: Account, config_file: Path, server: LiveServer
) -> None:
    assert stat.S_IMODE(config_file.stat().st_mode) == 0o600
    saved = json.loads(config_file.read_text())
    assert saved["server"] == server.url and saved["username"] == logged_in.username
    assert saved["access_token"] and saved["refresh_token"]


def test_upload_watch_history_and_pdf_export(run: Run, logged_in: Account, tmp_path: Path) -> None:
    sample = tmp_path / "report.txt"
    sample.write_bytes(f"quarterly figures {secrets.token_hex(16)}\n".encode())
    uploaded = run("upload", sample, "--watch")
    assert uploaded.returncode == 0, uploaded.stderr
    match = re.search(r"uploaded report\.txt: scan ([0-9a-f-]{36}) ", uploaded.stdout)
    assert match, uploaded.stdout
    scan_id = match.group(1)
    # No key here: YARA-X alone, worded as such, and VirusTotal said not to have run.
    assert "status: completed  verdict: no local rule matched  detection ratio: 0/1" in (
        uploaded.stdout
    )
    assert "VirusTotal: not_run: No active VirusTotal API key" in uploaded.stdout
    assert "YARA-X" in uploaded.stdout
    assert "no live progress" not in uploaded.stderr  # followed over socket.io

    history = run("history", "--json")
    assert history.returncode == 0, history.stderr
    scans = json.loads(history.stdout)["scans"]
    assert [scan["id"] for scan in scans] == [scan_id]
    assert scans[0]["status"] == "completed"
    table = run("history")
    assert scan_id in table.stdout and "report.txt" in table.stdout
    narrow = run("history", columns=80)  # a terminal's width: the id still on one line
    assert scan_id in narrow.stdout and max(map(len, narrow.stdout.splitlines())) <= 80

    pdf = tmp_path / "out" / "x.pdf"
    exported = run("export", scan_id, "--format", "pdf", "--output", pdf)
    assert exported.returncode == 0, exported.stderr
    assert pdf.read_bytes().startswith(b"%PDF")
    assert f"saved {pdf.stat().st_size} bytes to {pdf}" in exported.stdout


def test_a_media_upload_reports_the_verdict(run: Run, logged_in: Account, tmp_path: Path) -> None:
    from tests.test_cli_scan import a1111_png

    image = tmp_path / "castle.png"
    image.write_bytes(a1111_png())
    uploaded = run("upload", image, "--media", "--tags", "cli,test", "--watch", "--json")
    assert uploaded.returncode == 0, uploaded.stderr
    final: dict[str, Any] = json.loads(uploaded.stdout)
    assert final["status"] == "COMPLETED" and final["result"] == "DEEPFAKE"
    assert final["tags"] == ["cli", "test"]
    history = json.loads(run("history", "--media", "--json").stdout)
    assert [item["id"] for item in history["data"]] == [final["id"]]
    # Its report: with --media; without, the error says what to add.
    report = tmp_path / "castle.pdf"
    exported = run("export", final["id"], "--media", "--format", "pdf", "--output", report)
    assert exported.returncode == 0, exported.stderr
    assert report.read_bytes().startswith(b"%PDF")
    wrong = run("export", final["id"], "--format", "json")
    assert wrong.returncode != 0 and "(a media scan? add --media)" in wrong.stderr


def test_keys_add_list_delete(run: Run, logged_in: Account, vt: Any) -> None:
    value = secrets.token_hex(32)
    vt.add_key(value)
    added = run("keys", "add", "cli key", value)
    assert added.returncode == 0, added.stderr
    key_id = re.search(r"added key cli key \(([0-9a-f-]{36})\)", added.stdout)
    assert key_id, added.stdout

    listed = run("keys", "list", "--json")
    [key] = json.loads(listed.stdout)["api_keys"]
    assert key["id"] == key_id.group(1) and key["name"] == "cli key"
    assert value not in listed.stdout

    deleted = run("keys", "delete", key_id.group(1))
    assert deleted.returncode == 0, deleted.stderr
    assert json.loads(run("keys", "list", "--json").stdout)["api_keys"] == []
    again = run("keys", "delete", key_id.group(1))
    assert again.returncode == 1
    assert "(NOT_FOUND)" in again.stderr


def test_an_expired_access_token_is_refreshed_once(
    run: Run, logged_in: Account, config_file: Path
) -> None:
    saved = json.loads(config_file.read_text())
    saved["access_token"] = "not-a-token"
    config_file.write_text(json.dumps(saved))
    listed = run("keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(config_file.read_text())["access_token"] != "not-a-token"


def test_logout_forgets_the_tokens(run: Run, logged_in: Account, config_file: Path) -> None:
    assert run("logout").returncode == 0
    assert not config_file.exists()
    after = run("history")
    assert after.returncode == 2
    assert "not logged in" in after.stderr


def test_a_wrong_password_shows_the_server_message(
    run: Run, server: LiveServer, account: Account, config_file: Path
) -> None:
    completed = run(
        "login", "--server", server.url, "--username", account.username, "--password", "wrong-one"
    )
    assert completed.returncode == 1
    assert "Invalid username or password" in completed.stderr
    assert not config_file.exists()


def test_an_unreachable_server_exits_2(run: Run) -> None:
    completed = run(
        "login", "--server", "http://127.0.0.1:9", "--username", "someone", "--password", "x" * 12
    )
    assert completed.returncode == 2
    assert "cannot reach the server at http://127.0.0.1:9" in completed.stderr


def test_usage_errors_exit_2(run: Run, logged_in: Account, tmp_path: Path) -> None:
    missing = run("upload", tmp_path / "missing.bin")
    assert missing.returncode == 2 and "not a readable file" in missing.stderr
    bad_format = run("export", "x", "--format", "xml")
    assert bad_format.returncode == 2
