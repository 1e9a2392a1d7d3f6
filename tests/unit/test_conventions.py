"""Facts written in more than one language or file agree with their one definition."""

from __future__ import annotations

import re

import yaml

from actions.common import form_slots, knowledge_intents
from bot import conventions
from bot.knowledge import kb
from bot.settings import ROOT
from bot.store.schema import FIELD_NAMES

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
WIDGET = (ROOT / "bot" / "web" / "static" / "widget.js").read_text(encoding="utf-8")


def test_the_widget_limits_messages_as_the_server_does() -> None:
    assert re.search(rf"const MAX_MESSAGE_LENGTH = {conventions.MAX_MESSAGE_CHARS};", WIDGET)


def test_the_widget_starts_a_new_conversation_when_rasa_does() -> None:
    minutes = DOMAIN["session_config"]["session_expiration_time"]
    assert re.search(rf"const SESSION_IDLE_MS = {minutes} \* 60 \* 1000;", WIDGET)


def test_the_erasure_slot_is_a_slot_of_the_domain() -> None:
    assert DOMAIN["slots"][conventions.ERASURE_SLOT]["type"] == "bool"


def test_the_knowledge_intents_are_those_the_rules_send_to_the_knowledge_base() -> None:
    rules = yaml.safe_load((ROOT / "stories" / "rules.yml").read_text(encoding="utf-8"))["rules"]
    answered: set[str] = set()
    for rule in rules:
        steps = rule["steps"]
        if any(step.get("action") == "action_answer" for step in steps):
            for step in steps:
                answered.update(option["intent"] for option in step.get("or", []))
                answered.update([step["intent"]] if "intent" in step else [])
    assert answered == set(knowledge_intents()) == set(kb().answered_intents)
    assert set(knowledge_intents()) <= set(DOMAIN["intents"])


def test_a_cancel_forgets_every_slot_a_form_fills() -> None:
    forgotten = set(form_slots(DOMAIN))
    assert {slot for form in DOMAIN["forms"].values() for slot in form["required_slots"]} <= forgotten
    assert set(FIELD_NAMES) <= forgotten and "misses" in forgotten


def test_channels_and_senders() -> None:
    assert conventions.channel_of(conventions.telegram_sender(42), "rest") == conventions.TELEGRAM
    assert conventions.channel_of("a1b2c3", conventions.SOCKETIO) == conventions.SOCKETIO
    assert conventions.channel_of("a1b2c3", None) == conventions.REST


def test_a_transcript_is_who_said_what() -> None:
    events = [
        {"event": "user", "text": "hej", "timestamp": 1.0},
        {"event": "action", "name": "utter_greet"},
        {"event": "bot", "text": "Hej!", "timestamp": 2.0},
        {"event": "bot", "text": None},
        {"event": "user", "text": "tak", "timestamp": 3.0},
    ]
    assert conventions.transcript(events) == [
        {"who": conventions.CITIZEN, "text": "hej", "at": 1.0},
        {"who": conventions.BOT, "text": "Hej!", "at": 2.0},
        {"who": conventions.CITIZEN, "text": "tak", "at": 3.0},
    ]
    assert conventions.transcript(events, limit=1) == [{"who": conventions.CITIZEN, "text": "tak", "at": 3.0}]
