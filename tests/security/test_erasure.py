"""Erasure ("slet mine oplysninger") reaches every copy of the citizen's data, and the reply says what went (issue 13)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from citizen_data import (
    DOMAIN,
    EMAIL,
    NAME,
    PHONE,
    REFERENCE,
    ActionServer,
    action_server,
    apply,
    chat_sign_up,
    draft,
    entries,
    outbox_mail,
    rasa_conversation,
    run,
    said,
    serve_actions,
    spool,
    tracker,
)

from actions.leads import ActionEraseData
from bot.conventions import ERASURE_SLOT
from bot.rasa_server.tracker_store import ErasableSQLTrackerStore
from bot.store.schema import Lead
from stack import Stack, stored_transcript, texts

CITIZEN = "telegram:4711"
ASKED = ("slet mine oplysninger", "delete_data")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ActionServer:
    serving = action_server(tmp_path)
    serve_actions(serving, monkeypatch)
    return serving


def leads(server: ActionServer) -> list[Lead]:
    with server.store.db.session() as session:
        return list(session.execute(sa.select(Lead)).scalars())


async def test_every_copy_goes_and_the_reply_names_what(server: ActionServer, tmp_path: Path) -> None:
    signup = server.store.intake.save(draft(CITIZEN)).reference
    handoff = draft(CITIZEN, kind="handoff", email="", consent_at="2026-11-23T10:00:00")
    spooled = spool(server, handoff)
    mails = [outbox_mail(server, signup), outbox_mail(server, handoff.reference())]
    other = outbox_mail(server, "FRV-2026-ANDEN1")
    server.store.audit.record("koordinator@rm.dk", "export", filter={"q": "hemmeligsen"}, count=1, format="csv")
    server.store.audit.record("koordinator@rm.dk", "export", filter={"q": "vejviser"}, count=9, format="csv")
    server.store.audit.record("koordinator@rm.dk", "lead_viewed", signup)

    events, messages = await run(ActionEraseData(), tracker(CITIZEN, *ASKED))

    reply = await said(messages, tracker(CITIZEN, *ASKED))
    assert reply.startswith("Jeg har slettet din tilmelding, din henvendelse til koordinatoren (") and reply.endswith(
        ") og vores samtale. Du er altid velkommen tilbage."
    )
    assert signup in reply and handoff.reference() in reply
    assert events == [{"event": "slot", "timestamp": None, "name": ERASURE_SLOT, "value": True}]
    assert leads(server) == [] and not spooled.exists()
    assert [m.exists() for m in mails] == [False, False] and other.exists()
    log = entries(server.store)
    assert not [e for e in log if CITIZEN in e[0] or "hemmeligsen" in e[3].lower() or EMAIL in e[3] or NAME in e[3]]
    pseudonym = server.store.audit.pseudonym(CITIZEN)
    assert (pseudonym, "lead_created", signup) in [e[:3] for e in log]  # the fact stays, under a pseudonym
    assert {(pseudonym, "lead_deleted", signup), (pseudonym, "lead_deleted", handoff.reference()), (pseudonym, "conversation_erased", "")} <= {
        e[:3] for e in log
    }
    assert ("koordinator@rm.dk", "lead_viewed", signup) in [e[:3] for e in log]
    assert [e[3] for e in log if e[1] == "export"] == [
        '{"filter": {"q": "[slettet]"}, "count": 1, "format": "csv"}',
        '{"filter": {"q": "vejviser"}, "count": 9, "format": "csv"}',
    ]


@pytest.mark.parametrize(
    ("stored", "reply"),
    [
        ((), "Jeg havde ingen oplysninger gemt om dig ud over denne samtale, og den er nu slettet."),
        (("signup",), "Jeg har slettet din tilmelding ({}) og vores samtale. Du er altid velkommen tilbage."),
        (("handoff",), "Jeg har slettet din henvendelse til koordinatoren ({}) og vores samtale. Du er altid velkommen tilbage."),
    ],
)
async def test_the_reply_says_what_was_deleted(server: ActionServer, stored: tuple[str, ...], reply: str) -> None:
    references = [server.store.intake.save(draft(CITIZEN, kind=kind)).reference for kind in stored]
    server.store.intake.save(draft("someone-else", email="anden@example.dk"))
    _, messages = await run(ActionEraseData(), tracker(CITIZEN, *ASKED))
    assert await said(messages, tracker(CITIZEN, *ASKED)) == reply.format(*references)
    assert [lead.conversation_id for lead in leads(server)] == ["someone-else"]


async def test_the_conversation_goes_with_the_reply(server: ActionServer, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    tracker_store = ErasableSQLTrackerStore(host=url, domain=DOMAIN)
    conversation = rasa_conversation(CITIZEN, NAME, EMAIL, PHONE)
    await tracker_store.save(conversation)
    events, _ = await run(ActionEraseData(), tracker(CITIZEN, *ASKED))
    apply(conversation, events)
    await tracker_store.save(conversation)
    assert stored_transcript(url, CITIZEN) == []


async def test_a_lead_spooled_on_another_action_server_never_comes_back(server: ActionServer, tmp_path: Path) -> None:
    other = action_server(tmp_path, "b")
    waiting = spool(other, draft(CITIZEN))
    await run(ActionEraseData(), tracker(CITIZEN, *ASKED))
    assert waiting.exists()  # on another machine: this action server cannot reach it

    assert other.store.intake.flush_spool() == []
    assert leads(server) == [] and not waiting.exists()
    assert (server.store.audit.pseudonym(CITIZEN), "lead_deleted", draft(CITIZEN).reference()) in [e[:3] for e in entries(server.store)]


def test_a_sign_up_after_the_erasure_is_a_new_consent_and_kept(server: ActionServer, tmp_path: Path) -> None:
    server.store.citizens.erase_conversation(CITIZEN)
    later = draft(CITIZEN, consent_at="2999-01-01T10:00:00")
    spool(action_server(tmp_path, "b"), later)
    [(written, result)] = action_server(tmp_path, "b").store.intake.flush_spool()
    assert written == later and [lead.reference for lead in leads(server)] == [result.reference]


def test_an_erasure_while_a_spooled_lead_is_written_still_removes_it(server: ActionServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = action_server(tmp_path, "b")
    spool(other, draft(CITIZEN))
    insert = other.store.intake._insert

    def insert_then_erasure(lead: object) -> object:
        written = insert(lead)  # type: ignore[arg-type]
        server.store.audit.record(server.store.audit.pseudonym(CITIZEN), "conversation_erased")  # the erasure's first step, on the other server
        return written

    monkeypatch.setattr(other.store.intake, "_insert", insert_then_erasure)
    assert other.store.intake.flush_spool() == []
    assert leads(server) == [] and other.store.intake.spooled() == []


def test_unreadable_spool_files_that_name_the_conversation_go_too(server: ActionServer) -> None:
    spool_dir = server.config.spool_dir
    (spool_dir / "unreadable").mkdir(parents=True)
    named = spool_dir / "unreadable" / "broken.json"
    named.write_text('{"conversation_id": "telegram:4711", "name": "Mette Hemmel', encoding="utf-8")
    unrelated = spool_dir / "unreadable" / "other.json"
    unrelated.write_text('{"conversation_id": "telegram:99", "na', encoding="utf-8")
    server.store.citizens.erase_conversation(CITIZEN)
    assert not named.exists() and unrelated.exists()


def test_the_erasure_responses_are_natural_danish() -> None:
    responses = DOMAIN.responses
    for name in ("utter_erased_signup", "utter_erased_handoff", "utter_erased_signup_and_handoff", "utter_erased_nothing", "utter_erasure_failed"):
        text = responses[name][0]["text"]
        assert re.search("slet", text) and "De " not in text and len(text) < 200
    assert "utter_erased" not in responses  # the one reply that said the same whatever was found


def test_erasure_in_the_chat(bot: Stack, sender: str) -> None:
    """Needs a model trained on this domain.yml (its new responses)."""
    email = f"borger.{sender}@example.dk"
    reference = REFERENCE.search(chat_sign_up(bot, sender, email))
    assert reference
    bot.say(sender, "slet mine oplysninger")
    reply = texts(bot.say(sender, "ja"))
    assert [lead for lead in bot.store().cases.all_leads() if lead["email"] == email] == []
    assert stored_transcript(bot.settings.tracker_url, sender) == []
    assert f"Jeg har slettet din tilmelding ({reference.group(0)}) og vores samtale" in reply
    bot.say(sender, "slet mine oplysninger")
    assert "ingen oplysninger gemt om dig ud over denne samtale" in texts(bot.say(sender, "ja"))
