"""Alembic environment: run by `veriscan migrate`, by `serve` on start and by the tests."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from veriscan.core.db import Base
from veriscan.models import import_all_models

import_all_models()
config = context.config
target_metadata = Base.metadata


# Search structures that the models do not describe (created by hand in a migration):
# autogenerate must not offer to drop them.
HAND_MADE = {
    "media_scans_fts",
    "search_vector",
    "ix_media_scans_search",
    # Indexes on expressions, or with INCLUDE columns (migrations 0010 and 0012).
    "ix_malware_scans_user_scan_date",
    "ix_malware_scans_user_ratio",
    "ix_media_scans_user_name",
    "ix_media_scans_name",
    "ix_malware_scans_id_keys",
}


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    return not (
        reflected and name is not None and (name in HAND_MADE or name.startswith("media_scans_fts"))
    )


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
        with engine.connect() as connection:
            _run(connection)
        engine.dispose()
    else:
        _run(connection)


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
