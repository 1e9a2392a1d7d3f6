"""The audit log: who created, viewed, exported, changed or deleted what, and every login.

A citizen who has their data erased is named in it by a pseudonym from then on: the facts
(a lead was created, viewed, deleted) stay, the conversation id (a Telegram user's id, say)
and any dashboard search that found them by name, e-mail or phone do not. The erasure
itself is an entry under the same pseudonym, which every action server checks before it
writes a spooled lead of that conversation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bot.conventions import CITIZEN, citizen_actor
from bot.settings import settings
from bot.store.database import Database
from bot.store.schema import AuditEntry

PSEUDONYM_PURPOSE = "audit-pseudonym"  # the derived secret (bot.settings.Settings.derived_secret) that keys pseudonyms
ERASED = "conversation_erased"
EXPORT = "export"  # its `filter` may hold a coordinator's free-text search ("q")
MASKED = "[slettet]"


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

    def pseudonym(self, conversation_id: str) -> str:
        """The same name for every entry of one conversation, keyed so that nobody can test a Telegram id against it."""
        key = settings().derived_secret(PSEUDONYM_PURPOSE)  # every action server shares SECRET_KEY, so each finds the same
        digest = hmac.new(key.encode(), conversation_id.encode(), hashlib.sha256).hexdigest()[:16]
        return f"{CITIZEN}:anonym-{digest}"

    def forget_citizen(self, session: Session, conversation_id: str, identifying: Iterable[str], **detail: Any) -> int:
        """Name the citizen by their pseudonym, mask searches that found them, and record the erasure; returns the entries changed."""
        pseudonym = self.pseudonym(conversation_id)
        renamed = session.execute(sa.update(AuditEntry).where(AuditEntry.actor == citizen_actor(conversation_id)).values(actor=pseudonym)).rowcount
        masked = 0
        values = [value.casefold() for value in identifying if value]
        for entry in session.execute(sa.select(AuditEntry).where(AuditEntry.action == EXPORT)).scalars():
            search = str((entry.detail or {}).get("filter", {}).get("q") or "").casefold()
            if search and any(search in value or value in search for value in values):
                entry.detail = {**entry.detail, "filter": {**entry.detail["filter"], "q": MASKED}}
                masked += 1
        self.add(session, pseudonym, ERASED, **detail)
        return int(renamed or 0) + masked

    def erased_since(self, conversation_id: str, moment: str | None) -> bool:
        """Whether the citizen of this conversation had their data erased at or after `moment` (ISO, UTC; None: ever)."""
        query = sa.select(AuditEntry.id).where(AuditEntry.actor == self.pseudonym(conversation_id), AuditEntry.action == ERASED)
        if moment:
            query = query.where(AuditEntry.at >= dt.datetime.fromisoformat(moment))
        with self.db.session() as session:
            return session.execute(query.limit(1)).first() is not None
