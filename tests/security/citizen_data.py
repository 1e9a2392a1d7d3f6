"""What the tests of a citizen's personal data share: action servers on one temporary lead store,
the chat's actions run on hand-built trackers, and the Danish the citizen then reads.

Each `ActionServer` has its own VAR_DIR (spool and outbox), as each machine of a scaled-out
deployment does, and all of them share one lead database and SECRET_KEY.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions.leads
from bot.handoff import notify
from bot.settings import ROOT, Settings
from bot.store import LeadStore, audit
from bot.store.intake import LeadDraft
from stack import Stack, texts

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
NAME, EMAIL, PHONE = "Mette Hemmeligsen", "mette.hemmelig@example.dk", "+4520304050"
DAY = 86400.0
CHAT_ANSWERS = ("Mette Lund Jensen", "{email}", "20 30 40 50", "Aarhus", "vejviser", "hverdage efter kl. 16", "nej tak")
REFERENCE = re.compile(r"FRV-\d{4}-[A-Z0-9]{6}")


@dataclass
class ActionServer:
    config: Settings
    store: LeadStore


def action_server(tmp_path: Path, name: str = "a") -> ActionServer:
    config = Settings.from_env({"VAR_DIR": str(tmp_path / name), "LEADS_DB_URL": f"sqlite:///{tmp_path / 'leads.db'}", "SECRET_KEY": "test-hemmelighed"})
    return ActionServer(config, LeadStore(config.leads_url, spool_dir=config.spool_dir))


def serve_actions(server: ActionServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The actions (and the audit log's pseudonym key) use this server's store and settings instead of the global ones."""
    monkeypatch.setattr(actions.leads, "store", lambda: server.store)
    monkeypatch.setattr(actions.leads, "settings", lambda: server.config)
    monkeypatch.setattr(notify, "settings", lambda: server.config)
    monkeypatch.setattr(audit, "settings", lambda: server.config)


def draft(conversation: str, kind: str = "signup", consent_at: str = "2026-11-22T10:00:00", **overrides: Any) -> LeadDraft:
    values: dict[str, Any] = {"name": NAME, "email": EMAIL, "phone": PHONE, "region": "midtjylland", "municipality": "Aarhus"}
    values.update({"interests": ["vejviser"], "availability": "hverdage"} if kind == "signup" else {"question": "Kan jeg tage min hund med?"})
    values.update(overrides)
    return LeadDraft(kind, conversation, "telegram", consent_at=consent_at, consent_version="2026-12-1", **values)


def spool(server: ActionServer, lead: LeadDraft) -> Path:
    """A lead this server could not write (its database was down), waiting in its spool."""
    server.store.intake._spool(lead)
    [path] = [p for p in server.store.intake.spooled() if server.store.intake.read_spooled(p) == lead]
    return path


def outbox_mail(server: ActionServer, reference: str) -> Path:
    """An unsent notification about the lead, as notify.send leaves it when the mail server fails."""
    lead = {**draft("-").as_json(), "reference": reference}
    return notify.write_outbox(notify.compose(lead, server.config), server.config.outbox_dir)


def age(path: Path, days: float) -> None:
    then = time.time() - days * DAY
    os.utime(path, (then, then))


def tracker(sender: str, text: str, intent: str, slots: dict[str, Any] | None = None) -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": [], "intent_ranking": []}
    events = [{"event": "user", "text": text, "parse_data": message}]
    return Tracker(sender, slots or {}, message, events, False, None, {}, "action_listen")


async def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, DOMAIN.as_dict())
    return events, dispatcher.messages


async def said(messages: list[dict[str, Any]], track: Tracker) -> str:
    """What the citizen reads: each response rendered by Rasa's own NLG, conditions on slots included."""
    rasa_tracker = DialogueStateTracker.from_events(track.sender_id, [], DOMAIN.slots)
    for slot, value in track.slots.items():
        rasa_tracker.update(Event.from_parameters({"event": "slot", "name": slot, "value": value}))
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    texts = []
    for message in messages:
        values = {k: v for k, v in message.items() if k not in ("response", "template", "buttons", "elements", "attachment", "image", "json_message")}
        rendered = await nlg.generate(message["response"], rasa_tracker, "rest", **values)
        texts.append(str((rendered or {}).get("text") or ""))
    return "\n".join(texts)


def rasa_conversation(sender: str, *texts: str) -> DialogueStateTracker:
    """A conversation as Rasa keeps it, with the citizen's answers in it."""
    return DialogueStateTracker.from_events(sender, [UserUttered(t, {"name": "inform", "confidence": 1.0}) for t in texts], DOMAIN.slots)


def apply(conversation: DialogueStateTracker, events: list[dict[str, Any]]) -> None:
    """The events an action returned, applied as Rasa applies them."""
    for event in events:
        conversation.update(Event.from_parameters(event))


def entries(store: LeadStore) -> list[tuple[str, str, str, str]]:
    """The audit log, oldest first: actor, action, reference and the detail as JSON text."""
    return [(e.actor, e.action, e.lead_reference, json.dumps(e.detail, ensure_ascii=False)) for e in reversed(store.audit.entries(limit=1000))]


def chat_sign_up(bot: Stack, sender: str, email: str, consent: str = "ja") -> str:
    """A sign-up in the chat of the running bot, every question answered; returns what the bot said last."""
    bot.say(sender, "jeg vil gerne være frivillig")
    for answer in CHAT_ANSWERS:
        bot.say(sender, answer.format(email=email))
    return texts(bot.say(sender, consent))
