"""A citizen's own requests from the chat: what is stored about me, and delete it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from bot.store.audit import AuditLog
from bot.store.database import Database
from bot.store.export import lead_dict
from bot.store.intake import Intake
from bot.store.schema import Lead

IDENTIFYING = ("name", "email", "phone")  # what names a citizen in a coordinator's search


@dataclass(frozen=True)
class Erasure:
    """What an erasure deleted of the lead store: each lead's kind and reference, stored or spooled, and the audit entries made anonymous."""

    leads: tuple[tuple[str, str], ...] = ()
    audit_entries: int = 0

    def kinds(self) -> tuple[str, ...]:
        return tuple(sorted({kind for kind, _ in self.leads}))

    def references(self) -> list[str]:
        return [reference for _, reference in self.leads]


class CitizenRequests:
    def __init__(self, db: Database, audit: AuditLog, intake: Intake) -> None:
        self.db, self.audit, self.intake = db, audit, intake

    def for_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.db.session() as session:
            leads = session.execute(sa.select(Lead).where(Lead.conversation_id == conversation_id).order_by(Lead.id)).scalars()
            return [lead_dict(lead) for lead in leads]

    def erase_conversation(self, conversation_id: str) -> Erasure:
        """GDPR erasure requested by the citizen: every lead of this conversation, spooled ones too, and their name in the audit log.

        The erasure is recorded first, so that from then on no action server writes a spooled
        lead of this conversation (Intake.flush_spool); then the leads go. The caller deletes
        the conversation itself and unsent notifications.
        """
        with self.db.session() as session:
            known = session.execute(sa.select(*(getattr(Lead, name) for name in IDENTIFYING)).where(Lead.conversation_id == conversation_id)).all()
            renamed = self.audit.forget_citizen(session, conversation_id, [str(value) for row in known for value in row])
            session.commit()
        spooled = self.intake.withdraw(conversation_id)
        actor = self.audit.pseudonym(conversation_id)
        with self.db.session() as session:
            leads = list(session.execute(sa.select(Lead).where(Lead.conversation_id == conversation_id)).scalars())
            for lead in leads:
                session.delete(lead)
                self.audit.add(session, actor, "lead_deleted", lead.reference, reason="citizen_request")
            for draft in spooled:
                self.audit.add(session, actor, "lead_deleted", draft.reference(), reason="citizen_request", spooled=True)
            session.commit()
        erased = [(lead.kind, lead.reference) for lead in leads] + [(draft.kind, draft.reference()) for draft in spooled]
        return Erasure(leads=tuple(erased), audit_entries=renamed)
