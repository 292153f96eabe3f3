"""The process's own queue of SQLite writers: held from BEGIN IMMEDIATE to the commit or
rollback, and never left held."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from veriscan.core.db import Database


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
