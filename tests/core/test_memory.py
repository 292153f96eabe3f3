"""The heap of a started process (core/memory.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

# Each in a process of its own: a cycle among frozen objects is never collected, so the
# test suite's own process must not freeze the many apps it builds.

SETTINGS = (
    "Settings(_env_file=None, data_dir=DATA_DIR, "
    "database_url='sqlite:///' + DATA_DIR + '/veriscan.db', workers=1)"
)

SETTLED = """
import gc, json, weakref
from sqlalchemy import inspect
from veriscan.app import create_app
from veriscan.core.config import Settings
from veriscan.core.memory import settle_heap
from veriscan.malware.models import MalwareScan

app = create_app(SETTINGS)

class Node:
    pass

gc.collect()
before = len(gc.get_objects())
# A cycle that a full collection has seen alive (so it is old), then dropped: only a
# full collection frees it; frozen with the rest, it would never be.
garbage = Node()
garbage.itself = garbage
gone = weakref.ref(garbage)
gc.collect()
del garbage
settle_heap()
print(json.dumps([
    before,
    gc.get_freeze_count(),
    len(gc.get_objects()),
    gone() is None,
    inspect(MalwareScan).configured,
]))
"""

SERVED = """
import gc, json, socket, threading, time
import httpx, uvicorn
from veriscan.app import create_app
from veriscan.core.config import Settings
from veriscan.core.memory import settle_heap

threads_when_settled = []

def started():
    threads_when_settled.append(sorted(t.name for t in threading.enumerate()))
    settle_heap()

sock = socket.socket()
sock.bind(("127.0.0.1", 0))
app = create_app(SETTINGS, on_started=started)
server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="on"))
thread = threading.Thread(target=lambda: server.run(sockets=[sock]))
thread.start()
while not server.started:
    time.sleep(0.01)
settled_before_serving = len(threads_when_settled)
status = httpx.get(f"http://127.0.0.1:{sock.getsockname()[1]}/health").status_code
threads_serving = sorted(t.name for t in threading.enumerate())
server.should_exit = True
thread.join()
print(json.dumps([
    status,
    settled_before_serving,
    len(threads_when_settled),
    threads_when_settled[0],
    threads_serving,
    gc.get_freeze_count(),
]))
"""


def _run(script: str, data_dir: Path) -> Any:
    source = script.replace("SETTINGS", SETTINGS).replace("DATA_DIR", repr(str(data_dir)))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("VERISCAN_")}
    done = subprocess.run(
        [sys.executable, "-c", source],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
        env=environment,
    )
    return json.loads(done.stdout)


def test_what_start_up_built_is_out_of_the_collector_s_sight(tmp_path: Path) -> None:
    before, frozen, tracked, cycle_freed, mappers_configured = _run(SETTLED, tmp_path)
    assert before > 100_000  # modules, routes, schemas, mappers
    assert frozen >= before - 10  # all of it (the count itself made a couple more)
    assert tracked == 0  # a full collection now walks none of it
    assert cycle_freed is True  # garbage was collected first, not frozen with the rest
    assert mappers_configured is True


def test_a_server_settles_in_its_start_up_before_its_threads_start(tmp_path: Path) -> None:
    status, before_serving, calls, threads_then, threads_serving, frozen = _run(SERVED, tmp_path)
    assert status == 200
    assert (before_serving, calls) == (1, 1)  # once, during start-up
    ours = {"veriscan-sweeper", "Worker-1"}  # the sweeper and the one scan worker
    assert not ours & set(threads_then)  # none of them had started
    assert ours <= set(threads_serving)  # they started after it
    assert frozen > 100_000
