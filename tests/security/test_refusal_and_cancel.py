"""A citizen who says no to storing, or cancels, is told the truth: the conversation so far is deleted at once (issue 13).

Before, the bot said "intet er gemt" while the answers (name, e-mail, phone) stayed in the
tracker store until retention removed the idle conversation a week later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from citizen_data import DOMAIN, EMAIL, NAME, PHONE, ActionServer, action_server, apply, chat_sign_up, rasa_conversation, run, said, serve_actions, tracker

from actions.forms import ActionCancelForm
from actions.leads import ActionSubmitHandoff, ActionSubmitSignup
from bot.conventions import ERASURE_SLOT
from bot.rasa_server.tracker_store import ErasableSQLTrackerStore
from stack import Stack, stored_transcript, texts

CITIZEN = "web:abc123"
ANSWERS = {"name": NAME, "email": EMAIL, "phone": PHONE, "municipality": "Aarhus", "region": "midtjylland", "interests": ["vejviser"]}


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ActionServer:
    serving = action_server(tmp_path)
    serve_actions(serving, monkeypatch)
    return serving


async def deleted_at_once(tmp_path: Path, events: list[dict[str, Any]]) -> bool:
    """Whether Rasa's tracker store, saving the turn with these events, keeps nothing of the conversation."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    tracker_store = ErasableSQLTrackerStore(host=url, domain=DOMAIN)
    conversation = rasa_conversation(CITIZEN, NAME, EMAIL, PHONE)
    await tracker_store.save(conversation)
    apply(conversation, events)
    await tracker_store.save(conversation)
    return stored_transcript(url, CITIZEN) == []


@pytest.mark.parametrize(("action", "consent"), [(ActionSubmitSignup(), "consent"), (ActionSubmitHandoff(), "handoff_consent")])
async def test_refused_consent_deletes_the_conversation_and_says_so(server: ActionServer, tmp_path: Path, action: Any, consent: str) -> None:
    asked = tracker(CITIZEN, "nej", "deny", {**ANSWERS, consent: False})
    events, messages = await run(action, asked)
    assert (
        await said(messages, asked)
        == "Helt i orden – jeg har ikke gemt dine svar, og vores samtale indtil nu er slettet. Du er altid velkommen til at skrive igen."
    )
    assert {"event": "slot", "timestamp": None, "name": ERASURE_SLOT, "value": True} in events
    assert list(server.store.cases.all_leads()) == [] and server.store.intake.spooled() == []
    assert await deleted_at_once(tmp_path, events)


async def test_a_cancel_deletes_the_conversation_and_says_so(tmp_path: Path) -> None:
    asked = tracker(CITIZEN, "ja", "affirm", ANSWERS)
    events, messages = await run(ActionCancelForm(), asked)
    assert await said(messages, asked) == "Okay, jeg har afbrudt og slettet vores samtale – intet er gemt. Skriv endelig igen, hvis du får lyst."
    assert {"event": "slot", "timestamp": None, "name": "email", "value": None} in events
    assert await deleted_at_once(tmp_path, events)


async def test_a_cancel_after_an_earlier_sign_up_says_that_one_is_still_stored() -> None:
    asked = tracker(CITIZEN, "ja", "affirm", {**ANSWERS, "lead_reference": "FRV-2026-TIDLIG"})
    _, messages = await run(ActionCancelForm(), asked)
    reply = await said(messages, asked)
    assert "slettet vores samtale" in reply and "FRV-2026-TIDLIG" in reply and "stadig gemt" in reply and "intet er gemt" not in reply


def test_the_questions_before_promise_what_happens() -> None:
    responses = DOMAIN.responses
    assert "jeg sletter vores samtale" in responses["utter_confirm_cancel"][0]["text"]
    assert [b["title"] for b in responses["utter_ask_consent"][0]["buttons"]] == ["Ja, det må I gerne", "Nej, gem ikke noget"]


def test_refusing_in_the_chat_deletes_the_conversation(bot: Stack, sender: str) -> None:
    """The deletion works with any model; the words need a model trained on this domain.yml."""
    reply = chat_sign_up(bot, sender, f"borger.{sender}@example.dk", consent="nej")
    assert stored_transcript(bot.settings.tracker_url, sender) == []
    assert "vores samtale indtil nu er slettet" in reply


def test_cancelling_in_the_chat_deletes_the_conversation(bot: Stack, sender: str) -> None:
    bot.say(sender, "jeg vil gerne være frivillig")
    bot.say(sender, "Mette Lund Jensen")
    bot.say(sender, "annuller")
    reply = texts(bot.say(sender, "ja"))
    assert stored_transcript(bot.settings.tracker_url, sender) == []
    assert "slettet vores samtale" in reply
