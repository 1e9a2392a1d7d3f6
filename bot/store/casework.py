"""The coordinators' side of the lead store: finding leads and working on them, always within the viewer's regions.

Every query goes through `_scoped`, so a lead of another region is simply not found,
whether it is read or changed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterator

import sqlalchemy as sa

from bot.language.privacy import scrub
from bot.store.audit import AuditLog
from bot.store.database import Database
from bot.store.export import lead_dict
from bot.store.schema import ADMIN, CLOSED, TRANSITIONS, Coordinator, Lead, Note, utcnow


@dataclass(frozen=True)
class Viewer:
    """Who looks at leads: admins see all regions, coordinators their own."""

    email: str
    role: str
    regions: tuple[str, ...]

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def may_take(self, region: str) -> bool:
        """Whether a lead of this region may be assigned to this account."""
        return self.is_admin or region in self.regions


@dataclass
class LeadFilter:
    region: str = ""
    status: str = ""
    interest: str = ""
    kind: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    text: str = ""


NEWEST_FIRST = (Lead.created_at.desc(), Lead.id.desc())  # the list's and the export's order


@dataclass
class Tally:
    by_region: dict[str, int]
    by_status: dict[str, int]
    total: int
    created: list[dt.datetime]  # of the leads since the date asked for


class Casework:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db, self.audit = db, audit

    @staticmethod
    def _scoped(viewer: Viewer) -> sa.sql.Select:
        query = sa.select(Lead)
        if not viewer.is_admin:
            query = query.where(Lead.region.in_(viewer.regions or ("-",)))
        return query

    def _filtered(self, viewer: Viewer, flt: LeadFilter) -> sa.sql.Select:
        query = self._scoped(viewer)
        if flt.region:
            query = query.where(Lead.region == flt.region)
        if flt.status:
            query = query.where(Lead.status == flt.status)
        if flt.kind:
            query = query.where(Lead.kind == flt.kind)
        if flt.interest:
            # interests is a JSON list of codes: the quoted code is in its text exactly when it is in the list
            query = query.where(sa.cast(Lead.interests, sa.Text).contains(f'"{flt.interest}"', autoescape=True))
        if flt.date_from:
            query = query.where(Lead.created_at >= dt.datetime.combine(flt.date_from, dt.time.min))
        if flt.date_to:
            query = query.where(Lead.created_at < dt.datetime.combine(flt.date_to + dt.timedelta(days=1), dt.time.min))
        if flt.text:
            query = query.where(Lead.search_text.contains(flt.text.lower(), autoescape=True))
        return query

    def tally(self, viewer: Viewer, created_since: dt.datetime) -> Tally:
        """The overview's figures, counted by the database: leads by region and by status, and when the recent ones came."""
        scoped = self._scoped(viewer).subquery()
        with self.db.session() as session:
            by_region = dict(session.execute(sa.select(scoped.c.region, sa.func.count()).group_by(scoped.c.region)).all())
            by_status = dict(session.execute(sa.select(scoped.c.status, sa.func.count()).group_by(scoped.c.status)).all())
            created = list(session.execute(sa.select(scoped.c.created_at).where(scoped.c.created_at >= created_since)).scalars())
        return Tally(by_region=by_region, by_status=by_status, total=sum(by_region.values()), created=created)

    def query(self, viewer: Viewer, flt: LeadFilter, page: int = 1, per_page: int = 25) -> tuple[list[Lead], int]:
        """One page of the filtered leads, newest first, and how many there are in all; paged by the database."""
        ordered = self._filtered(viewer, flt).order_by(*NEWEST_FIRST).offset(max(page - 1, 0) * per_page).limit(per_page)
        with self.db.session() as session:
            return list(session.execute(ordered).scalars()), self.count(viewer, flt)

    def each(self, viewer: Viewer, flt: LeadFilter, batch: int = 1000) -> Iterator[Lead]:
        """Every filtered lead, newest first, read from the database a batch at a time (the CSV export streams them)."""
        query = self._filtered(viewer, flt).order_by(*NEWEST_FIRST).execution_options(yield_per=batch)
        with self.db.session() as session:
            yield from session.execute(query).scalars()

    def count(self, viewer: Viewer, flt: LeadFilter) -> int:
        with self.db.session() as session:
            return int(session.execute(sa.select(sa.func.count()).select_from(self._filtered(viewer, flt).subquery())).scalar_one())

    def get(self, viewer: Viewer, reference: str) -> Lead | None:
        with self.db.session() as session:
            return session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()

    def notes(self, lead: Lead) -> list[Note]:
        with self.db.session() as session:
            return list(session.execute(sa.select(Note).where(Note.lead_id == lead.id).order_by(Note.created_at, Note.id)).scalars())

    def set_status(self, viewer: Viewer, reference: str, status: str) -> bool:
        with self.db.session() as session:
            lead = session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()
            if lead is None or status not in TRANSITIONS.get(lead.status, ()):
                return False
            old, lead.status = lead.status, status
            lead.closed_at = utcnow() if status in CLOSED else None
            self.audit.add(session, viewer.email, "status_changed", reference, **{"from": old, "to": status})
            session.commit()
            return True

    def add_note(self, viewer: Viewer, reference: str, text: str) -> bool:
        with self.db.session() as session:
            lead = session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()
            if lead is None or not text.strip():
                return False
            session.add(Note(lead_id=lead.id, author=viewer.email, text=scrub(text.strip()[:4000])))  # a CPR number is never stored
            self.audit.add(session, viewer.email, "note_added", reference)
            session.commit()
            return True

    def assign(self, viewer: Viewer, reference: str, coordinator_id: int | None) -> bool:
        with self.db.session() as session:
            lead = session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()
            if lead is None:
                return False
            if coordinator_id is not None:
                target = session.get(Coordinator, coordinator_id)
                if target is None or not Viewer(target.email, target.role, tuple(target.regions or ())).may_take(lead.region):
                    return False
            lead.assigned_to = coordinator_id
            self.audit.add(session, viewer.email, "assigned", reference, coordinator_id=coordinator_id)
            session.commit()
            return True

    def delete(self, viewer: Viewer, reference: str) -> Lead | None:
        """GDPR deletion from the dashboard; the caller removes the tracker conversation too."""
        with self.db.session() as session:
            lead = session.execute(self._scoped(viewer).where(Lead.reference == reference)).scalar()
            if lead is None:
                return None
            session.delete(lead)
            self.audit.add(session, viewer.email, "lead_deleted", reference, reason="gdpr")
            session.commit()
            return lead

    def all_leads(self) -> Iterator[dict[str, Any]]:
        """Every lead of every region, for the operator's export on the command line."""
        with self.db.session() as session:
            for lead in session.execute(sa.select(Lead).order_by(Lead.id)).scalars():
                yield lead_dict(lead)
