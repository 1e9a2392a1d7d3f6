"""Rasa's SQL tracker store, extended for data protection and for long conversations.

- CPR numbers are masked before any event is written.
- Database errors never show the statement's parameters (the citizen's messages).
- When a conversation's erasure slot (bot.conventions.ERASURE_SLOT) is set (the citizen confirmed
  "slet mine oplysninger"), its stored events are deleted instead of saved. This has
  to happen here, in Rasa's own save under the conversation lock: events deleted by
  anyone else in the middle of a turn would be written back by the next save.
- Rasa rebuilds a conversation from every stored event of its session at each message, so
  each message cost more than the one before (87 ms to load a 300-message conversation).
  The trackers this process saved last are kept (RECENT_TRACKERS of them); a message
  reads only the rows stored since, which another instance may have written. A tracker
  whose rows were deleted (erasure, retention), whose session restarted, or that was
  changed here without being saved is loaded from the database as before. Saving such a
  tracker writes its events after the ones known to be stored, without counting the stored
  rows again. A conversation whose new events were masked for storage (a CPR number) is
  not kept: the next message loads it, masked, from the database, as before.
"""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Iterator

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event, SessionStarted, deserialise_events
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.engine import Engine

from bot.conventions import ERASURE_SLOT
from bot.language.privacy import scrub
from bot.store.database import make_engine

# Conversations whose tracker stays in memory between messages, least recently used dropped first.
RECENT_TRACKERS = 256
# Set on a tracker this store handed out: how many of its first events are stored.
STORED = "_frivillig_stored"
# Set while saving when an event had to be masked before it was written.
MASKED = "_frivillig_masked"


@dataclass
class _Saved:
    tracker: DialogueStateTracker
    length: int  # len(tracker.events) when it was saved: more means changed here and not saved
    last_id: int  # the newest stored row of the conversation at that moment


def _relaxed_sync(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class ErasableSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that masks CPR numbers, honours erasure requests and reads only new rows of a known conversation."""

    engine: Engine

    def __init__(self, host: str | None = None, **kwargs: Any) -> None:
        super().__init__(host=host, **kwargs)
        if self.engine.dialect.name == "sqlite":
            self._embedded_engine()
        self.engine.hide_parameters = True  # a database error must not carry a citizen's message into the logs
        self._recent: OrderedDict[str, _Saved] = OrderedDict()

    def _embedded_engine(self) -> None:
        """The embedded SQLite store as a server keeps it: connections kept open (Rasa's engine opened and closed one
        for each of the three sessions of every message), a write-ahead log, and a commit that does not wait for the
        disk (synchronous=NORMAL: an application crash loses nothing, a power cut at most the last messages;
        production uses PostgreSQL). Before this a third of Rasa's time per message went to connecting and syncing."""
        url = self.engine.url
        self.engine.dispose()
        self.engine = make_engine(str(url), pooled=True)
        sa.event.listen(self.engine, "connect", _relaxed_sync)
        self.sessionmaker = sa.orm.sessionmaker(bind=self.engine)

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        saved = self._recent.pop(sender_id, None)
        if saved is not None and len(saved.tracker.events) == saved.length and self.domain:
            tracker = self._catch_up(saved)
            if tracker is not None:
                return tracker
        loaded = await super().retrieve(sender_id)
        if loaded is not None:
            loaded.__dict__[STORED] = len(loaded.events)  # it holds exactly the stored events of its session
        return loaded

    def _catch_up(self, saved: _Saved) -> DialogueStateTracker | None:
        """The saved tracker with the rows stored after it, or None when it cannot be continued."""
        table = self.SQLEvent.__table__
        query = (
            sa.select(table.c.id, table.c.type_name, table.c.data)
            .where(table.c.sender_id == saved.tracker.sender_id, table.c.id >= saved.last_id)
            .order_by(table.c.id)
        )
        with self.session_scope() as session:
            rows = session.execute(query).all()
        if not rows or rows[0].id != saved.last_id:
            return None  # its rows were deleted: whatever is stored now is another conversation
        newer = rows[1:]
        if any(row.type_name == SessionStarted.type_name for row in newer):
            return None  # a new session: Rasa loads only that one
        for event in deserialise_events([json.loads(row.data) for row in newer]):
            saved.tracker.update(event)  # as DialogueStateTracker.from_dict replays them
        saved.tracker.__dict__[STORED] = len(saved.tracker.events)
        return saved.tracker

    async def save(self, tracker: DialogueStateTracker) -> None:
        self._recent.pop(tracker.sender_id, None)
        if tracker.get_slot(ERASURE_SLOT):
            self.delete(tracker.sender_id)
            return
        stored = tracker.__dict__.get(STORED)
        restarted = bool(stored) and any(isinstance(e, SessionStarted) for e in itertools.islice(tracker.events, stored, None))
        await super().save(tracker)
        masked = tracker.__dict__.pop(MASKED, False)
        # After a new session Rasa loads only that session, and a tracker whose events were masked
        # for storage still holds the CPR number in memory: both are loaded from the database next time.
        if not restarted and not masked:
            self._remember(tracker)

    def _remember(self, tracker: DialogueStateTracker) -> None:
        table = self.SQLEvent.__table__
        with self.session_scope() as session:
            last_id = session.execute(sa.select(sa.func.max(table.c.id)).where(table.c.sender_id == tracker.sender_id)).scalar()
        if last_id is None:
            return
        tracker.__dict__[STORED] = len(tracker.events)
        self._recent[tracker.sender_id] = _Saved(tracker, len(tracker.events), int(last_id))
        while len(self._recent) > RECENT_TRACKERS:
            self._recent.popitem(last=False)

    def delete(self, sender_id: str) -> int:
        self._recent.pop(sender_id, None)
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            session.commit()
        return int(deleted)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        stored = tracker.__dict__.get(STORED)
        unsaved = itertools.islice(tracker.events, stored, None) if stored is not None else super()._additional_events(session, tracker)
        for event in unsaved:
            data = event.as_dict()
            clean = scrub(data)
            if clean != data:
                tracker.__dict__[MASKED] = True
            yield event if clean == data else Event.from_parameters(clean)
