"""The action server's write path: a consented sign-up or handoff becomes a lead, and none is lost.

Saving is idempotent (a retried submission gives the same lead and reference), and a later
sign-up with the e-mail of an open sign-up in the same region updates that lead instead of
making a second one. When the database cannot be reached, the lead waits in a local spool
folder and `flush_spool()` writes it once the database is back, unless the citizen had
their data erased in the meantime (bot.store.audit: erasures are recorded for every
action server to see).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from bot.conventions import CHANNELS, REST, citizen_actor
from bot.language.privacy import scrub
from bot.store.audit import AuditLog
from bot.store.database import Database
from bot.store.schema import CLOSED, FIELD_NAMES, LEAD_FIELDS, NEW, SIGNUP, Lead, utcnow

log = logging.getLogger(__name__)

_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
UNAVAILABLE = (OperationalError, InterfaceError)
REFERENCE_ATTEMPTS = 5
UNREADABLE = "unreadable"  # spool subfolder for files that cannot be read as a lead
DEDUPLICATED_KINDS = (SIGNUP,)  # a second handoff is a new question, not an update of the first


class StoreUnavailable(Exception):
    """The database could not be reached."""


class LeadDraft:
    """What the chat collected: the kind, the conversation and the citizen's answers (LEAD_FIELDS); a Lead once saved."""

    def __init__(
        self,
        kind: str,
        conversation_id: str,
        channel: str,
        *,
        consent_at: str | None = None,
        consent_version: str = "",
        transcript: list[dict[str, Any]] | None = None,
        **values: Any,
    ) -> None:
        unknown = set(values) - set(FIELD_NAMES)
        if unknown:
            raise TypeError(f"not a field of a lead: {', '.join(sorted(unknown))}")
        self.kind, self.conversation_id = kind, conversation_id
        self.channel = channel if channel in CHANNELS else REST  # a known name, never text a caller chose
        self.consent_at, self.consent_version = consent_at, consent_version
        self.transcript = list(transcript or [])
        self.values = {f.name: values.get(f.name, f.empty) for f in LEAD_FIELDS}

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LeadDraft) and self.as_json() == other.as_json()

    def as_json(self) -> dict[str, Any]:
        """A flat dict: the spool's file format and what notifications read."""
        return {
            "kind": self.kind,
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            **self.values,
            "consent_at": self.consent_at,
            "consent_version": self.consent_version,
            "transcript": self.transcript,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LeadDraft:
        data = dict(data)
        return cls(data.pop("kind"), data.pop("conversation_id"), data.pop("channel"), **data)

    def key(self) -> str:
        """Identity of one submission: the same answers in the same conversation are the same lead."""
        parts = [self.kind, self.conversation_id]
        parts += [",".join(value) if isinstance(value, list) else str(value) for value in self.values.values()]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def reference(self, year: int | None = None, attempt: int = 0) -> str:
        """The citizen's reference: from the submission's key, or on a collision with another lead's, the next try."""
        key = self.key() if attempt == 0 else hashlib.sha256(f"{self.key()}:{attempt}".encode()).hexdigest()
        number = int(key, 16)
        code = ""
        for _ in range(6):
            number, digit = divmod(number, len(_ALPHABET))
            code += _ALPHABET[digit]
        return f"FRV-{year or utcnow().year}-{code}"


@dataclass(frozen=True)
class SaveResult:
    reference: str
    stored: bool  # False: waiting in the spool for the database
    created: bool  # False: the same submission, or an open lead with the same e-mail, was already stored
    updated: bool = False  # True: that open lead took this submission's answers


def _moment(iso: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(iso) if iso else None


class Intake:
    def __init__(self, db: Database, audit: AuditLog, spool_dir: Path | None = None) -> None:
        self.db, self.audit, self.spool_dir = db, audit, spool_dir

    def save(self, draft: LeadDraft) -> SaveResult:
        """Store the draft once; on a database outage keep it in the spool and say so."""
        draft = LeadDraft.from_json(scrub(draft.as_json()))
        try:
            return self._insert(draft)
        except (StoreUnavailable, SQLAlchemyError) as exc:  # an outage, or any other database error: the lead waits, it is not lost
            if self.spool_dir is None:
                raise StoreUnavailable(type(exc).__name__) from exc
            log.warning("Lead store failed (%s), spooling lead", type(exc).__name__)  # never the message: it may quote the citizen's data
            self._spool(draft)
            return SaveResult(draft.reference(), stored=False, created=True)

    def _insert(self, draft: LeadDraft) -> SaveResult:
        for attempt in range(REFERENCE_ATTEMPTS):
            stored = self._insert_once(draft, attempt)
            if stored is not None:
                return stored
        raise StoreUnavailable("no free reference")

    def _insert_once(self, draft: LeadDraft, attempt: int) -> SaveResult | None:
        """The stored lead; None when its reference is another lead's (try the next)."""
        key = draft.key()
        with self.db.session() as session:
            existing = session.execute(sa.select(Lead.reference).where(Lead.submission_key == key)).scalar()
            if existing:
                return SaveResult(existing, stored=True, created=False)
            earlier = self._open_lead_with_email(session, draft)
            if earlier is not None:
                return self._update(session, earlier, draft)
            lead = Lead(
                **draft.values,
                kind=draft.kind,
                conversation_id=draft.conversation_id,
                channel=draft.channel,
                consent_version=draft.consent_version,
                transcript=draft.transcript,
                reference=draft.reference(attempt=attempt),
                submission_key=key,
                consent_at=_moment(draft.consent_at),
                status=NEW,
            )
            session.add(lead)
            self.audit.add(session, citizen_actor(draft.conversation_id), "lead_created", lead.reference, kind=draft.kind, channel=draft.channel)
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = session.execute(sa.select(Lead.reference).where(Lead.submission_key == key)).scalar()
                if existing:
                    return SaveResult(existing, stored=True, created=False)
                if session.execute(sa.select(Lead.id).where(Lead.reference == draft.reference(attempt=attempt))).first():
                    return None  # two submissions, one reference: the later takes the next
                raise
            return SaveResult(lead.reference, stored=True, created=True)

    @staticmethod
    def _open_lead_with_email(session: Session, draft: LeadDraft) -> Lead | None:
        """The newest open lead of this kind with the draft's e-mail in the draft's region: a second sign-up updates it."""
        if draft.kind not in DEDUPLICATED_KINDS or not draft["email"]:
            return None
        query = sa.select(Lead).where(
            Lead.kind == draft.kind,
            sa.func.lower(Lead.email) == draft["email"].lower(),
            Lead.region == draft["region"],
            Lead.status.not_in(CLOSED),
        )
        return session.execute(query.order_by(Lead.id.desc()).limit(1)).scalar()

    def _update(self, session: Session, lead: Lead, draft: LeadDraft) -> SaveResult:
        """The open lead takes the draft's answers, consent and conversation, keeping its reference, status and notes.

        The conversation moves too, so that the citizen who gave these answers can see and erase
        them ("hvad har I gemt om mig?"); nothing of the earlier answers stays behind to show.
        A submission older than the lead's consent (a spooled one written late) changes nothing.
        """
        consent_at = _moment(draft.consent_at)
        if lead.consent_at and consent_at and consent_at < lead.consent_at:
            return SaveResult(lead.reference, stored=True, created=False)
        changed = sorted(name for name, value in draft.values.items() if getattr(lead, name) != value)
        for name, value in draft.values.items():
            setattr(lead, name, value)
        lead.conversation_id, lead.channel, lead.transcript = draft.conversation_id, draft.channel, draft.transcript
        lead.consent_at, lead.consent_version, lead.submission_key = consent_at, draft.consent_version, draft.key()
        self.audit.add(session, citizen_actor(draft.conversation_id), "lead_updated", lead.reference, kind=draft.kind, channel=draft.channel, fields=changed)
        session.commit()
        return SaveResult(lead.reference, stored=True, created=False, updated=True)

    def _spool(self, draft: LeadDraft) -> None:
        assert self.spool_dir is not None
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        final = self.spool_dir / f"{draft.key()}.json"
        tmp = final.with_suffix(".tmp")
        tmp.write_text(json.dumps(draft.as_json(), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, final)

    def _set_aside(self, path: Path, exc: Exception) -> None:
        assert self.spool_dir is not None
        aside = self.spool_dir / UNREADABLE
        aside.mkdir(parents=True, exist_ok=True)
        os.replace(path, aside / path.name)
        log.error("Spooled lead %s is unreadable (%s); moved to %s for a person to look at", path.name, type(exc).__name__, aside)

    def spooled(self) -> list[Path]:
        return sorted(self.spool_dir.glob("*.json")) if self.spool_dir and self.spool_dir.exists() else []

    def unreadable(self) -> list[Path]:
        """Spool files that could not be read as a lead, set aside for a person (and for retention)."""
        aside = self.spool_dir / UNREADABLE if self.spool_dir else None
        return sorted(p for p in aside.iterdir() if p.is_file()) if aside and aside.exists() else []

    def withdraw(self, conversation_id: str) -> list[LeadDraft]:
        """Delete this conversation's leads from this action server's spool, and unreadable files that name it."""
        withdrawn = []
        for path in self.spooled():
            try:
                draft = self.read_spooled(path)
            except (OSError, ValueError, KeyError, TypeError):
                continue  # the next flush sets it aside; files already set aside are searched below
            if draft.conversation_id == conversation_id:
                path.unlink(missing_ok=True)
                withdrawn.append(draft)
        named = json.dumps(conversation_id, ensure_ascii=False)
        for path in self.unreadable():
            if named in path.read_text(encoding="utf-8", errors="replace"):
                path.unlink(missing_ok=True)
        return withdrawn

    @staticmethod
    def read_spooled(path: Path) -> LeadDraft:
        return LeadDraft.from_json(json.loads(path.read_text(encoding="utf-8")))

    def flush_spool(self) -> list[tuple[LeadDraft, SaveResult]]:
        """Write spooled leads, except those of citizens who had their data erased since; returns those written now (for notifications)."""
        written = []
        for path in self.spooled():
            try:
                draft = self.read_spooled(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._set_aside(path, exc)  # one broken file must not hold back the leads behind it
                continue
            try:
                if self.audit.erased_since(draft.conversation_id, draft.consent_at):
                    self._discard(path, draft)
                    continue
                result = self._insert(draft)
                path.unlink()
                if self.audit.erased_since(draft.conversation_id, draft.consent_at):  # the erasure came while it was written
                    self._remove(result.reference, draft)
                    continue
            except (StoreUnavailable, *UNAVAILABLE):
                break  # the database is down: the rest wait too
            except SQLAlchemyError as exc:
                log.warning("Spooled lead %s not written (%s); trying again later", path.name, type(exc).__name__)
                continue
            written.append((draft, result))
        return written

    def _discard(self, path: Path, draft: LeadDraft) -> None:
        """A spooled lead of an erased conversation: deleted, never written."""
        path.unlink(missing_ok=True)
        self.audit.record(self.audit.pseudonym(draft.conversation_id), "lead_deleted", draft.reference(), reason="citizen_request", spooled=True)
        log.info("Spooled lead %s dropped: the citizen had their data erased", draft.reference())

    def _remove(self, reference: str, draft: LeadDraft) -> None:
        """A spooled lead written while its conversation was erased: deleted after all."""
        with self.db.session() as session:
            removed = session.execute(sa.delete(Lead).where(Lead.reference == reference, Lead.conversation_id == draft.conversation_id)).rowcount
            if removed:
                self.audit.add(session, self.audit.pseudonym(draft.conversation_id), "lead_deleted", reference, reason="citizen_request", spooled=True)
            session.commit()
