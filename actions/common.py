"""Small helpers the actions share: reading the tracker and the domain's texts."""

from __future__ import annotations

from typing import Any, Iterable

from rasa_sdk import Tracker
from rasa_sdk.types import DomainDict

from bot import conventions
from bot.knowledge import kb
from bot.store.schema import FIELD_NAMES

# Intents that answer nothing by themselves; never offered as "Mente du …?".
GENERIC_INTENTS = frozenset({"nlu_fallback", "affirm", "deny", "inform", "greet", "goodbye", "thank", "share_cpr", "out_of_scope", "other_language"})


def text(domain: DomainDict, response: str, **values: Any) -> str:
    """A response's first text from domain.yml, filled with values; for composing larger messages."""
    template = domain["responses"][response][0]["text"]
    return str(template.format(**values)) if values else str(template)


def latest_text(tracker: Tracker) -> str:
    return str(tracker.latest_message.get("text") or "")


def latest_intent(tracker: Tracker) -> tuple[str, float]:
    intent = tracker.latest_message.get("intent") or {}
    return str(intent.get("name") or ""), float(intent.get("confidence") or 0.0)


def entity_values(tracker: Tracker, entity: str) -> list[str]:
    values: list[str] = []
    for item in tracker.latest_message.get("entities") or []:
        if item.get("entity") == entity and item.get("value") is not None:
            value = str(item["value"])
            if value not in values:
                values.append(value)
    return values


def knowledge_intents() -> frozenset[str]:
    """The intents answered from the knowledge base (stories/rules.yml sends them to action_answer; a test checks)."""
    return kb().answered_intents


def channel(tracker: Tracker) -> str:
    return conventions.channel_of(tracker.sender_id, tracker.get_latest_input_channel())


def transcript(tracker: Tracker, limit: int = 40) -> list[dict[str, Any]]:
    """The conversation as coordinators read it: who said what, and when."""
    return conventions.transcript(tracker.events, limit)


def form_slots(domain: DomainDict) -> list[str]:
    """Every slot the forms fill, the region found with the municipality, and the count of misses: what a cancel forgets."""
    asked = [slot for form in domain["forms"].values() for slot in form["required_slots"]]
    return list(dict.fromkeys([*asked, *FIELD_NAMES, "misses"]))


def user_turns(tracker: Tracker) -> Iterable[dict[str, Any]]:
    """User messages, newest first."""
    return (e for e in reversed(tracker.events) if e.get("event") == "user")


def ranking(tracker: Tracker) -> list[tuple[str, float]]:
    return [(str(r.get("name")), float(r.get("confidence") or 0.0)) for r in tracker.latest_message.get("intent_ranking") or []]
