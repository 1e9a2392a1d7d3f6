"""A citizen's own requests from the chat: what is stored about me, and delete it."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from bot.conventions import citizen_actor
from bot.store.audit import AuditLog
from bot.store.database import Database
from bot.store.export import lead_dict
from bot.store.intake import Intake
from bot.store.schema import Lead


class CitizenRequests:
    def __init__(self, db: Database, audit: AuditLog, intake: Intake) -> None:
        self.db, self.audit, self.intake = db, audit, intake

    def for_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.db.session() as session:
            leads = session.execute(sa.select(Lead).where(Lead.conversation_id == conversation_id).order_by(Lead.id)).scalars()
            return [lead_dict(lead) for lead in leads]

    def erase_conversation(self, conversation_id: str) -> int:
        """GDPR erasure requested by the citizen: every lead of this conversation, spooled ones too."""
        removed = 0
        for path in self.intake.spooled():
            if self.intake.read_spooled(path).conversation_id == conversation_id:
                path.unlink()
                removed += 1
        with self.db.session() as session:
            leads = list(session.execute(sa.select(Lead).where(Lead.conversation_id == conversation_id)).scalars())
            for lead in leads:
                session.delete(lead)
                self.audit.add(session, citizen_actor(conversation_id), "lead_deleted", lead.reference, reason="citizen_request")
            session.commit()
        return removed + len(leads)
