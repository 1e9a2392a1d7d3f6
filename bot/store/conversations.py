"""Read and delete conversations in Rasa's SQL tracker store (the `events` table of SQLTrackerStore).

The dashboard uses it to delete a lead's conversation, to find the questions the bot
did not understand (masked, and only of the coordinator's regions), and the retention job
to remove conversations without consent.
Only conversations that no Rasa process is handling at that moment should be deleted
here; a citizen's own erasure request goes through bot.rasa_server.tracker_store instead.

The `events` table is declared here as Rasa's SQLTrackerStore declares it, so that the
dashboard need not import Rasa; tests/unit/test_rasa_patches.py checks that the two agree.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.language.privacy import scrub
from bot.language.validation import EMAIL_IN_TEXT, PHONE_IN_TEXT
from bot.store.database import make_engine

REGION_SLOT = "region"  # the slot of the lead field "region" (bot.store.schema.LEAD_FIELDS): a conversation's region
CONVERSATION_RESETS = ("restart", "session_started")  # events after which no form is active
EMAIL_MASK = "xxx@xxx"
PHONE_MASK = "xx xx xx xx"

metadata = sa.MetaData()
events = sa.Table(
    "events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("sender_id", sa.String(255), nullable=False, index=True),
    sa.Column("type_name", sa.String(255), nullable=False),
    sa.Column("timestamp", sa.Float),
    sa.Column("intent_name", sa.String(255)),
    sa.Column("action_name", sa.String(255)),
    sa.Column("data", sa.Text),
)


def tracker_exists(url: str) -> bool:
    """Whether Rasa has created its SQLite tracker store yet; reading must not create it (a server database always counts)."""
    if not url.startswith("sqlite"):
        return True
    path = url.split("///", 1)[-1]
    return path in ("", ":memory:") or Path(path).exists()


@cache
def engine(url: str) -> Engine:
    eng = make_engine(url)
    metadata.create_all(eng)  # Rasa creates the same table; harmless when it exists
    return eng


def delete(url: str, sender_id: str) -> int:
    with engine(url).begin() as connection:
        return int(connection.execute(sa.delete(events).where(events.c.sender_id == sender_id)).rowcount or 0)


def masked(text: str) -> str:
    """The text with CPR numbers, e-mail addresses and phone numbers masked; CPR first, as its digits look like a phone number."""
    return PHONE_IN_TEXT.sub(PHONE_MASK, EMAIL_IN_TEXT.sub(EMAIL_MASK, scrub(text)))


def unanswered(url: str, regions: Collection[str] | None = None, limit: int = 10, since: dt.datetime | None = None) -> list[tuple[str, int]]:
    """The texts the NLU most often could not classify (intent nlu_fallback), masked, with counts.

    Answers typed inside a form (names, addresses) are left out. With `regions`, only conversations of
    those regions count; None (an admin) counts every conversation, those without a region too.
    """
    fallback = sa.and_(events.c.type_name == "user", events.c.intent_name == "nlu_fallback")
    if since is not None:
        fallback = sa.and_(fallback, events.c.timestamp >= since.timestamp())
    senders = sa.select(events.c.sender_id).where(fallback).distinct()
    wanted = sa.or_(
        fallback,
        events.c.type_name.in_(("active_loop", *CONVERSATION_RESETS)),
        sa.and_(events.c.type_name == "slot", events.c.action_name == REGION_SLOT),  # Rasa keeps a slot's name there
    )
    columns = (events.c.id, events.c.sender_id, events.c.type_name, events.c.intent_name, events.c.action_name, events.c.timestamp, events.c.data)
    query = sa.select(*columns).where(events.c.sender_id.in_(senders), wanted).order_by(events.c.sender_id, events.c.id)
    from bot.store.review import FALLBACK, handled_badly  # the review inbox's reading of a conversation, on these rows only

    with engine(url).connect() as connection:
        counts = Counter(m.text.lower()[:200] for m in handled_badly(connection.execute(query), regions) if m.reason == FALLBACK)
    return counts.most_common(limit)


def last_activity(url: str) -> dict[str, float]:
    """Each conversation's newest event time (epoch seconds)."""
    with engine(url).connect() as connection:
        rows = connection.execute(sa.select(events.c.sender_id, sa.func.max(events.c.timestamp)).group_by(events.c.sender_id))
        return {sender: float(ts or 0) for sender, ts in rows}
