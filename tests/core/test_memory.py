"""The heap of a started process (core/memory.py)."""

from __future__ import annotations

import subprocess
import sys

# Run in a process of its own: what is frozen is never collected, so the test suite's own
# process must not freeze the many apps it builds.
SCRIPT = """
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


def test_what_start_up_built_is_out_of_the_collector_s_sight(tmp_path: object) -> None:
    script = SCRIPT.replace("DATA_DIR", repr(str(tmp_path)))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    before, frozen, tracked = (int(n) for n in done.stdout.split())
    assert before > 100_000  # modules, routes, schemas, mappers
    # Every object start-up left alive (the count itself made a couple more, gone since).
    assert before - 10 <= frozen <= before
    assert tracked == 0  # a full collection now walks nothing of it
