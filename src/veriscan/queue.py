"""The task queue (huey): SQLite in the data dir by default, Redis when configured.

huey delivers a task at most once, so it is only a wake-up call: the scan rows in the
database are the truth, and the sweeper re-enqueues scans whose lease ran out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

from veriscan.core.config import Settings

logger = logging.getLogger("veriscan.queue")


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(
        settings.queue_name,
        filename=str(settings.data_dir / "queue.db"),
        results=False,
        timeout=30,
    )


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer as threads inside `veriscan serve`.

    The stock consumer installs signal handlers, which would take SIGTERM away from
    uvicorn: the server would stop answering it. Here the server owns the signals and
    stops the consumer from its shutdown hook.
    """

    def _set_signal_handlers(self) -> None:
        pass


SHUTDOWN_WAIT_SECONDS = 5.0  # how long a stopping server waits for its running scans


def join_workers(consumer: Consumer, timeout: float) -> bool:
    """Wait up to `timeout` seconds for a stopped consumer's worker threads to finish the
    task each is in; whether all did."""
    deadline = time.monotonic() + timeout
    threads = [thread for _, thread in consumer.worker_threads]
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    running = sum(thread.is_alive() for thread in threads)
    if running:
        logger.warning("queue.workers_still_running count=%d", running)
    return not running


class Sweeper(threading.Thread):
    """Calls `sweep` every `interval` seconds until stopped (in serve and in workers)."""

    def __init__(self, sweep: Callable[[], Any], interval: float) -> None:
        super().__init__(name="veriscan-sweeper", daemon=True)
        self._sweep = sweep
        self._interval = interval
        self._stopped = threading.Event()

    def run(self) -> None:
        while True:
            try:
                self._sweep()
            except Exception:  # the next round tries again; a sweep must not die
                logger.exception("queue.sweep_failed")
            if self._stopped.wait(self._interval):
                return

    def stop(self) -> None:
        self._stopped.set()
        self.join(timeout=5)
