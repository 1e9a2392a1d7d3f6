"""Retention: personal data is kept only as long as the privacy notice promises.

Closed leads go `retention_days` after they were closed, and open leads nobody has worked on
for `open_lead_max_days`, together with their conversation in Rasa's tracker store;
conversations that never led to a consented lead go after `conversation_retention_days`
without activity. The audit log, the mail outbox and the lead spool have limits of their
own. `python -m bot purge` runs it by hand, the web server once a day; each action server
also clears its own outbox and spool (`purge_files`), wherever it runs.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bot.handoff import notify
from bot.settings import Settings, settings
from bot.store import LeadStore, conversations, open_store
from bot.store.export import iso
from bot.store.intake import Intake
from bot.store.schema import CLOSED, AuditEntry, Lead, LoginAttempt, Note, utcnow

log = logging.getLogger(__name__)

LOGIN_ATTEMPTS_KEPT = dt.timedelta(days=1)  # throttling needs 30 minutes; the rest is personal data (addresses)
ACTOR = "system:retention"
PURGE_BATCH = 500  # ids in one DELETE: well below SQLite's limit of bound parameters


def closed_before(store: LeadStore, cutoff: dt.datetime) -> list[Lead]:
    with store.db.session() as session:
        return list(session.execute(sa.select(Lead).where(Lead.status.in_(CLOSED), Lead.closed_at < cutoff)).scalars())


def untouched_before(store: LeadStore, cutoff: dt.datetime) -> list[Lead]:
    """Open leads nobody has worked on since the cutoff: the lead unchanged (status, assignment, answers) and no new note."""
    noted = sa.select(Note.id).where(Note.lead_id == Lead.id, Note.created_at >= cutoff).exists()
    with store.db.session() as session:
        return list(session.execute(sa.select(Lead).where(Lead.status.not_in(CLOSED), Lead.updated_at < cutoff, ~noted)).scalars())


def _purge_leads(store: LeadStore, leads: Sequence[Lead]) -> int:
    """One DELETE per batch of leads (their notes go by the foreign key's cascade) and an audit entry for each, in one transaction."""
    with store.db.session() as session:
        for start in range(0, len(leads), PURGE_BATCH):
            batch = [lead.id for lead in leads[start : start + PURGE_BATCH]]
            session.execute(sa.delete(Lead).where(Lead.id.in_(batch)).execution_options(synchronize_session=False))
        for lead in leads:
            store.audit.add(session, ACTOR, "lead_purged", lead.reference, closed_at=iso(lead.closed_at), updated_at=iso(lead.updated_at))
        session.commit()
    return len(leads)


def _consented_conversations(store: LeadStore) -> set[str]:
    """Conversations some lead still refers to, including leads waiting in the spool for the database."""
    with store.db.session() as session:
        ids = set(session.execute(sa.select(Lead.conversation_id)).scalars())
    ids.update(store.intake.read_spooled(path).conversation_id for path in store.intake.spooled())
    ids.discard("")
    return ids


def _purge_conversations(url: str, of_purged: set[str], keep: set[str], idle_days: int) -> dict[str, int]:
    """Delete the purged leads' conversations and idle ones that never got a lead; never one a lead still uses."""
    counts = {"conversations_of_purged_leads": 0, "conversations_without_consent": 0}
    for sender in sorted(of_purged - keep):
        if conversations.delete(url, sender):
            counts["conversations_of_purged_leads"] += 1
    idle_before = time.time() - idle_days * 86400
    for sender, last in conversations.last_activity(url).items():
        if sender not in keep and sender not in of_purged and last < idle_before:
            conversations.delete(url, sender)
            counts["conversations_without_consent"] += 1
    return counts


def _purge_login_attempts(store: LeadStore) -> int:
    with store.db.session() as session:
        removed = session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < utcnow() - LOGIN_ATTEMPTS_KEPT)).rowcount
        session.commit()
    return int(removed or 0)


def _purge_audit(store: LeadStore, days: int) -> int:
    with store.db.session() as session:
        removed = session.execute(sa.delete(AuditEntry).where(AuditEntry.at < utcnow() - dt.timedelta(days=days))).rowcount
        session.commit()
    return int(removed or 0)


def _delete_older(paths: Iterable[Path], days: int) -> int:
    """Delete the files last written more than `days` ago; only their names reach the log."""
    before = time.time() - days * 86400
    removed = 0
    for path in paths:
        try:
            if path.stat().st_mtime < before:
                path.unlink()
                removed += 1
                log.warning("Retention: deleted %s, older than %d days", path.name, days)
        except FileNotFoundError:
            continue  # sent, written or erased meanwhile
    return removed


def purge_files(config: Settings, intake: Intake) -> dict[str, int]:
    """This machine's copies outside the databases: unsent notifications and leads still waiting in the spool."""
    return {
        "outbox_files_deleted": _delete_older(notify.outbox_files(config.outbox_dir), config.outbox_retention_days),
        "spool_files_deleted": _delete_older([*intake.spooled(), *intake.unreadable()], config.spool_retention_days),
    }


def purge(days: int | None = None, config: Settings | None = None, store: LeadStore | None = None) -> dict[str, int]:
    """Run retention once and return what was deleted; the tracker store being down only postpones its part."""
    config = config or settings()
    store = store or open_store(config)
    days = config.retention_days if days is None else days
    closed = closed_before(store, utcnow() - dt.timedelta(days=days))
    untouched = untouched_before(store, utcnow() - dt.timedelta(days=config.open_lead_max_days))
    report = {
        "leads_purged": _purge_leads(store, closed),
        "open_leads_purged": _purge_leads(store, untouched),
        "conversations_of_purged_leads": 0,
        "conversations_without_consent": 0,
        "tracker_errors": 0,
    }
    report.update(purge_files(config, store.intake))
    try:
        if conversations.tracker_exists(config.tracker_url):
            report.update(
                _purge_conversations(
                    config.tracker_url,
                    {lead.conversation_id for lead in [*closed, *untouched] if lead.conversation_id},
                    _consented_conversations(store),
                    config.conversation_retention_days,
                )
            )
    except SQLAlchemyError as exc:
        log.warning("Tracker store not reachable; conversations are purged on the next run: %s", type(exc).__name__)
        report["tracker_errors"] = 1
    report["login_attempts_deleted"] = _purge_login_attempts(store)
    report["audit_entries_deleted"] = _purge_audit(store, config.audit_retention_days)
    store.audit.record(ACTOR, "retention_run", days=days, counts=report)
    return report


def start_daily(config: Settings, first_delay: float = 60.0, interval: float = 86400.0, stop: threading.Event | None = None) -> threading.Thread:
    """Run `purge` in a daemon thread: first after `first_delay` seconds, then every `interval` until `stop` is set."""
    stop = stop or threading.Event()

    def loop() -> None:
        delay = first_delay
        while not stop.wait(delay):
            try:
                log.info("Retention: %s", purge(config=config))
            except Exception as exc:
                log.error("Retention run failed (%s); trying again at the next interval", type(exc).__name__)
            delay = interval

    thread = threading.Thread(target=loop, name="retention", daemon=True)
    thread.start()
    return thread
