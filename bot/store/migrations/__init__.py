"""Alembic migrations of the lead store, run in code so that no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

HERE = Path(__file__).resolve().parent


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


def head() -> str:
    return str(ScriptDirectory(str(HERE)).get_current_head())


def current(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; safe when several processes start at once."""
    if current(engine) == head():
        return
    try:
        command.upgrade(_config(engine), "head")
    except Exception:
        # Another process may have migrated between our check and our attempt.
        if current(engine) != head():
            raise
