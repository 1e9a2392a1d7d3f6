"""Live chats in the lead store (bot.store.live): who is on duty, one coordinator per chat, the sweeper's work."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import LeadStore
from bot.store.casework import Viewer
from bot.store.intake import LeadDraft
from bot.store.live import ENDED, LIVE, MISSED
from bot.store.schema import AuditEntry, Coordinator, Lead, utcnow

MIDT = Viewer("mette@rm.dk", "coordinator", ("midtjylland",))
NORD = Viewer("ole@rn.dk", "coordinator", ("nordjylland",))


@pytest.fixture
def store(tmp_path: Path) -> LeadStore:
    lead_store = LeadStore(f"sqlite:///{tmp_path / 'leads.db'}")
    lead_store.accounts.add("mette@rm.dk", "Mette Midt", "coordinator", ["midtjylland"], "kode-til-mette")
    lead_store.accounts.add("karen@rm.dk", "Karen Kollega", "coordinator", ["midtjylland"], "kode-til-karen")
    lead_store.accounts.add("ole@rn.dk", "Ole Nord", "coordinator", ["nordjylland"], "kode-til-ole")
    return lead_store


def account(store: LeadStore, email: str) -> int:
    with store.db.session() as session:
        return int(session.execute(sa.select(Coordinator.id).where(Coordinator.email == email)).scalar_one())


def handoff(store: LeadStore, conversation: str = "web:abc", region: str = "midtjylland") -> str:
    draft = LeadDraft(
        "handoff",
        conversation,
        "socketio",
        consent_at="2026-12-01T10:00:00",
        consent_version="2026-12-2",
        name="Lise Jensen",
        email="lise@eksempel.dk",
        region=region,
        municipality="Viborg",
        question="Hvordan bliver jeg vejviser?",
    )
    reference = store.intake.save(draft).reference
    assert store.live.request(reference)
    return reference


def test_on_duty_means_the_live_page_of_a_coordinator_of_the_region_was_open_just_now(store: LeadStore) -> None:
    assert not store.live.on_duty("midtjylland")
    store.live.present(account(store, "ole@rn.dk"))
    assert not store.live.on_duty("midtjylland") and store.live.on_duty("nordjylland")
    store.live.present(account(store, "mette@rm.dk"))
    assert store.live.on_duty("midtjylland")
    assert not store.live.on_duty("midtjylland", now=utcnow() + dt.timedelta(minutes=1))  # the page closed a minute ago


def test_of_two_coordinators_taking_one_chat_at_once_exactly_one_gets_it(store: LeadStore) -> None:
    reference = handoff(store)
    results: dict[str, bool] = {}
    start = threading.Barrier(2)

    def take(email: str) -> None:
        start.wait()
        results[email] = store.live.claim(MIDT, account(store, email), reference)

    threads = [threading.Thread(target=take, args=(email,)) for email in ("mette@rm.dk", "karen@rm.dk")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results.values()) == [False, True]
    chat = store.live.get(MIDT, reference)
    assert chat is not None and chat.state == LIVE and chat.by == account(store, next(e for e, ok in results.items() if ok))


def test_another_regions_coordinator_cannot_see_or_take_the_chat(store: LeadStore) -> None:
    reference = handoff(store)
    assert store.live.get(NORD, reference) is None
    assert store.live.open_chats(NORD) == []
    assert not store.live.claim(NORD, account(store, "ole@rn.dk"), reference)
    assert [chat.reference for chat in store.live.open_chats(MIDT)] == [reference]


def test_only_the_coordinator_in_the_chat_holds_it_and_hands_it_back(store: LeadStore) -> None:
    reference = handoff(store)
    mette, karen = account(store, "mette@rm.dk"), account(store, "karen@rm.dk")
    assert store.live.claim(MIDT, mette, reference)
    assert store.live.holds(mette, reference) and not store.live.holds(karen, reference)
    assert not store.live.release(reference, "karen@rm.dk", "handed_back", karen)
    assert store.live.release(reference, "mette@rm.dk", "handed_back", mette)
    assert store.live.get(MIDT, reference).state == ENDED  # type: ignore[union-attr]
    assert store.cases.get(MIDT, reference).status == "ny"  # type: ignore[union-attr]  # the case stays open
    with store.db.session() as session:
        actions = list(session.execute(sa.select(AuditEntry.action).where(AuditEntry.lead_reference == reference)).scalars())
    assert "live_joined" in actions and "live_left" in actions


def test_a_chat_whose_page_went_away_expires_and_a_request_nobody_took_is_missed_once(store: LeadStore) -> None:
    taken, untaken = handoff(store, "web:one"), handoff(store, "web:two")
    assert store.live.claim(MIDT, account(store, "mette@rm.dk"), taken)
    assert store.live.expired(dt.timedelta(seconds=60)) == []
    assert store.live.miss(dt.timedelta(seconds=60)) == []
    with store.db.session() as session:  # two minutes pass without a poll of the page, and without anyone taking the other
        session.execute(sa.update(Lead).values(live_seen_at=utcnow() - dt.timedelta(minutes=2), live_requested_at=utcnow() - dt.timedelta(minutes=2)))
        session.commit()
    assert [chat.reference for chat in store.live.expired(dt.timedelta(seconds=60))] == [taken]
    assert [lead.reference for lead in store.live.miss(dt.timedelta(seconds=60))] == [untaken]
    assert store.live.miss(dt.timedelta(seconds=60)) == []  # a second sweeper finds nothing left to do
    assert store.live.get(MIDT, untaken).state == MISSED  # type: ignore[union-attr]


def test_a_closed_case_cannot_be_taken_and_a_signup_never_waits(store: LeadStore) -> None:
    reference = handoff(store)
    assert store.cases.set_status(MIDT, reference, "afvist")
    assert not store.live.claim(MIDT, account(store, "mette@rm.dk"), reference)
    signup = store.intake.save(
        LeadDraft(
            "signup", "web:s", "socketio", consent_at="2026-12-01T10:00:00", consent_version="x", name="Sif", email="sif@eksempel.dk", region="midtjylland"
        )
    ).reference
    assert not store.live.request(signup)
    assert store.live.get(MIDT, signup) is None


def test_the_usual_wait_is_the_median_of_the_regions_recent_chats(store: LeadStore) -> None:
    assert store.live.typical_wait_minutes("midtjylland", 180) == 3  # no chats yet: the configured wait
    now = utcnow()
    for index, seconds in enumerate((30, 70, 400)):
        reference = handoff(store, f"web:{index}")
        with store.db.session() as session:
            session.execute(sa.update(Lead).where(Lead.reference == reference).values(live_requested_at=now, live_since=now + dt.timedelta(seconds=seconds)))
            session.commit()
    assert store.live.typical_wait_minutes("midtjylland", 180) == 2  # 70 s, rounded up
