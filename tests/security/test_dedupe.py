"""A second sign-up with the same e-mail updates the first open lead instead of making a new one (issue 13).

So a script cannot flood coordinators with leads and mails by signing up one address again
and again, and a citizen who signs up twice has one case and one reference.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from citizen_data import EMAIL, REFERENCE, ActionServer, action_server, chat_sign_up, draft, entries, run, said, serve_actions, tracker

import actions.leads
from actions.leads import ActionSubmitSignup
from bot.conventions import citizen_actor
from bot.store.schema import Lead
from stack import Stack


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ActionServer:
    serving = action_server(tmp_path)
    serve_actions(serving, monkeypatch)
    return serving


def stored(server: ActionServer) -> list[dict[str, Any]]:
    return list(server.store.cases.all_leads())


def test_the_second_sign_up_updates_the_first_and_keeps_its_reference(server: ActionServer) -> None:
    first = server.store.intake.save(draft("telegram:1"))
    with server.store.db.session() as session:
        session.execute(sa.update(Lead).values(status="kontaktet"))
        session.commit()
    second = server.store.intake.save(
        draft("web:2", consent_at="2026-11-25T09:00:00", email=EMAIL.upper(), phone="+4531313131", interests=["cafe"], availability="weekender")
    )
    assert (second.reference, second.stored, second.created, second.updated) == (first.reference, True, False, True)
    [lead] = stored(server)
    assert (lead["reference"], lead["status"], lead["phone"], lead["interests"], lead["availability"]) == (
        first.reference,
        "kontaktet",
        "+4531313131",
        ["cafe"],
        "weekender",
    )
    assert lead["consent_at"].startswith("2026-11-25") and lead["conversation_id"] == "web:2"  # the citizen who gave these answers may see and erase them
    updates = [e for e in entries(server.store) if e[1] == "lead_updated"]
    assert [(actor, reference) for actor, _, reference, _ in updates] == [(citizen_actor("web:2"), first.reference)]
    assert '"fields": ["availability", "email", "interests", "phone"]' in updates[0][3]


@pytest.mark.parametrize(
    ("later", "why"),
    [
        ({"region": "nordjylland", "municipality": "Aalborg"}, "another region"),
        ({"email": "en.anden@example.dk"}, "another e-mail"),
        ({"kind": "handoff"}, "a handoff is a question of its own"),
    ],
)
def test_other_sign_ups_are_new_leads(server: ActionServer, later: dict[str, Any], why: str) -> None:
    first = server.store.intake.save(draft("telegram:1"))
    second = server.store.intake.save(draft("web:2", **later))
    assert second.created and second.reference != first.reference and len(stored(server)) == 2, why


def test_a_closed_lead_is_not_reopened(server: ActionServer) -> None:
    server.store.intake.save(draft("telegram:1"))
    with server.store.db.session() as session:
        session.execute(sa.update(Lead).values(status="afsluttet"))
        session.commit()
    assert server.store.intake.save(draft("web:2", availability="weekender")).created and len(stored(server)) == 2


def test_without_an_e_mail_nothing_is_merged(server: ActionServer) -> None:
    server.store.intake.save(draft("telegram:1", email=""))
    assert server.store.intake.save(draft("web:2", email="", availability="weekender")).created and len(stored(server)) == 2


def test_an_older_submission_written_late_does_not_undo_a_newer_one(server: ActionServer) -> None:
    newer = server.store.intake.save(draft("web:2", consent_at="2026-11-25T09:00:00", availability="weekender"))
    older = server.store.intake.save(draft("telegram:1", consent_at="2026-11-20T09:00:00", availability="hverdage"))  # from a spool, say
    assert older.reference == newer.reference and not older.updated
    [lead] = stored(server)
    assert (lead["availability"], lead["conversation_id"]) == ("weekender", "web:2")


async def test_the_citizen_is_told_the_existing_reference_and_no_second_mail_goes_out(server: ActionServer, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(actions.leads.notify, "send", lambda lead: sent.append(lead))
    first = server.store.intake.save(draft("telegram:1"))
    answers = {**draft("web:2").values, "consent": True}
    asked = tracker("web:2", "ja", "affirm", answers)
    events, messages = await run(ActionSubmitSignup(), asked)
    reply = await said(messages, asked)
    assert reply.startswith(
        f"Tak, Mette! Du var allerede tilmeldt med referencenummer {first.reference}, så jeg har opdateret din tilmelding med de nye oplysninger."
    )
    assert {"event": "slot", "timestamp": None, "name": "lead_reference", "value": first.reference} in events
    assert sent == [] and len(stored(server)) == 1


def test_signing_up_twice_in_the_chat_gives_one_lead(bot: Stack, sender: str) -> None:
    """Needs a model trained on this domain.yml (utter_signup_updated)."""
    email = f"to.gange.{sender}@example.dk"
    first = REFERENCE.search(chat_sign_up(bot, sender, email))
    assert first
    again = chat_sign_up(bot, f"{sender}-igen", email)
    assert [lead["reference"] for lead in bot.store().cases.all_leads() if lead["email"] == email] == [first.group(0)]
    assert f"allerede tilmeldt med referencenummer {first.group(0)}" in again
