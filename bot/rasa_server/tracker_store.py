"""Rasa's SQL tracker store, extended for data protection.

- CPR numbers are masked before any event is written.
- Database errors never show the statement's parameters (the citizen's messages).
- When a conversation's erasure slot (bot.conventions.ERASURE_SLOT) is set (the citizen confirmed
  "slet mine oplysninger"), its stored events are deleted instead of saved. This has
  to happen here, in Rasa's own save under the conversation lock: events deleted by
  anyone else in the middle of a turn would be written back by the next save.
"""

from __future__ import annotations

from typing import Any, Iterator

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conventions import ERASURE_SLOT
from bot.language.privacy import scrub


class ErasableSQLTrackerStore(SQLTrackerStore):
    """SQLTrackerStore that masks CPR numbers and honours erasure requests."""

    def __init__(self, host: str | None = None, **kwargs: Any) -> None:
        super().__init__(host=host, **kwargs)
        self.engine.hide_parameters = True  # a database error must not carry a citizen's message into the logs

    async def save(self, tracker: DialogueStateTracker) -> None:
        if tracker.get_slot(ERASURE_SLOT):
            self.delete(tracker.sender_id)
            return
        await super().save(tracker)

    def delete(self, sender_id: str) -> int:
        with self.session_scope() as session:
            deleted = session.query(self.SQLEvent).filter(self.SQLEvent.sender_id == sender_id).delete()
            session.commit()
        return int(deleted)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator[Event]:
        for event in super()._additional_events(session, tracker):
            data = event.as_dict()
            clean = scrub(data)
            yield event if clean == data else Event.from_parameters(clean)
