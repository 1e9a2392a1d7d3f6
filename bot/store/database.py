"""The lead store's database: one engine, its sessions and the schema migration (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.store import migrations


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str, pooled: bool = False) -> Engine:
    """An engine on the URL; a SQLite file gets the write-ahead log and waits for locks, and keeps its connections
    open when `pooled` (SQLAlchemy opens one per session otherwise)."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        pool: dict[str, Any] = {"poolclass": sa.pool.QueuePool, "pool_size": 5, "max_overflow": 10} if pooled else {}
        engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, future=True, hide_parameters=True, **pool)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10, future=True, hide_parameters=True)


class Database:
    """Sessions on the lead store, with the schema brought up to date before the first one."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False, future=True)
        self._migrated = False
        self._migrating = threading.Lock()

    def migrate(self) -> None:
        """Bring the schema up to date once. The action server saves from worker threads, and
        Alembic's migration context is global to the process, so one thread migrates at a time."""
        if self._migrated:
            return
        with self._migrating:
            if not self._migrated:
                migrations.upgrade(self.engine)
                self._migrated = True

    def session(self) -> Session:
        self.migrate()
        return self._sessions()
