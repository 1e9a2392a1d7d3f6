"""Retention: personal data is kept only as long as the privacy notice promises.

Closed leads go `retention_days` after they were closed, together with their
conversation in Rasa's tracker store; conversations that never led to a consented
lead go after `conversation_retention_days` without activity. `python -m bot purge`
runs it by hand, the web server once a day.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from bot import conversations
from bot.db import LoginAttempt, utcnow
from bot.leads import LeadStore
from bot.settings import Settings, settings

log = logging.getLogger(__name__)

LOGIN_ATTEMPTS_KEPT = dt.timedelta(days=1)  # throttling needs 30 minutes; the rest is personal data (addresses)
ACTOR = "system:retention"


def tracker_exists(url: str) -> bool:
    """Whether Rasa has created its SQLite tracker store yet; reading must not create it (a server database always counts)."""
    if not url.startswith("sqlite"):
        return True
    path = url.split("///", 1)[-1]
    return path in ("", ":memory:") or Path(path).exists()


def _consented_conversations(store: LeadStore) -> set[str]:
    """Conversations some lead still refers to, including leads waiting in the spool for the database."""
    ids = store.conversation_ids()
    for path in store.spooled():
        ids.add(str(json.loads(path.read_text(encoding="utf-8")).get("conversation_id") or ""))
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
    with store.session() as session:
        removed = session.execute(sa.delete(LoginAttempt).where(LoginAttempt.at < utcnow() - LOGIN_ATTEMPTS_KEPT)).rowcount
        session.commit()
    return int(removed or 0)


def purge(days: int | None = None, config: Settings | None = None, store: LeadStore | None = None) -> dict[str, int]:
    """Run retention once and return what was deleted; the tracker store being down only postpones its part."""
    config = config or settings()
    store = store or LeadStore(config.leads_url, spool_dir=config.spool_dir)
    days = config.retention_days if days is None else days
    closed = store.closed_before(utcnow() - dt.timedelta(days=days))
    report = {"leads_purged": store.purge(closed, actor=ACTOR), "conversations_of_purged_leads": 0, "conversations_without_consent": 0, "tracker_errors": 0}
    try:
        if tracker_exists(config.tracker_url):
            report.update(
                _purge_conversations(
                    config.tracker_url,
                    {lead.conversation_id for lead in closed if lead.conversation_id},
                    _consented_conversations(store),
                    config.conversation_retention_days,
                )
            )
    except SQLAlchemyError as exc:
        log.warning("Tracker store not reachable; conversations are purged on the next run: %s", exc)
        report["tracker_errors"] = 1
    report["login_attempts_deleted"] = _purge_login_attempts(store)
    store.audit(ACTOR, "retention_run", days=days, counts=report)
    return report


def start_daily(config: Settings, first_delay: float = 60.0, interval: float = 86400.0, stop: threading.Event | None = None) -> threading.Thread:
    """Run `purge` in a daemon thread: first after `first_delay` seconds, then every `interval` until `stop` is set."""
    stop = stop or threading.Event()

    def loop() -> None:
        delay = first_delay
        while not stop.wait(delay):
            try:
                log.info("Retention: %s", purge(config=config))
            except Exception:
                log.exception("Retention run failed; trying again at the next interval")
            delay = interval

    thread = threading.Thread(target=loop, name="retention", daemon=True)
    thread.start()
    return thread
