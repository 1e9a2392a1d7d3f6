"""The lead store: the one place where sign-ups and handoff cases are kept.

Saving is idempotent (a retried submission gives the same lead and reference) and
never loses a lead: when the database cannot be reached, the lead waits in a local
spool folder and is written by `flush_spool()` once the database is back.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot import migrations
from bot.db import AuditEntry, Coordinator, Lead, Note, make_engine, utcnow
from bot.privacy import scrub

log = logging.getLogger(__name__)

STATUSES = ("ny", "kontaktet", "aftalt", "aktiv", "afsluttet", "afvist")
CLOSED = ("afsluttet", "afvist")
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "ny": ("kontaktet", "afvist", "afsluttet"),
    "kontaktet": ("aftalt", "afvist", "afsluttet"),
    "aftalt": ("aktiv", "afvist", "afsluttet"),
    "aktiv": ("afsluttet",),
    "afsluttet": (),
    "afvist": (),
}
EXPORT_FIELDS = (
    "reference",
    "kind",
    "created_at",
    "name",
    "email",
    "phone",
    "region",
    "municipality",
    "interests",
    "availability",
    "message",
    "question",
    "channel",
    "conversation_id",
    "status",
    "consent_at",
    "consent_version",
)
_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


class StoreUnavailable(Exception):
    """The database could not be reached."""


@dataclass
class LeadDraft:
    """What the chat collected; becomes a Lead once saved."""

    kind: str
    conversation_id: str
    channel: str
    name: str = ""
    email: str = ""
    phone: str = ""
    region: str = ""
    municipality: str = ""
    interests: list[str] = field(default_factory=list)
    availability: str = ""
    message: str = ""
    question: str = ""
    consent_at: str | None = None
    consent_version: str = ""
    transcript: list[dict[str, Any]] = field(default_factory=list)

    def key(self) -> str:
        """Identity of one submission: the same answers in the same conversation are the same lead."""
        parts = [
            self.kind,
            self.conversation_id,
            self.name,
            self.email,
            self.phone,
            self.region,
            self.municipality,
            ",".join(self.interests),
            self.availability,
            self.message,
            self.question,
        ]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()

    def reference(self, year: int | None = None) -> str:
        number = int(self.key(), 16)
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


@dataclass(frozen=True)
class Viewer:
    """Who looks at leads: admins see all regions, coordinators their own."""

    email: str
    role: str
    regions: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass
class LeadFilter:
    region: str = ""
    status: str = ""
    interest: str = ""
    kind: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    text: str = ""


def _iso(value: dt.datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() + "Z" if value else None


def lead_dict(lead: Lead) -> dict[str, Any]:
    return {
        "reference": lead.reference,
        "kind": lead.kind,
        "created_at": _iso(lead.created_at),
        "name": lead.name,
        "email": lead.email,
        "phone": lead.phone,
        "region": lead.region,
        "municipality": lead.municipality,
        "interests": list(lead.interests or []),
        "availability": lead.availability,
        "message": lead.message,
        "question": lead.question,
        "channel": lead.channel,
        "conversation_id": lead.conversation_id,
        "status": lead.status,
        "consent_at": _iso(lead.consent_at),
        "consent_version": lead.consent_version,
    }


def _cell(value: Any) -> str:
    text = ", ".join(value) if isinstance(value, list) else ("" if value is None else str(value))
    # A citizen's text starting like a formula must not run as one in Excel.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Iterable[dict[str, Any]]) -> str:
    """CSV that Danish Excel opens correctly: UTF-8 with BOM, semicolons, no formulas."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, delimiter=";", extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return "\ufeff" + out.getvalue()


_UNAVAILABLE = (OperationalError, InterfaceError)


class LeadStore:
    def __init__(self, url: str, spool_dir: Path | None = None) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = sessionmaker(bind=self.engine, expire_on_commit=False, future=True)
        self.spool_dir = spool_dir
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
        return self.sessions()

    # --- saving -------------------------------------------------------------
    def save(self, draft: LeadDraft) -> SaveResult:
        """Store the draft once; on a database outage keep it in the spool and say so."""
        draft = LeadDraft(**scrub(asdict(draft)))
        try:
            reference, created = self._insert(draft)
            return SaveResult(reference, stored=True, created=created)
        except (StoreUnavailable, *_UNAVAILABLE) as exc:
            if self.spool_dir is None:
                raise StoreUnavailable(str(exc)) from exc
            log.warning("Lead store unavailable, spooling lead: %s", exc)
            self._spool(draft)
            return SaveResult(draft.reference(), stored=False, created=True)

    def _insert(self, draft: LeadDraft) -> tuple[str, bool]:
        key = draft.key()
        with self.session() as session:
            existing = session.execute(sa.select(Lead.reference).where(Lead.submission_key == key)).scalar()
            if existing:
                return existing, False
            data = asdict(draft)
            data.pop("consent_at")
            lead = Lead(
                **data,
                reference=draft.reference(),
                submission_key=key,
                consent_at=dt.datetime.fromisoformat(draft.consent_at) if draft.consent_at else None,
                status="ny",
            )
            session.add(lead)
            session.add(
                AuditEntry(
                    actor=f"borger:{draft.conversation_id}",
                    action="lead_created",
                    lead_reference=lead.reference,
                    detail={"kind": draft.kind, "channel": draft.channel},
                )
            )
            try:
                session.commit()
            except IntegrityError:
                session.rollback()
                existing = session.execute(sa.select(Lead.reference).where(Lead.submission_key == key)).scalar()
                if existing:
                    return existing, False
                raise
            return lead.reference, True

    def _spool(self, draft: LeadDraft) -> None:
        assert self.spool_dir is not None
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        final = self.spool_dir / f"{draft.key()}.json"
        tmp = final.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(draft), ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, final)

    def spooled(self) -> list[Path]:
        return sorted(self.spool_dir.glob("*.json")) if self.spool_dir and self.spool_dir.exists() else []

    def flush_spool(self) -> list[tuple[LeadDraft, SaveResult]]:
        """Write spooled leads; returns those written now (for notifications)."""
        written = []
        for path in self.spooled():
            draft = LeadDraft(**json.loads(path.read_text(encoding="utf-8")))
            try:
                reference, created = self._insert(draft)
            except (StoreUnavailable, *_UNAVAILABLE):
                break
            path.unlink()
            written.append((draft, SaveResult(reference, stored=True, created=created)))
        return written

    # --- citizens' own data ---------------------------------------------------
    def for_conversation(self, conversation_id: str) -> list[dict[str, Any]]:
        with self.session() as session:
            leads = session.execute(sa.select(Lead).where(Lead.conversation_id == conversation_id).order_by(Lead.id)).scalars()
            return [lead_dict(lead) for lead in leads]

    def erase_conversation(self, conversation_id: str) -> int:
        """GDPR erasure requested by the citizen: every lead of this conversation, spooled ones too."""
        removed = 0
        for path in self.spooled():
            if json.loads(path.read_text(encoding="utf-8")).get("conversation_id") == conversation_id:
                path.unlink()
                removed += 1
        with self.session() as session:
            leads = list(session.execute(sa.select(Lead).where(Lead.conversation_id == conversation_id)).scalars())
            for lead in leads:
                session.delete(lead)
                session.add(
                    AuditEntry(actor=f"borger:{conversation_id}", action="lead_deleted", lead_reference=lead.reference, detail={"reason": "citizen_request"})
                )
            session.commit()
        return removed + len(leads)

    # --- coordinators' view ---------------------------------------------------
    def _scoped(self, viewer: Viewer) -> sa.sql.Select:
        query = sa.select(Lead)
        if not viewer.is_admin:
            query = query.where(Lead.region.in_(viewer.regions or ("-",)))
        return query

    def query(self, viewer: Viewer, flt: LeadFilter, page: int = 1, per_page: int = 25) -> tuple[list[Lead], int]:
        query = self._scoped(viewer)
        if flt.region:
            query = query.where(Lead.region == flt.region)
        if flt.status:
            query = query.where(Lead.status == flt.status)
        if flt.kind:
            query = query.where(Lead.kind == flt.kind)
        if flt.date_from:
            query = query.where(Lead.created_at >= dt.datetime.combine(flt.date_from, dt.time.min))
        if flt.date_to:
            query = query.where(Lead.created_at < dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time.min))
        if flt.text:
            like = f"%{flt.text.lower()}%"
            query = query.where(
                sa.or_(
                    *(
                        sa.func.lower(col).like(like)
                        for col in (Lead.name, Lead.email, Lead.phone, Lead.reference, Lead.municipality, Lead.availability, Lead.message, Lead.question)
                    )
                )
            )
        with self.session() as session:
            leads = list(session.execute(query.order_by(Lead.created_at.desc(), Lead.id.desc())).scalars())
        if flt.interest:
            leads = [lead for lead in leads if flt.interest in (lead.interests or [])]
        total = len(leads)
        start = max(page - 1, 0) * per_page
        return leads[start : start + per_page], total

    def get(self, viewer: Viewer, reference: str) -> Lead | None:
        with self.session() as session:
            return session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()

    def notes(self, lead: Lead) -> list[Note]:
        with self.session() as session:
            return list(session.execute(sa.select(Note).where(Note.lead_id == lead.id).order_by(Note.created_at, Note.id)).scalars())

    def transcript(self, lead: Lead) -> list[dict[str, Any]]:
        return list(lead.transcript or [])

    def set_status(self, viewer: Viewer, reference: str, status: str) -> bool:
        with self.session() as session:
            lead = session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()
            if lead is None or status not in TRANSITIONS.get(lead.status, ()):
                return False
            old, lead.status = lead.status, status
            lead.closed_at = utcnow() if status in CLOSED else None
            session.add(AuditEntry(actor=viewer.email, action="status_changed", lead_reference=reference, detail={"from": old, "to": status}))
            session.commit()
            return True

    def add_note(self, viewer: Viewer, reference: str, text: str) -> bool:
        with self.session() as session:
            lead = session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()
            if lead is None or not text.strip():
                return False
            session.add(Note(lead_id=lead.id, author=viewer.email, text=text.strip()[:4000]))
            session.add(AuditEntry(actor=viewer.email, action="note_added", lead_reference=reference, detail={}))
            session.commit()
            return True

    def assign(self, viewer: Viewer, reference: str, coordinator_id: int | None) -> bool:
        with self.session() as session:
            lead = session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()
            if lead is None:
                return False
            if coordinator_id is not None:
                target = session.get(Coordinator, coordinator_id)
                if target is None or not (target.role == "admin" or lead.region in (target.regions or [])):
                    return False
            lead.assigned_to = coordinator_id
            session.add(AuditEntry(actor=viewer.email, action="assigned", lead_reference=reference, detail={"coordinator_id": coordinator_id}))
            session.commit()
            return True

    def delete(self, viewer: Viewer, reference: str) -> Lead | None:
        """GDPR deletion from the dashboard; the caller removes the tracker conversation too."""
        with self.session() as session:
            lead = session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()
            if lead is None:
                return None
            session.delete(lead)
            session.add(AuditEntry(actor=viewer.email, action="lead_deleted", lead_reference=reference, detail={"reason": "gdpr"}))
            session.commit()
            return lead

    def audit(self, actor: str, action: str, reference: str = "", **detail: Any) -> None:
        with self.session() as session:
            session.add(AuditEntry(actor=actor, action=action, lead_reference=reference, detail=detail))
            session.commit()

    def audit_log(self, limit: int = 200) -> list[AuditEntry]:
        with self.session() as session:
            return list(session.execute(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).scalars())

    def all_leads(self) -> Iterator[dict[str, Any]]:
        with self.session() as session:
            for lead in session.execute(sa.select(Lead).order_by(Lead.id)).scalars():
                yield lead_dict(lead)

    def closed_before(self, cutoff: dt.datetime) -> list[Lead]:
        with self.session() as session:
            return list(session.execute(sa.select(Lead).where(Lead.status.in_(CLOSED), Lead.closed_at < cutoff)).scalars())

    def purge(self, leads: Sequence[Lead], actor: str = "system:retention") -> int:
        with self.session() as session:
            for lead in leads:
                session.execute(sa.delete(Lead).where(Lead.id == lead.id))
                session.add(AuditEntry(actor=actor, action="lead_purged", lead_reference=lead.reference, detail={"closed_at": _iso(lead.closed_at)}))
            session.commit()
        return len(leads)

    def conversation_ids(self) -> set[str]:
        with self.session() as session:
            return set(session.execute(sa.select(Lead.conversation_id)).scalars())

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return True
        except DBAPIError:
            return False


def open_store() -> LeadStore:
    from bot.settings import settings

    config = settings()
    return LeadStore(config.leads_url, spool_dir=config.spool_dir)
