"""Read and delete conversations in Rasa's SQL tracker store (the `events` table of SQLTrackerStore).

The dashboard uses it to delete a lead's conversation, to find the questions the bot
did not understand, and the retention job to remove conversations without consent.
Only conversations that no Rasa process is handling at that moment should be deleted
here; a citizen's own erasure request goes through bot.rasa_server.tracker_store instead.

The `events` table is declared here as Rasa's SQLTrackerStore declares it, so that the
dashboard need not import Rasa; tests/unit/test_rasa_patches.py checks that the two agree.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from functools import cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bot.store.database import make_engine

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


def unanswered(url: str, limit: int = 10, since: dt.datetime | None = None) -> list[tuple[str, int]]:
    """The texts the NLU most often could not classify (intent nlu_fallback), with counts."""
    query = sa.select(events.c.data).where(events.c.type_name == "user", events.c.intent_name == "nlu_fallback")
    if since is not None:
        query = query.where(events.c.timestamp >= since.timestamp())
    counts: Counter[str] = Counter()
    with engine(url).connect() as connection:
        for (data,) in connection.execute(query):
            text = str(json.loads(data).get("text") or "").strip()
            if text and not text.startswith("/"):
                counts[" ".join(text.lower().split())[:200]] += 1
    return counts.most_common(limit)


def last_activity(url: str) -> dict[str, float]:
    """Each conversation's newest event time (epoch seconds)."""
    with engine(url).connect() as connection:
        rows = connection.execute(sa.select(events.c.sender_id, sa.func.max(events.c.timestamp)).group_by(events.c.sender_id))
        return {sender: float(ts or 0) for sender, ts in rows}
