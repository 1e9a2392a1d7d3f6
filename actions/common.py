"""Small helpers the actions share: reading the tracker and the domain's texts."""

from __future__ import annotations

from typing import Any, Iterable

from rasa_sdk import Tracker
from rasa_sdk.types import DomainDict

KNOWLEDGE_INTENTS = frozenset(
    {
        "ask_opportunities",
        "ask_strategy",
        "ask_list_item",
        "ask_confidentiality",
        "ask_saying_no",
        "ask_pay",
        "ask_insurance",
        "ask_staff_relation",
        "ask_training",
        "ask_requirements",
        "ask_time_interests",
        "ask_sjaelland",
        "ask_specialsektor",
        "ask_committee",
        "ask_resources",
        "ask_contact",
        "ask_patient_help",
        "emergency",
        "crisis",
        "medical_question",
    }
)
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


def channel(tracker: Tracker) -> str:
    if tracker.sender_id.startswith("telegram:"):
        return "telegram"
    return str(tracker.get_latest_input_channel() or "rest")


def transcript(tracker: Tracker, limit: int = 40) -> list[dict[str, Any]]:
    """The conversation as coordinators read it: who said what, and when."""
    lines: list[dict[str, Any]] = []
    for event in tracker.events:
        kind = event.get("event")
        if kind == "user" and event.get("text"):
            lines.append({"who": "borger", "text": event["text"], "at": event.get("timestamp")})
        elif kind == "bot" and event.get("text"):
            lines.append({"who": "bot", "text": event["text"], "at": event.get("timestamp")})
    return lines[-limit:]


def user_turns(tracker: Tracker) -> Iterable[dict[str, Any]]:
    """User messages, newest first."""
    return (e for e in reversed(tracker.events) if e.get("event") == "user")


def ranking(tracker: Tracker) -> list[tuple[str, float]]:
    return [(str(r.get("name")), float(r.get("confidence") or 0.0)) for r in tracker.latest_message.get("intent_ranking") or []]
