"""The task queue (huey): SQLite in the data dir by default, Redis when configured.

huey delivers a task at most once, so it is only a wake-up call: the scan rows in the
database are the truth, and the sweeper re-enqueues scans whose lease ran out.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import threading
import time
from collections.abc import Callable, Coroutine, Hashable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer, Worker

from veriscan.core.config import Settings

logger = logging.getLogger("veriscan.queue")


class WakingSqliteHuey(SqliteHuey):  # type: ignore[misc]
    """huey's SQLite queue, whose idle workers in this process wake as soon as a task is
    queued here: SQLite cannot block a reader until a row arrives, so without this an idle
    worker would only see it at its next poll."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.wake = threading.Event()

    def enqueue(self, task: Any) -> Any:
        result = super().enqueue(task)
        self.wake.set()
        return result


def make_huey(settings: Settings) -> Huey:
    if settings.redis_url:
        # BRPOP: an idle worker gets a task the moment one is pushed, from any process.
        return RedisHuey(settings.queue_name, url=settings.redis_url, results=False, blocking=True)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return WakingSqliteHuey(
        settings.queue_name,
        filename=str(settings.data_dir / "queue.db"),
        results=False,
        timeout=30,
        # Wake-ups only, made again from the rows by the sweeper when one is lost: their
        # three commits a scan (queued, taken, done) need not wait for the disk.
        fsync=False,
    )


class PromptWorker(Worker):  # type: ignore[misc]
    """A worker that never sleeps longer than the consumer's `max_delay` (huey's own backs
    off to 10 s), and is woken at once by a task queued in this process."""

    delay: float
    max_delay: float
    backoff: float

    def sleep(self) -> None:
        wake: threading.Event | None = getattr(self.huey, "wake", None)
        delay = min(self.delay, self.max_delay)
        if wake is None:
            self.stop_flag.wait(delay)
        elif wake.wait(delay):
            wake.clear()
        self.delay = min(self.delay * self.backoff, self.max_delay)


def consumer_options(settings: Settings, threads: int) -> dict[str, Any]:
    """How `serve` and `worker` run huey's consumer: threads that look at the queue at
    least every `queue_poll_seconds` when idle."""
    poll = settings.queue_poll_seconds
    return {
        "workers": threads,
        "worker_type": "thread",
        "periodic": False,
        "initial_delay": min(0.02, poll),
        "backoff": 1.5,
        "max_delay": poll,
    }


class QueueConsumer(Consumer):  # type: ignore[misc]
    """huey's consumer with PromptWorker threads (`veriscan worker`)."""

    worker_class = PromptWorker


class EmbeddedConsumer(QueueConsumer):
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


class Timers:
    """Calls to make later in this process: the wake-ups of scans that wait (for a quota
    slot, a poll's interval, a retry). One thread, one heap; a call is due once per key
    (asking again for the same key keeps the earlier time). A timer lost with its process
    costs nothing but time: the scan rows say what is due, and the sweep finds it."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, tuple[float, Callable[[], Any]]] = {}
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self._seq = 0

    def call_later(self, delay: float, key: Hashable, call: Callable[[], Any]) -> None:
        at = time.monotonic() + max(delay, 0.0)
        with self._cond:
            if self._stopped:
                return
            known = self._due.get(key)
            if known is not None and known[0] <= at:
                return
            self._due[key] = (at, call)
            self._seq += 1
            heapq.heappush(self._heap, (at, self._seq, key))
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="veriscan-timers", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                at, _, key = heapq.heappop(self._heap)
                known = self._due.get(key)
                if known is None or known[0] != at:
                    continue  # replaced by an earlier call
                del self._due[key]
                call = known[1]
            try:
                call()
            except Exception:  # the sweep finds what this should have woken
                logger.exception("queue.timer_failed key=%s", key)

    def pending(self) -> int:
        with self._cond:
            return len(self._due)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)


class RequestLoop:
    """One event loop, on a thread of its own, for requests that wait on the network
    (VirusTotal's): a worker hands a request over and is free at once, and a slow or
    silent VirusTotal keeps no worker from the local engines' scans. What a request
    taught is recorded from the loop's own threads (`asyncio.to_thread`)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()
        self._stopped = False

    def submit(self, work: Coroutine[Any, Any, Any]) -> bool:
        """Run `work` on the loop; False (and `work` closed) once the loop is stopped."""
        with self._guard:
            if self._stopped:
                work.close()
                return False
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._thread = threading.Thread(
                    target=self._loop.run_forever, name="veriscan-requests", daemon=True
                )
                self._thread.start()
            loop = self._loop
        asyncio.run_coroutine_threadsafe(work, loop)
        return True

    def in_flight(self) -> int:
        loop = self._loop
        if loop is None:
            return 0
        return len(asyncio.all_tasks(loop))

    def stop(self, timeout: float = SHUTDOWN_WAIT_SECONDS) -> None:
        """Cancel the requests in flight (their scans are left to their leases) and wait
        up to `timeout` for what they were recording."""
        with self._guard:
            self._stopped = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return

        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=timeout) if tasks else None
            await loop.shutdown_default_executor()

        try:
            asyncio.run_coroutine_threadsafe(cancel_all(), loop).result(timeout + 1)
        except Exception:
            logger.warning("queue.requests_still_running")
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        if not thread.is_alive():
            loop.close()
