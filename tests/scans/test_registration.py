"""What registers with scans when imported is there in each kind of process: the web
application (every hook, grant and cleanup) and a worker (the grants: it tells a scan's
grantees of its end). Each in a fresh interpreter, where nothing else was imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

REPORT = """
import {module}
from veriscan.scans import access, cleanup, hooks
print(sorted(grant.name for grant in access.grants()))
print(sorted(hooks_.kind.value for hooks_ in hooks.registered()))
print(len(cleanup.forgetters()) if {cleanup} else "-")
"""


def _registered(module: str, *, cleanup: bool) -> list[str]:
    code = REPORT.format(module=module, cleanup=cleanup)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_the_web_application_registers_everything() -> None:
    assert _registered("veriscan.app", cleanup=True) == [
        "['assignment', 'case', 'share']",
        "['malware', 'media']",
        "3",
    ]


def test_a_worker_registers_every_grant() -> None:
    grants, _, _ = _registered("veriscan.jobs", cleanup=False)
    assert grants == "['assignment', 'case', 'share']"


def test_a_grant_missing_is_an_error_not_fewer_readers() -> None:
    from veriscan.scans import access

    saved = dict(access._grants)
    access._grants.pop("case", None)
    try:
        with pytest.raises(LookupError, match="case"):
            access.grants()
    finally:
        access._grants.update(saved)
