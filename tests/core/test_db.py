"""The process's own queue of SQLite writers: held from BEGIN IMMEDIATE to the commit or
rollback, never left held, requests before background work."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from veriscan.core.db import Database, WriterTurns, background_work


def _write_in_another_thread(db: Database, value: int) -> threading.Thread:
    def write() -> None:
        with db.session() as session:
            session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})

    thread = threading.Thread(target=write)
    thread.start()
    return thread


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'writers.db'}")
    with database.session() as session:
        session.execute(text("CREATE TABLE t (v INTEGER)"))
    return database


def test_a_write_that_fails_lets_the_next_writer_in(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as session:
        session.execute(text("INSERT INTO t (v) VALUES (1)"))
        raise RuntimeError("the endpoint failed")
    # Were the lock left held, the other thread would wait WRITER_WAIT_SECONDS (30 s).
    thread = _write_in_another_thread(db, 2)
    thread.join(timeout=10)
    assert not thread.is_alive()
    with db.session(writes=False) as session:
        assert session.execute(text("SELECT v FROM t")).scalars().all() == [2]
    db.dispose()


def test_a_writer_waits_for_the_one_before_it_to_commit(db: Database) -> None:
    with db.session() as session:
        session.execute(text("INSERT INTO t (v) VALUES (1)"))
        thread = _write_in_another_thread(db, 2)
        thread.join(timeout=0.5)
        assert thread.is_alive()  # queued behind this transaction
    thread.join(timeout=10)
    assert not thread.is_alive()
    with db.session(writes=False) as session:
        assert session.execute(text("SELECT v FROM t ORDER BY v")).scalars().all() == [1, 2]
    db.dispose()


def test_readers_do_not_queue_behind_a_writer(db: Database) -> None:
    with db.session() as session:
        session.execute(text("INSERT INTO t (v) VALUES (1)"))
        seen: list[int] = []

        def read() -> None:
            with db.session(writes=False) as reader:
                seen.extend(reader.execute(text("SELECT v FROM t")).scalars().all())

        thread = threading.Thread(target=read)
        thread.start()
        thread.join(timeout=10)
        assert not thread.is_alive() and seen == []  # the write is not committed yet
    db.dispose()


def test_a_transaction_may_commit_on_another_thread_than_it_began(db: Database) -> None:
    """As a request's does: FastAPI runs the session dependency's teardown on a thread of
    the pool that need not be the endpoint's."""
    session = db.sessionmaker()
    session.execute(text("INSERT INTO t (v) VALUES (1)"))  # BEGIN IMMEDIATE here
    failures: list[BaseException] = []

    def commit() -> None:
        try:
            session.commit()
            session.close()
        except BaseException as exc:
            failures.append(exc)

    thread = threading.Thread(target=commit)
    thread.start()
    thread.join(timeout=10)
    assert failures == []
    second = _write_in_another_thread(db, 2)
    second.join(timeout=10)
    assert not second.is_alive()
    with db.session(writes=False) as reader:
        assert reader.execute(text("SELECT v FROM t ORDER BY v")).scalars().all() == [1, 2]
    db.dispose()


def test_a_connection_given_back_mid_transaction_lets_the_next_writer_in(db: Database) -> None:
    connection = db.engine.connect()
    connection.execute(text("INSERT INTO t (v) VALUES (1)"))  # BEGIN IMMEDIATE here
    connection.connection.dbapi_connection.rollback()  # ended below SQLAlchemy's events
    connection.invalidate()  # and given back to the pool
    thread = _write_in_another_thread(db, 2)
    thread.join(timeout=10)
    assert not thread.is_alive()
    db.dispose()


def test_the_next_writer_is_let_in_only_once_sqlite_has_committed(tmp_path: Path) -> None:
    # With SQLite's busy timeout at 0, a writer let in before the last COMMIT had finished
    # would fail at once with "database is locked", where it would otherwise sleep in
    # SQLite's busy handler (1 to 100 ms a try). Four threads writing 250 times each: every
    # write goes through.
    database = Database(f"sqlite:///{tmp_path / 'writers.db'}")

    @event.listens_for(database.engine, "connect")
    def _no_busy_wait(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    with database.session() as session:
        session.execute(text("CREATE TABLE t (v INTEGER)"))
    failures: list[BaseException] = []

    def write(start: int) -> None:
        for value in range(start, start + 250):
            try:
                with database.session() as session:
                    session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
            except Exception as exc:  # what is counted: each write that did not go through
                failures.append(exc)

    threads = [threading.Thread(target=write, args=(n * 1000,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [str(f) for f in failures[:3]] == []
    with database.session(writes=False) as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 1000
    database.dispose()


# ------------------------------------------------------------- requests before background


def _taker(
    turns: WriterTurns, name: str, order: list[str], *, background: bool, hold: float = 0.0
) -> threading.Thread:
    def take() -> None:
        assert turns.acquire(background=background, timeout=10)
        order.append(name)
        time.sleep(hold)
        turns.release()

    thread = threading.Thread(target=take, daemon=True)
    thread.start()
    return thread


def _waiting(turns: WriterTurns, count: int) -> None:
    """Until `count` threads wait for the writer (in line or standing aside)."""
    deadline = time.monotonic() + 5
    while len(turns._line) + len(turns._aside._waiters) < count:  # type: ignore[attr-defined]
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_request_waiting_goes_before_background_work_that_waited_longer() -> None:
    turns = WriterTurns(patience=5)
    order: list[str] = []
    assert turns.acquire(background=False, timeout=1)
    scan = _taker(turns, "scan", order, background=True)
    _waiting(turns, 1)
    request = _taker(turns, "request", order, background=False)
    _waiting(turns, 2)
    turns.release()
    for thread in (scan, request):
        thread.join(timeout=5)
    assert order == ["request", "scan"]


def test_requests_take_the_writer_in_the_order_they_came() -> None:
    turns = WriterTurns()
    order: list[str] = []
    assert turns.acquire(background=False, timeout=1)
    first = _taker(turns, "first", order, background=False, hold=0.05)
    _waiting(turns, 1)
    second = _taker(turns, "second", order, background=False)
    _waiting(turns, 2)
    turns.release()
    for thread in (first, second):
        thread.join(timeout=5)
    assert order == ["first", "second"]


def test_background_work_stands_aside_no_longer_than_its_patience() -> None:
    # Requests one after another, each holding the writer 50 ms, for 3 s: background work
    # with 0.3 s of patience gets in among them, long before they stop.
    turns = WriterTurns(patience=0.3)
    order: list[str] = []
    stop = time.monotonic() + 3

    def requests(name: str) -> None:
        while time.monotonic() < stop:
            assert turns.acquire(background=False, timeout=10)
            order.append(name)
            time.sleep(0.05)
            turns.release()

    streams = [threading.Thread(target=requests, args=(n,), daemon=True) for n in "ab"]
    for thread in streams:
        thread.start()
    time.sleep(0.2)
    started = time.monotonic()
    scan = _taker(turns, "scan", order, background=True)
    scan.join(timeout=5)
    waited = time.monotonic() - started
    for thread in streams:
        thread.join(timeout=10)
    assert "scan" in order and waited < 1.0, f"background work waited {waited:.2f} s"
    assert order.index("scan") < len(order) - 10  # well before the requests stopped


def test_background_work_takes_a_free_writer_at_once_and_one_left_alone_is_woken() -> None:
    turns = WriterTurns(patience=30)
    order: list[str] = []
    assert turns.acquire(background=True, timeout=1)  # nothing waits: no standing aside
    scan = _taker(turns, "scan", order, background=True)
    _waiting(turns, 1)
    turns.release()  # no request waits: the background waiter is woken, not left 30 s
    scan.join(timeout=5)
    assert order == ["scan"]


def test_a_wait_for_the_writer_times_out() -> None:
    turns = WriterTurns(patience=0.05)
    assert turns.acquire(background=False, timeout=1)
    assert turns.acquire(background=False, timeout=0.1) is False
    assert turns.acquire(background=True, timeout=0.2) is False
    turns.release()
    assert turns.acquire(background=True, timeout=0.1)


def test_a_queued_job_s_transactions_are_background_work(db: Database) -> None:
    # jobs.in_background marks a job's transactions; through a real database, a request's
    # write waiting behind one goes before the job's.
    from veriscan.jobs import in_background

    assert background_work.get() is False
    with in_background():
        assert background_work.get() is True
    assert background_work.get() is False

    order: list[int] = []
    written = threading.Event()

    def write(value: int, background: bool) -> None:
        def run() -> None:
            with db.session() as session:
                session.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": value})
                order.append(value)

        if background:
            with in_background():
                run()
        else:
            run()
        written.set()

    with db.session() as session:
        session.execute(text("INSERT INTO t (v) VALUES (0)"))
        job = threading.Thread(target=write, args=(1, True), daemon=True)
        job.start()
        time.sleep(0.2)  # the job waits first
        request = threading.Thread(target=write, args=(2, False), daemon=True)
        request.start()
        time.sleep(0.2)
    for thread in (job, request):
        thread.join(timeout=10)
    assert order == [2, 1]
    db.dispose()


def test_a_dropped_session_collected_inside_acquire_releases_the_writer(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A write session dropped mid-transaction, in a reference cycle, holds the writer
    # until the garbage collector frees it; SQLAlchemy then rolls it back, releasing the
    # writer, on whatever thread the collection runs. Here that is a thread inside
    # `acquire`, waiting for that very writer (the collection forced where acquire
    # allocates its place in line): the release must not wait on acquire's own lock.
    import gc

    from veriscan.core import db as db_module

    gc.disable()
    try:
        dropped = db.sessionmaker()
        dropped.execute(text("INSERT INTO t (v) VALUES (1)"))  # takes the writer
        dropped.cycle = dropped  # type: ignore[attr-defined]
        del dropped

        class CollectingTurn(db_module._Turn):
            def __init__(self, state: threading.Lock) -> None:
                gc.collect()  # frees the dropped session: its rollback releases the writer
                super().__init__(state)

        monkeypatch.setattr(db_module, "_Turn", CollectingTurn)
        written = threading.Event()

        def write() -> None:
            with db.session() as session:
                session.execute(text("INSERT INTO t (v) VALUES (2)"))
            written.set()

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        assert written.wait(5), "the writer stayed taken (the release waited on itself)"
    finally:
        gc.enable()
    with db.session(writes=False) as session:
        assert session.execute(text("SELECT v FROM t")).scalars().all() == [2]
    db.dispose()


def test_a_wait_in_line_interrupted_leaves_no_turn_behind() -> None:
    # Ctrl-C (KeyboardInterrupt) while the main thread waits in line: the next release
    # must not hand the writer to the turn it left.
    turns = WriterTurns()
    assert turns.acquire(background=False, timeout=1)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            turns.acquire(background=False, timeout=5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not turns._line
    turns.release()
    assert turns.acquire(background=False, timeout=1)


def test_background_work_let_in_from_standing_aside_holds_the_writer() -> None:
    turns = WriterTurns(patience=5)
    assert turns.acquire(background=False, timeout=1)
    got, done = threading.Event(), threading.Event()

    def job() -> None:
        assert turns.acquire(background=True, timeout=5)
        got.set()
        done.wait(5)
        turns.release()

    thread = threading.Thread(target=job, daemon=True)
    thread.start()
    _waiting(turns, 1)
    turns.release()
    assert got.wait(5)
    assert turns.acquire(background=False, timeout=0.1) is False  # the job holds it
    done.set()
    thread.join(5)
    assert turns.acquire(background=False, timeout=1)


def test_background_work_keeps_a_timeout_shorter_than_its_patience() -> None:
    turns = WriterTurns(patience=5)
    assert turns.acquire(background=False, timeout=1)
    started = time.monotonic()
    assert turns.acquire(background=True, timeout=0.1) is False
    assert time.monotonic() - started < 1


def test_background_work_s_patience_counts_from_its_first_wait() -> None:
    turns = WriterTurns(patience=0.4)
    assert turns.acquire(background=False, timeout=1)
    thread = threading.Thread(
        target=lambda: turns.acquire(background=True, timeout=5) and turns.release(),
        daemon=True,
    )
    thread.start()
    _waiting(turns, 1)
    time.sleep(0.2)
    turns.release()  # the job is woken, but a request takes the writer first
    assert turns.acquire(background=False, timeout=1)
    time.sleep(0.35)  # 0.55 s after the job began: its patience is spent, it waits in line
    assert len(turns._line) == 1
    turns.release()
    thread.join(5)


def test_in_background_nests_and_is_reset_when_the_job_fails() -> None:
    from veriscan.jobs import in_background

    with in_background():
        with in_background():
            pass
        assert background_work.get() is True
    assert background_work.get() is False
    with pytest.raises(RuntimeError), in_background():
        raise RuntimeError
    assert background_work.get() is False


def test_queued_jobs_and_the_sweep_run_as_background_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import types
    import uuid

    from huey import MemoryHuey

    from veriscan import jobs

    seen: list[tuple[str, bool]] = []
    context: Any = types.SimpleNamespace(huey=MemoryHuey(immediate=True))
    jobs._scan_task(context, "t.scan", lambda c, i: seen.append(("scan", background_work.get())))(
        uuid.uuid4()
    )
    monkeypatch.setattr(
        jobs.malware_dispatch,
        "dispatch",
        lambda c, k: seen.append(("dispatch", background_work.get())),
    )
    jobs._dispatch_task(context)("key")
    monkeypatch.setattr(jobs, "_sweep_all", lambda c: seen.append(("sweep", background_work.get())))
    jobs.sweep_all(context)
    assert seen == [("scan", True), ("dispatch", True), ("sweep", True)]
    assert background_work.get() is False
