"""The action server's write path: a consented sign-up or handoff becomes a lead, and none is lost.

Saving is idempotent (a retried submission gives the same lead and reference). When the
database cannot be reached, the lead waits in a local spool folder and `flush_spool()`
writes it once the database is back.
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

from bot.conventions import CHANNELS, REST, citizen_actor
from bot.language.privacy import scrub
from bot.store.audit import AuditLog
from bot.store.database import Database
from bot.store.schema import FIELD_NAMES, LEAD_FIELDS, NEW, Lead, utcnow

log = logging.getLogger(__name__)

_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
UNAVAILABLE = (OperationalError, InterfaceError)
REFERENCE_ATTEMPTS = 5
UNREADABLE = "unreadable"  # spool subfolder for files that cannot be read as a lead


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
    created: bool  # False: the same submission was already stored


class Intake:
    def __init__(self, db: Database, audit: AuditLog, spool_dir: Path | None = None) -> None:
        self.db, self.audit, self.spool_dir = db, audit, spool_dir

    def save(self, draft: LeadDraft) -> SaveResult:
        """Store the draft once; on a database outage keep it in the spool and say so."""
        draft = LeadDraft.from_json(scrub(draft.as_json()))
        try:
            reference, created = self._insert(draft)
            return SaveResult(reference, stored=True, created=created)
        except (StoreUnavailable, SQLAlchemyError) as exc:  # an outage, or any other database error: the lead waits, it is not lost
            if self.spool_dir is None:
                raise StoreUnavailable(type(exc).__name__) from exc
            log.warning("Lead store failed (%s), spooling lead", type(exc).__name__)  # never the message: it may quote the citizen's data
            self._spool(draft)
            return SaveResult(draft.reference(), stored=False, created=True)

    def _insert(self, draft: LeadDraft) -> tuple[str, bool]:
        for attempt in range(REFERENCE_ATTEMPTS):
            stored = self._insert_once(draft, attempt)
            if stored is not None:
                return stored
        raise StoreUnavailable("no free reference")

    def _insert_once(self, draft: LeadDraft, attempt: int) -> tuple[str, bool] | None:
        """The lead's reference and whether it is new; None when its reference is another lead's (try the next)."""
        key = draft.key()
        with self.db.session() as session:
            existing = session.execute(sa.select(Lead.reference).where(Lead.submission_key == key)).scalar()
            if existing:
                return existing, False
            lead = Lead(
                **draft.values,
                kind=draft.kind,
                conversation_id=draft.conversation_id,
                channel=draft.channel,
                consent_version=draft.consent_version,
                transcript=draft.transcript,
                reference=draft.reference(attempt=attempt),
                submission_key=key,
                consent_at=dt.datetime.fromisoformat(draft.consent_at) if draft.consent_at else None,
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
                    return existing, False
                if session.execute(sa.select(Lead.id).where(Lead.reference == draft.reference(attempt=attempt))).first():
                    return None  # two submissions, one reference: the later takes the next
                raise
            return lead.reference, True

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

    @staticmethod
    def read_spooled(path: Path) -> LeadDraft:
        return LeadDraft.from_json(json.loads(path.read_text(encoding="utf-8")))

    def flush_spool(self) -> list[tuple[LeadDraft, SaveResult]]:
        """Write spooled leads; returns those written now (for notifications)."""
        written = []
        for path in self.spooled():
            try:
                draft = self.read_spooled(path)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                self._set_aside(path, exc)  # one broken file must not hold back the leads behind it
                continue
            try:
                reference, created = self._insert(draft)
            except (StoreUnavailable, *UNAVAILABLE):
                break  # the database is down: the rest wait too
            except SQLAlchemyError as exc:
                log.warning("Spooled lead %s not written (%s); trying again later", path.name, type(exc).__name__)
                continue
            path.unlink()
            written.append((draft, SaveResult(reference, stored=True, created=created)))
        return written
