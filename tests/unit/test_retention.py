"""Tests for bot.retention: closed leads and conversations without consent are deleted on time, nothing else."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bot.settings import Settings
from bot.store import LeadStore, conversations
from bot.store.intake import LeadDraft
from bot.store.retention import purge, start_daily
from bot.store.schema import Lead, LoginAttempt, utcnow

DAY = 86400.0


@pytest.fixture
def config(tmp_path: Path) -> Settings:
    return Settings.from_env({"VAR_DIR": str(tmp_path), "RETENTION_DAYS": "180", "CONVERSATION_RETENTION_DAYS": "7"})


@pytest.fixture
def store(config: Settings) -> LeadStore:
    return LeadStore(config.leads_url, spool_dir=config.spool_dir)


def lead(store: LeadStore, conversation_id: str, status: str = "ny", closed_days_ago: float | None = None) -> str:
    draft = LeadDraft(kind="signup", conversation_id=conversation_id, channel="socketio", name=f"Person {uuid.uuid4().hex[:6]}", region="midtjylland")
    reference = store.intake.save(draft).reference
    with store.db.session() as session:
        row = session.execute(sa.select(Lead).where(Lead.reference == reference)).scalar_one()
        row.status = status
        row.closed_at = None if closed_days_ago is None else utcnow() - dt.timedelta(days=closed_days_ago)
        session.commit()
    return reference


def conversation(config: Settings, sender: str, idle_days: float) -> None:
    at = time.time() - idle_days * DAY
    with conversations.engine(config.tracker_url).begin() as connection:
        for offset, text in ((-60.0, "hej"), (0.0, "jeg vil gerne være frivillig")):
            connection.execute(
                conversations.events.insert().values(
                    sender_id=sender, type_name="user", timestamp=at + offset, intent_name="greet", data=json.dumps({"event": "user", "text": text})
                )
            )


def senders(config: Settings) -> set[str]:
    return set(conversations.last_activity(config.tracker_url))


def references(store: LeadStore) -> set[str]:
    return {row["reference"] for row in store.cases.all_leads()}


def audit(store: LeadStore) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [(e.actor, e.action, e.lead_reference, e.detail) for e in reversed(store.audit.entries())]


def test_closed_leads_past_retention_go_with_their_conversations(config: Settings, store: LeadStore) -> None:
    old_done = lead(store, "c-old-done", "afsluttet", closed_days_ago=200)
    old_refused = lead(store, "c-old-refused", "afvist", closed_days_ago=181)
    recent = lead(store, "c-recent", "afsluttet", closed_days_ago=170)
    open_old = lead(store, "c-open", "aktiv")
    with store.db.session() as session:
        session.execute(sa.update(Lead).where(Lead.reference == open_old).values(created_at=utcnow() - dt.timedelta(days=400)))
        session.commit()
    for sender in ("c-old-done", "c-old-refused", "c-recent", "c-open"):
        conversation(config, sender, idle_days=1)

    report = purge(config=config, store=store)

    assert references(store) == {recent, open_old}
    assert senders(config) == {"c-recent", "c-open"}
    assert report["leads_purged"] == 2 and report["conversations_of_purged_leads"] == 2 and report["conversations_without_consent"] == 0
    purged = [(ref, detail) for actor, action, ref, detail in audit(store) if action == "lead_purged" and actor == "system:retention"]
    assert {ref for ref, _ in purged} == {old_done, old_refused} and all(d["closed_at"] for _, d in purged)
    assert audit(store)[-1][:2] == ("system:retention", "retention_run")


def test_a_conversation_another_lead_still_uses_is_kept(config: Settings, store: LeadStore) -> None:
    lead(store, "c-shared", "afsluttet", closed_days_ago=365)
    still_open = lead(store, "c-shared", "kontaktet")
    conversation(config, "c-shared", idle_days=30)
    report = purge(config=config, store=store)
    assert references(store) == {still_open}
    assert senders(config) == {"c-shared"} and report["conversations_of_purged_leads"] == 0


def test_idle_conversations_without_consent_are_deleted_and_others_kept(config: Settings, store: LeadStore) -> None:
    lead(store, "c-with-lead")
    conversation(config, "c-with-lead", idle_days=60)
    conversation(config, "c-idle", idle_days=8)
    conversation(config, "c-active", idle_days=6)
    report = purge(config=config, store=store)
    assert senders(config) == {"c-with-lead", "c-active"}
    assert report["conversations_without_consent"] == 1


def test_a_lead_waiting_in_the_spool_protects_its_conversation(config: Settings, store: LeadStore) -> None:
    store.intake._spool(LeadDraft(kind="handoff", conversation_id="c-spooled", channel="telegram", name="Venter", region="nordjylland"))
    conversation(config, "c-spooled", idle_days=30)
    purge(config=config, store=store)
    assert senders(config) == {"c-spooled"}


def test_days_default_to_the_configured_retention_and_can_be_overridden(tmp_path: Path) -> None:
    config = Settings.from_env({"VAR_DIR": str(tmp_path), "RETENTION_DAYS": "30"})
    store = LeadStore(config.leads_url, spool_dir=config.spool_dir)
    forty = lead(store, "c-40", "afsluttet", closed_days_ago=40)
    ten = lead(store, "c-10", "afsluttet", closed_days_ago=10)
    assert purge(config=config, store=store)["leads_purged"] == 1 and references(store) == {ten}
    assert purge(days=5, config=config, store=store)["leads_purged"] == 1 and references(store) == set()
    assert forty not in references(store)


def test_old_login_attempts_are_removed(config: Settings, store: LeadStore) -> None:
    with store.db.session() as session:
        session.add_all([LoginAttempt(key="email:a@b.dk", at=utcnow() - dt.timedelta(days=2)), LoginAttempt(key="email:a@b.dk", at=utcnow())])
        session.commit()
    assert purge(config=config, store=store)["login_attempts_deleted"] == 1
    with store.db.session() as session:
        assert session.execute(sa.select(sa.func.count(LoginAttempt.id))).scalar() == 1


def test_an_unreachable_tracker_store_postpones_only_the_conversations(tmp_path: Path) -> None:
    config = Settings.from_env({"VAR_DIR": str(tmp_path), "TRACKER_DB_URL": "postgresql://nobody@127.0.0.1:1/none"})
    store = LeadStore(config.leads_url, spool_dir=config.spool_dir)
    lead(store, "c-old", "afsluttet", closed_days_ago=365)
    report = purge(config=config, store=store)
    assert report["leads_purged"] == 1 and report["tracker_errors"] == 1 and references(store) == set()


def test_the_daily_thread_runs_purge_and_stops(config: Settings, store: LeadStore) -> None:
    lead(store, "c-old", "afsluttet", closed_days_ago=365)
    stop = threading.Event()
    thread = start_daily(config, first_delay=0.05, interval=3600, stop=stop)
    assert thread.daemon
    deadline = time.monotonic() + 30
    while references(store) and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    thread.join(timeout=10)
    assert references(store) == set() and not thread.is_alive()


def test_a_tracker_store_rasa_has_not_created_is_left_alone(config: Settings, store: LeadStore) -> None:
    lead(store, "c-old", "afsluttet", closed_days_ago=365)
    report = purge(config=config, store=store)
    assert report["leads_purged"] == 1 and report["tracker_errors"] == 0
    assert not (config.var_dir / "tracker.db").exists()
