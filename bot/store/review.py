"""Learning from traffic: the citizens' messages the bot handled badly, for coordinators to review, and what they decided.

The inbox is read from Rasa's tracker store each time (bot.store.conversations), so a conversation that
is erased disappears from it at once. A message is in it when, outside a form:

- the NLU did not understand it (`fallback`: intent nlu_fallback),
- it guessed with low confidence (`unsure`: below LOW_CONFIDENCE),
- the citizen rejected the "Mente du …?" it got (`rejected`: "nej" or another miss right after),
- or the citizen asked for a person right after its answer (`person`: request_human after action_answer).

Texts are masked before anyone sees them: CPR numbers, e-mail addresses and phone numbers, and the words
of every name the citizen gave in that conversation. Messages are grouped by their words' Danish stems,
so "Hvordan melder jeg mig?" and "hvordan melder jeg mig" are one group with a count. A coordinator sees
the groups of their own regions' conversations, an admin all (those without a region too).

A decision (this group means intent X; it is out of scope; it needs an answer the bot does not have, with
a note naming the source) takes the group out of the inbox, is audited and can be undone. The intent
decisions are the reviewed examples: `python -m bot review export` writes them to nlu/reviewed.yml.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from bot.language.text import fold, stem
from bot.store import conversations
from bot.store.audit import AuditLog
from bot.store.database import Database
from bot.store.schema import Review, utcnow

FALLBACK, UNSURE, REJECTED, PERSON = "fallback", "unsure", "rejected", "person"
INTENT, OUT_OF_SCOPE, NEEDS_ANSWER = "intent", "out_of_scope", "needs_answer"
DECISIONS = (INTENT, OUT_OF_SCOPE, NEEDS_ANSWER)
LOW_CONFIDENCE = 0.6
NAME_MASK = "[navn]"
DID_YOU_MEAN = "utter_did_you_mean"
ANSWER_ACTION = "action_answer"
NAME_SLOT = "name"
WANTED = ("user", "bot", "action", "active_loop", "slot", *conversations.CONVERSATION_RESETS)
MAX_TEXT = 300
# Entities a reviewer may mark in an example, as [Viborg](municipality); the others are set by forms and buttons.
MARKABLE_ENTITIES = ("role", "place", "organisation", "region", "municipality", "ordinal")
MARK = re.compile(r"\[([^\[\]]+)\]\(([a-z_]+)\)")


class BadAnnotation(ValueError):
    """Marked entities that do not fit: another text than the message's, or an entity that cannot be marked."""


def annotated_example(text: str, annotated: str) -> str:
    """The message with the reviewer's entity marks, checked: the marks are on the message's own words."""
    annotated = " ".join(annotated.split())
    if not annotated or annotated == text:
        return text
    if any(entity not in MARKABLE_ENTITIES for _, entity in MARK.findall(annotated)):
        raise BadAnnotation("unknown entity")
    if " ".join(MARK.sub(lambda m: m.group(1), annotated).split()) != " ".join(text.split()) or "[" in MARK.sub("", annotated):
        raise BadAnnotation("not the message")
    return annotated


@dataclass
class Message:
    """One message the bot handled badly, masked."""

    conversation: str
    event_id: int
    text: str
    reason: str
    region: str
    reply: str
    at: float


@dataclass
class Group:
    key: str
    text: str  # the most frequent wording
    count: int
    reasons: list[str]
    reply: str
    regions: list[str]
    examples: list[str] = field(default_factory=list)  # every distinct wording, most frequent first


def group_key(text: str) -> str:
    """Similar wording, one key: the distinct stems of the folded words, sorted."""
    return " ".join(sorted({stem(word) for word in fold(text).split()}))[:300]


def mask(text: str, names: Iterable[str]) -> str:
    """CPR numbers, e-mail addresses, phone numbers and the words of the given names masked."""
    masked = conversations.masked(text)
    for word in sorted({word for name in names for word in str(name).split() if len(word) > 1}, key=len, reverse=True):
        masked = re.sub(rf"(?<!\w){re.escape(word)}(?!\w)", NAME_MASK, masked, flags=re.IGNORECASE)
    return " ".join(masked.split())[:MAX_TEXT]


def handled_badly(rows: Iterable[Any], regions: Collection[str] | None) -> Iterator[Message]:
    """From events ordered by conversation and id: the messages handled badly, of the conversations in `regions`."""
    for sender, conversation in itertools.groupby(rows, key=lambda row: row.sender_id):
        found: list[tuple[int, str, str, float, int]] = []  # event id, text, reason, time, index of its reply
        replies: list[str] = []
        names: list[str] = []
        region = ""
        in_form = False
        last_user: tuple[int, str, float] | None = None  # the citizen's last message outside a form
        answered: tuple[int, str, float] | None = None  # the message action_answer answered last
        asked_did_you_mean: tuple[int, str, float] | None = None  # the message a "Mente du …?" was about
        for row in conversation:
            data = json.loads(row.data or "{}")
            if row.type_name == "active_loop":
                in_form = bool(data.get("name"))
            elif row.type_name in conversations.CONVERSATION_RESETS:
                in_form, last_user, answered, asked_did_you_mean = False, None, None, None
            elif row.type_name == "slot":
                if row.action_name == conversations.REGION_SLOT and data.get("value"):
                    region = str(data["value"])
                elif row.action_name == NAME_SLOT and data.get("value"):
                    names.append(str(data["value"]))
            elif row.type_name == "action":
                if row.action_name == ANSWER_ACTION and last_user is not None:
                    answered = last_user
            elif row.type_name == "bot":
                replies.append(str(data.get("text") or ""))
                if (data.get("metadata") or {}).get("utter_action") == DID_YOU_MEAN:
                    asked_did_you_mean = last_user
            elif row.type_name == "user":
                text = str(data.get("text") or "").strip()
                if in_form or not text or text.startswith("/"):
                    continue  # answers typed in a form never reach the inbox; buttons are not wording
                intent = row.intent_name or ""
                confidence = float(((data.get("parse_data") or {}).get("intent") or {}).get("confidence") or 0.0)
                at = float(row.timestamp or 0.0)
                if asked_did_you_mean is not None and intent in ("deny", "nlu_fallback"):
                    found.append((asked_did_you_mean[0], asked_did_you_mean[1], REJECTED, asked_did_you_mean[2], len(replies)))
                asked_did_you_mean = None
                if intent == "request_human" and answered is not None:
                    found.append((answered[0], answered[1], PERSON, answered[2], len(replies)))
                answered = None
                if intent == "nlu_fallback":
                    found.append((row.id, text, FALLBACK, at, len(replies)))
                elif confidence < LOW_CONFIDENCE:
                    found.append((row.id, text, UNSURE, at, len(replies)))
                last_user = (row.id, text, at)
        if regions is not None and region not in regions:
            continue
        for event_id, text, reason, at, reply_index in found:
            reply = replies[reply_index] if reply_index < len(replies) else ""
            yield Message(sender, event_id, mask(text, names), reason, region, mask(reply, names)[:200], at)


def inbox_messages(url: str, regions: Collection[str] | None, since: dt.datetime | None = None) -> list[Message]:
    """Every message handled badly in the conversations of `regions` (None: all), newest conversations' first."""
    if not conversations.tracker_exists(url):
        return []
    events = conversations.events
    query = sa.select(events.c.id, events.c.sender_id, events.c.type_name, events.c.intent_name, events.c.action_name, events.c.timestamp, events.c.data)
    query = query.where(events.c.type_name.in_(WANTED))
    if since is not None:
        query = query.where(events.c.timestamp >= since.timestamp())
    with conversations.engine(url).connect() as connection:
        return list(handled_badly(connection.execute(query.order_by(events.c.sender_id, events.c.id)), regions))


def grouped(messages: Iterable[Message]) -> list[Group]:
    """The messages by similar wording, the largest groups first."""
    groups: dict[str, list[Message]] = {}
    for message in messages:
        groups.setdefault(group_key(message.text), []).append(message)
    result = []
    for key, members in groups.items():
        wordings: dict[str, int] = {}
        for member in members:
            wordings[member.text] = wordings.get(member.text, 0) + 1
        examples = sorted(wordings, key=lambda text: (-wordings[text], text))
        result.append(
            Group(
                key=key,
                text=examples[0],
                count=len(members),
                reasons=sorted({m.reason for m in members}),
                reply=members[-1].reply,
                regions=sorted({m.region for m in members if m.region}),
                examples=examples,
            )
        )
    return sorted(result, key=lambda g: (-g.count, g.text))


class Reviews:
    """The reviewers' decisions in the lead store, audited; undoing one puts its group back in the inbox."""

    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db, self.audit = db, audit

    def active(self) -> list[Review]:
        with self.db.session() as session:
            return list(session.execute(sa.select(Review).where(Review.undone_at.is_(None)).order_by(Review.id)).scalars())

    def decided_keys(self) -> set[str]:
        return {review.group_key for review in self.active()}

    def decide(self, actor: str, group: Group, decision: str, intent: str = "", note: str = "", region: str = "", annotated: str = "") -> int:
        """Record a decision for a group; an earlier active decision on the same group is replaced (undone).
        `annotated` is the group's text with entities marked ([Viborg](municipality)); it replaces that wording."""
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}")
        if decision == INTENT and not intent:
            raise ValueError("an intent decision names the intent")
        marked = annotated_example(group.text, annotated) if decision == INTENT else group.text
        examples = [marked, *group.examples[1:]]
        now = utcnow()
        with self.db.session() as session:
            for earlier in session.execute(sa.select(Review).where(Review.group_key == group.key, Review.undone_at.is_(None))).scalars():
                earlier.undone_at, earlier.undone_by = now, actor
            review = Review(
                group_key=group.key,
                text=group.text,
                examples=examples,
                decision=decision,
                intent=intent if decision == INTENT else "",
                note=note.strip()[:1000],
                region=region,
                decided_by=actor,
                decided_at=now,
            )
            session.add(review)
            session.flush()
            self.audit.add(session, actor, "review_decided", decision=decision, intent=review.intent, review=review.id, count=group.count)
            session.commit()
            return int(review.id)

    def undo(self, actor: str, review_id: int) -> bool:
        with self.db.session() as session:
            review = session.get(Review, review_id)
            if review is None or review.undone_at is not None:
                return False
            review.undone_at, review.undone_by = utcnow(), actor
            self.audit.add(session, actor, "review_undone", decision=review.decision, intent=review.intent, review=review.id)
            session.commit()
            return True

    def examples(self) -> dict[str, list[str]]:
        """The reviewed training examples: intent -> the decided groups' wordings, in decision order."""
        result: dict[str, list[str]] = {}
        for review in self.active():
            if review.decision == INTENT:
                result.setdefault(review.intent, []).extend(review.examples or [review.text])
        return result
