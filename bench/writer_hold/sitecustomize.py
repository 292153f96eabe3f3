"""Times SQLite's one writer inside a running Veriscan process (issue 16's small files).

Not a benchmark of its own: put this folder first on PYTHONPATH and set WRITER_HOLD_OUT to
a file; every process that imports Veriscan then appends, once a second, how often the
writer (`core.db.WriterTurns`) was taken, how long it was held, how long takers waited in
line, and how much CPU the holding thread spent while it held it, how long it was runnable
but waiting for a core and how often it was switched in (Linux's schedstat), and writes next to it
(`<out>.<pid>.statements`) the wall and CPU time of each statement run while a request (not
background work) held it. `bench/writer_hold/report.py <out>` prints them per second.

    WRITER_HOLD_OUT=/tmp/hold PYTHONPATH=bench/writer_hold \\
        .venv/bin/python bench/ingest.py --seed 0 --files 2000 --no-ceiling
    .venv/bin/python bench/writer_hold/report.py /tmp/hold

The figures in docs/benchmarks.md ("Rerun 2026-12-08 (fifteenth session)") came from it.
"""

import os
import sys
import threading
import time
from collections import defaultdict

if os.environ.get("WRITER_HOLD_OUT"):
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from veriscan.core import db

    _OUT = os.environ["WRITER_HOLD_OUT"]
    # Reentrant: `release` may run from the garbage collector on a thread that is inside
    # one of these `with _lock` blocks (see `WriterTurns`).
    _lock = threading.RLock()
    _totals = {
        "taken": 0,
        "background": 0,
        "held": 0.0,
        "waited": 0.0,
        # Of the holds that ended on the thread that took the writer (`same`): that
        # thread's CPU, its time runnable but waiting for a core (the kernel's run delay)
        # and how many times it was switched in.
        "same": 0,
        "cpu": 0.0,
        "run_delay": 0.0,
        "switches": 0,
    }
    _holder: dict[str, object] = {}  # since, cpu0, thread, background of the current hold
    _statements: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    _local = threading.local()
    _acquire, _release = db.WriterTurns.acquire, db.WriterTurns.release

    def _schedstat() -> tuple[float, int]:
        """This thread's run delay (seconds) and times switched in, from Linux."""
        with open("/proc/thread-self/schedstat") as stat:
            _, delay, switches = stat.read().split()
        return int(delay) / 1e9, int(switches)

    def acquire(self: db.WriterTurns, *, background: bool, timeout: float) -> bool:
        asked = time.perf_counter()
        taken = _acquire(self, background=background, timeout=timeout)
        now = time.perf_counter()
        if taken:
            with _lock:
                _totals["taken"] += 1
                _totals["background"] += background
                _totals["waited"] += now - asked
                _holder.update(
                    sched0=_schedstat(),
                    since=now,
                    cpu0=time.thread_time(),
                    thread=threading.get_ident(),
                    background=background,
                )
        return taken

    def release(self: db.WriterTurns) -> None:
        now = time.perf_counter()
        with _lock:
            since = _holder.pop("since", None)
            if since is not None:
                _totals["held"] += now - since  # type: ignore[operator]
                if _holder.get("thread") == threading.get_ident():
                    _totals["cpu"] += time.thread_time() - _holder["cpu0"]  # type: ignore[operator]
                    _totals["same"] += 1
                    delay, switches = _schedstat()
                    delay0, switches0 = _holder["sched0"]  # type: ignore[misc]
                    _totals["run_delay"] += delay - delay0
                    _totals["switches"] += switches - switches0
        _release(self)

    db.WriterTurns.acquire = acquire  # type: ignore[method-assign]
    db.WriterTurns.release = release  # type: ignore[method-assign]

    @event.listens_for(Engine, "before_cursor_execute")
    def _before(*_: object) -> None:
        _local.started = (time.perf_counter(), time.thread_time())

    @event.listens_for(Engine, "after_cursor_execute")
    def _after(_conn: object, _cursor: object, statement: str, *__: object) -> None:
        wall0, cpu0 = _local.started
        with _lock:
            holding = "since" in _holder and _holder.get("thread") == threading.get_ident()
            if holding and not _holder.get("background"):
                row = _statements[" ".join(statement.split())[:60]]
                row[0] += 1
                row[1] += time.perf_counter() - wall0
                row[2] += time.thread_time() - cpu0

    def _write() -> None:
        while True:
            time.sleep(1)
            with _lock:
                line = dict(
                    _totals, now=time.perf_counter(), pid=os.getpid(), argv=" ".join(sys.argv[1:4])
                )
                statements = {k: list(v) for k, v in _statements.items()}
            with open(_OUT, "a") as out:
                out.write(repr(line) + "\n")
            with open(f"{_OUT}.{os.getpid()}.statements", "w") as out:
                out.write(repr(statements) + "\n")

    threading.Thread(target=_write, name="writer-hold", daemon=True).start()
