"""Schema migrations with Alembic, from the package's own migrations folder."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
logger = logging.getLogger("veriscan.migrate")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(slug)s")
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database to the newest revision; safe to run from several processes."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Two servers starting together must not both create the tables.
            connection.execute(text("SELECT pg_advisory_xact_lock(724215)"))
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    logger.info("db.migrated url=%s", engine.url.render_as_string(hide_password=True))
