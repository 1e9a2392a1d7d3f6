"""The audit log: who created, viewed, exported, changed or deleted what, and every login."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.store.database import Database
from bot.store.schema import AuditEntry


class AuditLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def add(session: Session, actor: str, action: str, reference: str = "", **detail: Any) -> None:
        """An entry in the caller's transaction, so that it is written together with what it records."""
        session.add(AuditEntry(actor=actor, action=action, lead_reference=reference, detail=detail))

    def record(self, actor: str, action: str, reference: str = "", **detail: Any) -> None:
        with self.db.session() as session:
            self.add(session, actor, action, reference, **detail)
            session.commit()

    def entries(self, limit: int = 200) -> list[AuditEntry]:
        with self.db.session() as session:
            return list(session.execute(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).scalars())
