"""schemathesis against the service's own OpenAPI schema, over real HTTP, signed in.

Every operation, every check: no 5xx, every error in the envelope the schema declares,
responses that match their schema, methods and auth handled as declared. CI runs a
bounded profile with a fixed seed (a red run is reproducible); `make fuzz` runs a longer
one with a fresh seed (VERISCAN_FUZZ_EXAMPLES, VERISCAN_FUZZ_SEED).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Account
from tests.live import LiveServer, live_server

ST = Path(sys.executable).parent / "st"
CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = int(os.environ.get("VERISCAN_FUZZ_EXAMPLES", "6"))
SEED = os.environ.get("VERISCAN_FUZZ_SEED", "20261122")
# About 5.5 s an example across the operations here: the suite's own 120 s per test would
# stop `make fuzz` (200 examples) half-way.
BUDGET = 60 + 10 * EXAMPLES
pytestmark = pytest.mark.timeout(BUDGET)


@pytest.fixture(scope="module")
def fuzz_server(settings_factory: Callable[..., Any]) -> Iterator[LiveServer]:
    # Its own database: the fuzzer creates users, keys and files by the hundred.
    with live_server(settings_factory(media_wait_seconds=0)) as live:
        yield live


def schemathesis(server: LiveServer, account: Account, tmp_path: Path, *args: str) -> str:
    command = [
        str(ST),
        "--config-file",
        str(CONFIG),
        "run",
        f"{server.url}/openapi.json",
        # Every check is on by default; schemathesis.toml turns off the one that cannot
        # apply to multipart fields (a --checks option here would override it).
        "--header",
        f"Authorization: Bearer {account.access_token}",
        "--max-examples",
        str(EXAMPLES),
        # One worker: with two, CPython 3.11.7's compile() raced in schemathesis's threads
        # ("AST constructor recursion depth mismatch", a runtime error in CI).
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        *(["--seed", SEED] if SEED else []),
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=BUDGET)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12000:]
    return output


def test_every_operation_as_an_operative(
    fuzz_server: LiveServer, make_account: Callable[..., Account], tmp_path: Path
) -> None:
    account = make_account(on=fuzz_server)
    # Logging out would end the fuzzer's own session half-way (tests/auth covers it).
    schemathesis(fuzz_server, account, tmp_path, "--exclude-path", "/api/auth/logout")


def test_the_admin_operations_as_an_admin(
    fuzz_server: LiveServer, make_account: Callable[..., Account], tmp_path: Path
) -> None:
    admin = make_account("admin", on=fuzz_server)
    schemathesis(fuzz_server, admin, tmp_path, "--include-path-regex", "^/api/(admin|scans)/")
