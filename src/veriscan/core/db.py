"""Database engine, sessions and the declarative base shared by every domain."""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, create_engine, event, inspect
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


# How long a writer of this process waits for another of its writers before it goes on to
# SQLite's own lock (and its busy timeout) anyway.
WRITER_WAIT_SECONDS = 30
# How long background work's write transaction stands aside for requests' before it takes
# its turn among them.
BACKGROUND_PATIENCE_SECONDS = 0.5
_HOLDS_WRITER = "veriscan_holds_writer"

#: True while a queued job runs (jobs.py: scans, dispatch, the sweep). On SQLite its write
#: transactions let requests' go first (`WriterTurns`).
background_work: ContextVar[bool] = ContextVar("veriscan_background_work", default=False)


class _Turn:
    """One thread waiting in line for the writer: handed it directly by `release`."""

    __slots__ = ("granted", "wake")

    def __init__(self, state: threading.Lock) -> None:
        self.granted = False
        self.wake = threading.Condition(state)


# How often a thread waiting for the writer looks again by itself (see `WriterTurns`).
_RECHECK_SECONDS = 0.05


class WriterTurns:
    """The one SQLite writer of this process, taken in turns.

    A request's write transaction goes before background work's: on the embedded default
    one writer serves both, and a request waits with a client on the line, while a scan's
    bookkeeping can come a moment later. Requests wait in line, first come first served;
    `release` hands the writer to the first in line (no thread that comes later can take
    it in between). Background work takes a free writer at once, but while it is taken or
    anyone waits in line it stands aside, for at most `patience` seconds, then joins the
    line, so it is never starved. Whichever thread ends the transaction releases it (a
    request's may begin on one pool thread and end on another), so this is no Lock.

    `release` may also run on a thread that is inside `acquire`: the garbage collector,
    finalizing a session dropped mid-transaction, rolls its connection back, which
    releases the writer, at whatever allocation it interrupts. Taking `_state` there would
    wait on itself, so such a release is queued (`SimpleQueue.put` is safe there) and
    applied under `_state` by the next to hold it; waiters look again every 50 ms, so a
    queued release waits no longer than that.
    """

    def __init__(self, patience: float = BACKGROUND_PATIENCE_SECONDS) -> None:
        self.patience = patience
        self._state = threading.Lock()
        self._aside = threading.Condition(self._state)  # background work standing aside
        self._line: deque[_Turn] = deque()
        self._held = False
        self._queued: queue.SimpleQueue[None] = queue.SimpleQueue()
        self._inside = threading.local()  # this thread is in acquire (may hold `_state`)

    def acquire(self, *, background: bool, timeout: float) -> bool:
        """Wait for the writer, at most `timeout` seconds; whether it was taken."""
        deadline = time.monotonic() + timeout
        self._inside.now = True
        try:
            with self._state:
                return self._acquire(background, deadline)
        finally:
            self._inside.now = False

    def _acquire(self, background: bool, deadline: float) -> bool:
        self._apply_queued()
        if not self._held and not self._line:
            self._held = True
            return True
        if background:
            stand_aside_until = min(time.monotonic() + self.patience, deadline)
            while True:
                left = stand_aside_until - time.monotonic()
                if left <= 0:
                    break
                self._aside.wait(min(left, _RECHECK_SECONDS))
                self._apply_queued()
                if not self._held and not self._line:
                    self._held = True
                    return True
        turn = _Turn(self._state)
        self._line.append(turn)
        try:
            while not turn.granted:
                left = deadline - time.monotonic()
                if left <= 0:
                    self._line.remove(turn)
                    return False
                turn.wake.wait(min(left, _RECHECK_SECONDS))
                self._apply_queued()
        except BaseException:  # interrupted while in line: no turn left behind
            if turn.granted:
                self._hand_on()
            else:
                self._line.remove(turn)
            raise
        return True

    def release(self) -> None:
        if getattr(self._inside, "now", False):  # inside acquire, on this very thread
            self._queued.put(None)
            return
        with self._state:
            self._apply_queued()
            self._hand_on()

    def _apply_queued(self) -> None:
        """With `_state` held: the releases queued by `release`."""
        while not self._queued.empty():  # only this thread takes from it
            self._queued.get_nowait()
            self._hand_on()

    def _hand_on(self) -> None:
        """With `_state` held: the writer to the first in line, else free."""
        if self._line:
            turn = self._line.popleft()
            turn.granted = True  # handed over: the writer stays taken
            turn.wake.notify()
        else:
            self._held = False
            self._aside.notify()


def core_execute(
    session: Session, statement: Any, parameters: Any = None
) -> Any:  # a CursorResult (typed Any: its rows are plain tuples of columns)
    """Run a Core statement on the session's connection, in its transaction, for the
    statements every scan runs. The session's `execute` would take it through the ORM:
    a new annotated copy of an INSERT or UPDATE each time (so its cache key is computed
    again), bulk-insert bookkeeping, rows loaded through the ORM's result machinery. A
    small file's scan took 3.1-3.6 ms of CPU that way and 1.9-2.1 ms this way
    (bench/scan_cost.py, 2026-12-07). Pending ORM changes are flushed first, as the
    session's autoflush would."""
    session.flush()
    return session.connection().execute(statement, parameters)


def core_insert(session: Session, *objects: Base) -> None:
    """Insert new ORM objects with Core INSERTs on the session's connection (see
    `core_execute`), in the order given (parents first), rather than at the session's
    flush: for the rows every upload writes. A column the object has no value for takes
    its Python default, which is also set on the object, so that it reads as after a
    flush. The objects stay out of the session: read them, do not change them."""
    session.flush()
    connection = session.connection()
    for obj in objects:
        mapper = inspect(obj).mapper
        values = {}
        for attribute in mapper.column_attrs:
            column = attribute.columns[0]
            value = obj.__dict__.get(attribute.key)
            if value is None and column.default is not None:
                default: Any = column.default
                if not (default.is_scalar or default.is_callable):
                    raise TypeError(f"{mapper.class_.__name__}.{attribute.key}: a SQL default")
                value = default.arg(None) if default.is_callable else default.arg
                set_committed_value(obj, attribute.key, value)
            values[column.key] = value
        connection.execute(_insert_of(mapper.local_table), values)


@cache
def _insert_of(table: Any) -> Any:
    return table.insert()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        # Web handlers and worker threads write the same file: WAL lets readers go on
        # during a write, and the busy timeout makes writers queue instead of failing.
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
            # Let SQLAlchemy, not pysqlite, open transactions, so BEGIN IMMEDIATE works.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        # SQLite has one writer at a time, and a writer that finds the lock taken sleeps
        # in steps of up to 100 ms before it looks again. Writers of this process queue on
        # a lock of their own first, so the next one starts as soon as the last commits,
        # requests before background work (`WriterTurns`).
        writer = WriterTurns()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # A transaction that will write takes the write lock at its start: a deferred
            # one that reads first and writes later fails with "database is locked"
            # instead of waiting its turn. Readers stay deferred and run alongside (WAL).
            if conn.get_execution_options().get("veriscan_writes", True):
                if writer.acquire(background=background_work.get(), timeout=WRITER_WAIT_SECONDS):
                    conn.info[_HOLDS_WRITER] = True
                try:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                except BaseException:
                    _let_go(conn.info)
                    raise
            else:
                conn.exec_driver_sql("BEGIN")

        def _let_go(info: dict[Any, Any] | None) -> None:
            if info is not None and info.pop(_HOLDS_WRITER, False):
                writer.release()

        # The lock is let go once SQLite's own is, after the COMMIT or ROLLBACK itself:
        # SQLAlchemy's "commit" and "rollback" events come before it, and a writer let in
        # then found SQLite's lock still taken and slept in its busy handler. Both are given
        # the pool's proxy, whose `info` is its connection record's (as `conn.info` above);
        # the pool's own rollback of a connection given back mid-transaction (a session
        # dropped, not closed) comes through here too.
        def _then_let_go(end: Callable[[Any], None]) -> Callable[[Any], None]:
            def ended(connection: Any) -> None:
                try:
                    end(connection)
                finally:
                    _let_go(_record_info(connection))

            return ended

        def _record_info(connection: Any) -> dict[Any, Any] | None:
            try:  # a proxy the pool makes for its own resets has none: checkin covers it
                info: dict[Any, Any] = connection.info
            except (AttributeError, NotImplementedError):
                return None
            return info

        dialect = engine.dialect
        dialect.do_commit = _then_let_go(dialect.do_commit)  # type: ignore[method-assign,assignment]
        dialect.do_rollback = _then_let_go(dialect.do_rollback)  # type: ignore[method-assign,assignment]

        @event.listens_for(engine, "checkin")
        def _checked_in(_: Any, record: Any) -> None:
            # Given back with no rollback through the dialect (an invalidated connection).
            _let_go(record.info)

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


class Database:
    """The engine and session factory of one process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessionmaker = sessionmaker(
            self.engine.execution_options(veriscan_writes=False), expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self, *, writes: bool = True) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on error.

        `writes=False` promises a read-only transaction, which SQLite runs beside others.
        """
        session = (self.sessionmaker if writes else self.read_sessionmaker)()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def refresh_statistics(self) -> None:
        """Give SQLite's planner statistics (ANALYZE, sampled so that it stays quick on a
        large file). Without them it read every share and case entry of a kind for each
        listing instead of the caller's own (bench/listing.py: 211 ms a page, 31 ms after
        one ANALYZE). PostgreSQL's autovacuum keeps its own."""
        if not self.is_sqlite:
            return
        with self.engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA analysis_limit=1000")
            connection.exec_driver_sql("ANALYZE")
            connection.commit()

    def dispose(self) -> None:
        self.engine.dispose()
