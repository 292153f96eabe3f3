"""`db.core_insert`: new ORM objects written by Core INSERTs, each column's Python
default filled in on the object as a flush would, nothing left in the session."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import JSON, String, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from veriscan.core.db import Database, UTCDateTime, core_insert, utcnow


class _Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


class Thing(_Base):
    __tablename__ = "things"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    count: Mapped[int] = mapped_column(default=7)
    label: Mapped[str] = mapped_column(String(20), default="plain")
    note: Mapped[str | None] = mapped_column(String(20), default=None)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Stamped(_Base):
    __tablename__ = "stamped"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=func.now())


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'insert.db'}")
    _Base.metadata.create_all(database.engine)
    return database


def test_defaults_are_filled_in_on_the_object_and_stored(db: Database) -> None:
    given = Thing(count=3, note="given", data={"a": 1})
    bare = Thing(label=None)  # None where a default exists: the default, as a flush does
    before = utcnow()
    with db.session() as session:
        core_insert(session, given, bare)
        assert not session.new and given not in session and bare not in session
    after = utcnow()
    for thing in (given, bare):
        assert isinstance(thing.id, uuid.UUID)
        assert before <= thing.created_at <= after
    assert given.id != bare.id
    assert (given.count, given.label, given.note, given.data) == (3, "plain", "given", {"a": 1})
    assert (bare.count, bare.label, bare.note, bare.data) == (7, "plain", None, {})
    with db.session(writes=False) as session:
        stored = {
            row.id: (row.created_at, row.count, row.label, row.note, row.data)
            for row in session.execute(select(Thing.__table__))
        }
    assert stored == {
        thing.id: (thing.created_at, thing.count, thing.label, thing.note, thing.data)
        for thing in (given, bare)
    }
    db.dispose()


def test_pending_objects_are_flushed_first(db: Database) -> None:
    earlier = Thing(label="pending")
    with db.session() as session:
        session.add(earlier)
        core_insert(session, Thing(label="core"))
        assert not session.new
    with db.session(writes=False) as session:
        labels = session.execute(select(Thing.label).order_by(text("rowid"))).scalars().all()
    assert labels == ["pending", "core"]
    db.dispose()


def test_a_failed_insert_rolls_back_with_the_rest_of_its_transaction(db: Database) -> None:
    earlier = Thing(id=uuid.uuid4(), label="pending")
    with pytest.raises(IntegrityError, match="UNIQUE"), db.session() as session:
        session.add(earlier)
        core_insert(session, Thing(id=earlier.id))
    with db.session(writes=False) as session:
        assert session.execute(select(func.count()).select_from(Thing)).scalar() == 0
    db.dispose()


def test_a_sql_default_is_refused(db: Database) -> None:
    with pytest.raises(TypeError, match=r"Stamped\.at: a SQL default"), db.session() as session:
        core_insert(session, Stamped(id=1))
    db.dispose()
