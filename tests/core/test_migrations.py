"""The migrations build exactly the schema the models describe, and can be undone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from veriscan.core import migrate
from veriscan.core.db import Base
from veriscan.models import import_all_models

# Made by the migrations only: full-text search, and indexes on expressions (which
# SQLAlchemy cannot reflect, and so cannot compare).
HAND_MADE = (
    "media_scans_fts",
    "search_vector",
    "ix_media_scans_search",
    "ix_malware_scans_user_scan_date",
    "ix_malware_scans_user_ratio",
    "ix_malware_scans_id_keys",
    "ix_media_scans_user_name",
    "ix_media_scans_name",
)


def _hand_made(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (reflected and name is not None and name.startswith(HAND_MADE))


@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index ix_m")
def test_models_match_the_migrations(new_database: Callable[[], str]) -> None:
    import_all_models()
    engine = create_engine(new_database().replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        migrate.upgrade(engine)
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"include_object": _hand_made, "compare_type": True}
            )
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_downgrade_to_nothing_and_up_again(new_database: Callable[[], str]) -> None:
    url = new_database().replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        migrate.upgrade(engine)
        config = migrate.alembic_config(url)
        command.downgrade(config, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert {"users", "files", "malware_scans", "media_scans"} <= set(
            inspect(engine).get_table_names()
        )
    finally:
        engine.dispose()
