"""One event loop per worker thread, kept for the thread's life.

A scan's engines run as coroutines (timeouts, a heartbeat beside them). `asyncio.run` would
make a loop, and a default thread pool that starts threads on first use, for every scan and
tear both down after it: on a small file that costs more than the scan itself. Here each
thread makes its loop once.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_threads = threading.local()


class _ThreadLoop:
    """The thread's runner; its loop is closed when the thread ends and its thread-local
    values are dropped (or at the interpreter's exit)."""

    def __init__(self) -> None:
        self.runner = asyncio.Runner()
        self.loop = self.runner.get_loop()

    def __del__(self) -> None:
        # Not Runner.close(): it waits for the loop's thread pool from a thread it starts,
        # and at the interpreter's exit no thread starts any more (`veriscan worker` hung
        # on SIGTERM). loop.close() lets the pool go without waiting.
        if not self.loop.is_closed() and not self.loop.is_running():
            self.loop.close()


def run_on_thread_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` to completion on this thread's own event loop (made on first use); as
    `asyncio.run` does, tasks it left behind are cancelled before this returns. Not for a
    thread that already runs an event loop."""
    own: _ThreadLoop | None = getattr(_threads, "loop", None)
    if own is None:
        own = _ThreadLoop()
        _threads.loop = own
    runner = own.runner
    try:
        return runner.run(work)
    finally:
        loop = runner.get_loop()
        leftover = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in leftover:
            task.cancel()
        if leftover:
            loop.run_until_complete(asyncio.gather(*leftover, return_exceptions=True))
