"""Live chats in the lead store: a handoff case waiting for a coordinator, in a chat with one, or over.

A handoff case asks for a live chat when a coordinator of its region is on duty (has the live page
open: `coordinators.live_seen_at` is recent) within working hours. Taking the chat is one UPDATE that
only succeeds while nobody has it, so two coordinators cannot both get it. The coordinator's page
renews a lease (`leads.live_seen_at`) with every poll; the web server's sweeper hands back a chat
whose lease ran out and turns a request nobody took in time into the ordinary case and e-mail.

Every read and change goes through the viewer's scope (bot.store.casework), so another region's
chat is simply not found.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics
from dataclasses import dataclass

import sqlalchemy as sa

from bot.store.audit import AuditLog
from bot.store.casework import Casework, Viewer
from bot.store.database import Database
from bot.store.schema import ADMIN, CLOSED, HANDOFF, Coordinator, Lead, utcnow

WAITING, LIVE, ENDED, MISSED = "waiting", "live", "ended", "missed"
ON_DUTY = dt.timedelta(seconds=30)  # the live page asks for news every few seconds; this long without, and nobody is there
TYPICAL_WINDOW = dt.timedelta(days=30)  # how long a wait "usually" takes: the chats taken in the last month


@dataclass(frozen=True)
class LiveChat:
    reference: str
    region: str
    state: str
    question: str
    requested_at: dt.datetime | None
    by: int | None
    by_name: str
    conversation_id: str
    channel: str
    status: str  # the case's


def _chat(lead: Lead, names: dict[int, str]) -> LiveChat:
    return LiveChat(
        lead.reference,
        lead.region,
        lead.live_state,
        lead.question or "",
        lead.live_requested_at,
        lead.live_by,
        names.get(lead.live_by or 0, ""),
        lead.conversation_id,
        lead.channel,
        lead.status,
    )


class LiveChats:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db, self.audit = db, audit

    # --- the action server ----------------------------------------------------------------------------
    def on_duty(self, region: str, now: dt.datetime | None = None) -> bool:
        """Whether a coordinator of this region (or an admin) has had the live page open in the last half minute."""
        since = (now or utcnow()) - ON_DUTY
        with self.db.session() as session:
            rows = session.execute(sa.select(Coordinator.role, Coordinator.regions).where(Coordinator.live_seen_at >= since, Coordinator.disabled_at.is_(None)))
            return any(role == ADMIN or region in (regions or ()) for role, regions in rows)

    def request(self, reference: str) -> bool:
        """Mark a new handoff case as waiting for a coordinator."""
        with self.db.session() as session:
            changed = session.execute(
                sa.update(Lead)
                .where(Lead.reference == reference, Lead.kind == HANDOFF, Lead.live_by.is_(None))
                .values(live_state=WAITING, live_requested_at=utcnow())
            ).rowcount
            session.commit()
            return bool(changed)

    def typical_wait_minutes(self, region: str, default_seconds: int) -> int:
        """How long taking a chat of this region usually takes (the median of the last month's), in whole minutes, at least 1."""
        since = utcnow() - TYPICAL_WINDOW
        with self.db.session() as session:
            rows = session.execute(
                sa.select(Lead.live_requested_at, Lead.live_since)
                .where(Lead.region == region, Lead.live_since.is_not(None), Lead.live_requested_at >= since)
                .order_by(Lead.live_requested_at.desc())
                .limit(50)
            ).all()
        waits = [(taken - asked).total_seconds() for asked, taken in rows if asked and taken and taken >= asked]
        seconds = statistics.median(waits) if waits else default_seconds
        return max(1, math.ceil(seconds / 60))

    # --- the coordinator's live page ------------------------------------------------------------------
    def present(self, coordinator_id: int) -> None:
        """The live page of this coordinator asked for news: on duty for the next half minute."""
        with self.db.session() as session:
            session.execute(sa.update(Coordinator).where(Coordinator.id == coordinator_id).values(live_seen_at=utcnow()))
            session.commit()

    def open_chats(self, viewer: Viewer) -> list[LiveChat]:
        """The chats of the viewer's regions that wait for a coordinator or are in one, oldest request first."""
        query = Casework._scoped(viewer).where(Lead.live_state.in_((WAITING, LIVE))).order_by(Lead.live_requested_at, Lead.id)
        with self.db.session() as session:
            leads = list(session.execute(query).scalars())
            names = self._names(session, leads)
        return [_chat(lead, names) for lead in leads]

    def get(self, viewer: Viewer, reference: str) -> LiveChat | None:
        """A handoff case of the viewer's regions (any live state), or None."""
        with self.db.session() as session:
            lead = session.execute(Casework._scoped(viewer).where(Lead.reference == reference, Lead.kind == HANDOFF)).scalar()
            return None if lead is None else _chat(lead, self._names(session, [lead]))

    def claim(self, viewer: Viewer, coordinator_id: int, reference: str) -> bool:
        """Take the chat: only while nobody has it and the case is open. Atomic, so of two coordinators one gets it."""
        now = utcnow()
        with self.db.session() as session:
            scoped = Casework._scoped(viewer).where(Lead.reference == reference, Lead.kind == HANDOFF).with_only_columns(Lead.id)
            changed = session.execute(
                sa.update(Lead)
                .where(Lead.id.in_(scoped.scalar_subquery()), Lead.live_by.is_(None), Lead.status.not_in(CLOSED))
                .values(live_state=LIVE, live_by=coordinator_id, live_since=now, live_seen_at=now)
                .execution_options(synchronize_session=False)
            ).rowcount
            if changed:
                self.audit.add(session, viewer.email, "live_joined", reference)
            session.commit()
            return bool(changed)

    def holds(self, coordinator_id: int, reference: str) -> bool:
        """Whether this coordinator is in this chat; renews the lease if so."""
        with self.db.session() as session:
            changed = session.execute(
                sa.update(Lead).where(Lead.reference == reference, Lead.live_by == coordinator_id, Lead.live_state == LIVE).values(live_seen_at=utcnow())
            ).rowcount
            session.commit()
            return bool(changed)

    def release(self, reference: str, actor: str, reason: str, coordinator_id: int | None = None) -> bool:
        """End the chat (of this coordinator, if given): the case stays as it is, the conversation goes back to the bot."""
        with self.db.session() as session:
            query = sa.update(Lead).where(Lead.reference == reference, Lead.live_state == LIVE)
            if coordinator_id is not None:
                query = query.where(Lead.live_by == coordinator_id)
            changed = session.execute(query.values(live_state=ENDED, live_by=None, live_seen_at=None)).rowcount
            if changed:
                self.audit.add(session, actor, "live_left", reference, reason=reason)
            session.commit()
            return bool(changed)

    # --- the sweeper ----------------------------------------------------------------------------------
    def expired(self, lease: dt.timedelta) -> list[LiveChat]:
        """The chats whose coordinator's page has not asked for news within the lease."""
        with self.db.session() as session:
            leads = list(session.execute(sa.select(Lead).where(Lead.live_state == LIVE, Lead.live_seen_at < utcnow() - lease)).scalars())
            names = self._names(session, leads)
        return [_chat(lead, names) for lead in leads]

    def miss(self, wait: dt.timedelta) -> list[Lead]:
        """The requests nobody took within `wait`, marked missed (each by one sweeper only): they become case and e-mail."""
        missed = []
        with self.db.session() as session:
            overdue = session.execute(sa.select(Lead).where(Lead.live_state == WAITING, Lead.live_requested_at < utcnow() - wait)).scalars().all()
            for lead in overdue:
                taken = session.execute(sa.update(Lead).where(Lead.id == lead.id, Lead.live_state == WAITING).values(live_state=MISSED)).rowcount
                if taken:
                    self.audit.add(session, "system:live", "live_missed", lead.reference)
                    missed.append(lead)
            session.commit()
        return missed

    @staticmethod
    def _names(session: sa.orm.Session, leads: list[Lead]) -> dict[int, str]:
        ids = {lead.live_by for lead in leads if lead.live_by}
        if not ids:
            return {}
        return dict(session.execute(sa.select(Coordinator.id, Coordinator.name).where(Coordinator.id.in_(ids))).all())
