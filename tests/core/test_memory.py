"""The heap of a started process (core/memory.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Each in a process of its own: what is frozen is never collected, so the test suite's
# own process must not freeze the many apps it builds.

SETTLED = """
import gc
from veriscan.app import create_app
from veriscan.core.config import Settings
from veriscan.core.memory import settle_heap

app = create_app(Settings(data_dir=DATA_DIR))
gc.collect()
before = len(gc.get_objects())
settle_heap()
print(before, gc.get_freeze_count(), len(gc.get_objects()))
"""

SERVED = """
import gc, socket, threading, time
import httpx, uvicorn
from veriscan.app import create_app
from veriscan.core.config import Settings
from veriscan.core.memory import settle_heap

frozen_when_started = []

def started():
    settle_heap()
    frozen_when_started.append(gc.get_freeze_count())

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
app = create_app(Settings(data_dir=DATA_DIR, workers=1), on_started=started)
server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
thread = threading.Thread(target=lambda: server.run(sockets=[sock]))
thread.start()
while not server.started:
    time.sleep(0.01)
status = httpx.get(f"http://127.0.0.1:{sock.getsockname()[1]}/health").status_code
server.should_exit = True
thread.join()
print(status, len(frozen_when_started), frozen_when_started[0])
"""


def _run(script: str, data_dir: Path) -> list[int]:
    done = subprocess.run(
        [sys.executable, "-c", script.replace("DATA_DIR", repr(str(data_dir)))],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [int(n) for n in done.stdout.split()]


def test_what_start_up_built_is_out_of_the_collector_s_sight(tmp_path: Path) -> None:
    before, frozen, tracked = _run(SETTLED, tmp_path)
    assert before > 100_000  # modules, routes, schemas, mappers
    # Every object start-up left alive (the count itself made a couple more, gone since),
    # and what configuring the mappers added.
    assert frozen >= before - 10
    assert tracked == 0  # a full collection now walks nothing of it


def test_a_server_settles_once_its_start_up_is_done_and_before_it_serves(
    tmp_path: Path,
) -> None:
    status, calls, frozen = _run(SERVED, tmp_path)
    assert status == 200
    assert calls == 1
    assert frozen > 100_000  # the database migrated, the workers started, then frozen
