"""The `veriscan` command as a user runs it: a real process, real settings from the environment."""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select

from tests.conftest import Account, unique_name
from tests.live import LiveServer
from veriscan.audit.models import AuditEvent
from veriscan.core.security import SecretBox
from veriscan.keys.models import ApiKey

VERISCAN = [sys.executable, "-m", "veriscan"]


@pytest.fixture
def env(tmp_path: Path, new_database: Callable[[], str]) -> dict[str, str]:
    """A command line of its own: data dir and database (its `serve` runs workers)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("VERISCAN_")}
    return {
        **clean,
        "VERISCAN_DATA_DIR": str(tmp_path / "data"),
        "VERISCAN_DATABASE_URL": new_database(),
    }


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VERISCAN, *args], env=env, capture_output=True, text=True, timeout=60)


def test_migrate(env: dict[str, str]) -> None:
    result = run(env, "migrate")
    assert result.returncode == 0, result.stderr
    assert "database is up to date" in result.stdout


def test_user_create_and_errors(env: dict[str, str]) -> None:
    name = unique_name("admin")
    ok = run(
        env,
        "user",
        "create",
        "--username",
        name,
        "--email",
        f"{name}@example.com",
        "--password",
        "a-long-password",
        "--role",
        "admin",
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"created admin {name} (")
    user_id = ok.stdout.strip().rsplit("(", 1)[1].rstrip(")")
    engine = create_engine(env["VERISCAN_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            [entry] = connection.execute(
                select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.details).where(
                    AuditEvent.target_id == user_id
                )
            ).all()
    finally:
        engine.dispose()
    assert (entry.action, entry.actor_id) == ("user.create", None)
    assert entry.details == {"username": name, "role": "admin", "via": "cli"}
    again = run(
        env,
        "user",
        "create",
        "--username",
        name,
        "--email",
        "x@example.com",
        "--password",
        "a-long-password",
    )
    assert again.returncode == 1 and "Username already exists" in again.stderr
    bad_role = run(
        env,
        "user",
        "create",
        "--username",
        "x1x",
        "--email",
        "x@example.com",
        "--password",
        "a-long-password",
        "--role",
        "king",
    )
    assert bad_role.returncode == 2 and "admin, analyst or operative" in bad_role.stderr
    short = run(
        env,
        "user",
        "create",
        "--username",
        "x1x",
        "--email",
        "x@example.com",
        "--password",
        "short",
    )
    assert short.returncode == 2 and "password" in short.stderr
    for text in (ok.stderr, again.stderr, bad_role.stderr, short.stderr):
        assert "Traceback" not in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_starts_migrates_and_stops_on_sigterm(env: dict[str, str]) -> None:
    name = unique_name()
    created = run(
        env,
        "user",
        "create",
        "--username",
        name,
        "--email",
        f"{name}@example.com",
        "--password",
        "a-long-password",
        "--role",
        "analyst",
    )
    assert created.returncode == 0, created.stderr
    port = _free_port()
    process = subprocess.Popen(
        [*VERISCAN, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        login = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/login",
            json={"username": name, "password": "a-long-password"},
        )
        assert login.status_code == 200 and login.json()["user"]["role"] == "analyst"
        process.send_signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)
    finally:
        if process.poll() is None:
            process.kill()
        output = process.communicate()[0]
    assert "Application shutdown complete" in output
    assert "Traceback" not in output


def test_rotate_keys(
    env: dict[str, str], server: LiveServer, make_account: Callable[..., Account], vt: Any
) -> None:
    # The keys the session server stored, rotated from the command line and back.
    env = {**env, "VERISCAN_DATABASE_URL": server.settings.database_url}
    account = make_account()
    value = secrets.token_hex(32)
    vt.add_key(value)
    with httpx.Client(base_url=server.url) as client:
        created = client.post(
            "/api/keys/", headers=account.headers, json={"name": "k", "key_value": value}
        )
        key_id = uuid.UUID(created.json()["api_key"]["id"])
    current = server.settings.secret_key.get_secret_value()

    wrong = run({**env, "VERISCAN_SECRET_KEY": "not-the-secret"}, "rotate-keys")
    assert (
        wrong.returncode == 1
        and "cannot be decrypted" in wrong.stderr
        and "Traceback" not in wrong.stderr
    )

    rotated = run(
        {**env, "VERISCAN_SECRET_KEY": "the-next-secret", "VERISCAN_PREVIOUS_SECRET_KEYS": current},
        "rotate-keys",
    )
    assert rotated.returncode == 0, rotated.stderr
    assert rotated.stdout.startswith("re-encrypted ")
    with server.context.db.session(writes=False) as session:
        stored = session.get(ApiKey, key_id)
        assert stored is not None
        assert SecretBox([b"the-next-secret"]).decrypt(stored.encrypted_value) == value
        with pytest.raises(ValueError):
            server.context.secret_box.decrypt(stored.encrypted_value)
    # And back, so the shared test database is as the running server expects.
    back = run(
        {**env, "VERISCAN_SECRET_KEY": current, "VERISCAN_PREVIOUS_SECRET_KEYS": "the-next-secret"},
        "rotate-keys",
    )
    assert back.returncode == 0, back.stderr
    with server.context.db.session(writes=False) as session:
        stored = session.get(ApiKey, key_id)
        assert (
            stored is not None
            and server.context.secret_box.decrypt(stored.encrypted_value) == value
        )


def test_user_create_prompts_for_the_password(env: dict[str, str]) -> None:
    name = unique_name()
    result = subprocess.run(
        [*VERISCAN, "user", "create", "--username", name, "--email", f"{name}@example.com"],
        env=env,
        # Too short, then a common one: each refused at once, before any confirmation.
        input="short\npassword1234\nprompted-password\nprompted-password\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "prompted-password" not in result.stdout + result.stderr
    assert "at least 12 characters, and not a common or easily guessed password" in result.stderr
    assert result.stderr.count("Repeat for confirmation") == 1
    assert "error: Password must be at least 12 characters" in result.stderr
    assert "error: Password is too common or too easy to guess" in result.stderr


def test_eval_prints_the_measures(env: dict[str, str], tmp_path: Path) -> None:
    from tests.media.test_analysis import a1111_png

    folder = tmp_path / "set"
    (folder / "image" / "generated").mkdir(parents=True)
    (folder / "image" / "generated" / "castle.png").write_bytes(a1111_png())
    labels = tmp_path / "labels.csv"
    labels.write_text("file,modality,label\nimage/generated/castle.png,image,generated\n")
    result = run(env, "eval", str(folder), "--labels", str(labels))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    # First, what it ran on: the numbers of a rerun elsewhere can then be compared.
    import onnxruntime

    from veriscan.analyzers import models

    assert lines[0].startswith("Ran with Python "), lines[0]
    assert f"onnxruntime {onnxruntime.__version__}, numpy " in lines[0]
    kernels = "exact" if models.saturates() else "fast"
    assert f"; CLIP encoder: {kernels} integer kernels, reference agreement " in lines[0]
    assert any(line.startswith("image") and " 1.000 " in line for line in lines), result.stdout
    castle = next(line for line in lines if line.startswith("image/generated/castle.png"))
    assert castle.split()[1:4] == ["generated", "DEEPFAKE", "95"]


def test_serve_says_at_once_when_its_port_is_taken(env: dict[str, str], tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run(env, "serve", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: 127.0.0.1:{port} is already in use (another veriscan serve? choose one with "
        "--port, or PORT= with make run)"
    )
    assert not (tmp_path / "data").exists()  # before anything else: nothing set up


def test_make_run_and_test_take_host_and_port() -> None:
    root = Path(__file__).resolve().parents[1]
    dry = subprocess.run(
        ["make", "-n", "--always-make", "run", "test", "PORT=8123", "HOST=0.0.0.0"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert dry.returncode == 0, dry.stderr
    assert ".venv/bin/veriscan serve --host 0.0.0.0 --port 8123" in dry.stdout
    assert "VERISCAN_TEST_HOST=0.0.0.0 .venv/bin/python -m pytest" in dry.stdout
