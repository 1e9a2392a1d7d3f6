"""The tracker store masks CPR numbers before writing and deletes a conversation on request."""

from __future__ import annotations

from pathlib import Path

from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conventions import ERASURE_SLOT
from bot.rasa_server.tracker_store import ErasableSQLTrackerStore
from bot.settings import ROOT
from stack import stored_transcript


def store(tmp_path: Path) -> tuple[ErasableSQLTrackerStore, Domain, str]:
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    domain = Domain.load(str(ROOT / "domain.yml"))
    return ErasableSQLTrackerStore(host=url, domain=domain), domain, url


async def test_cpr_numbers_are_masked_before_they_are_written(tmp_path: Path) -> None:
    tracker_store, domain, url = store(tmp_path)
    tracker = DialogueStateTracker.from_events("citizen", [UserUttered("mit cpr er 010190-1234", {"name": "share_cpr", "confidence": 1.0})], domain.slots)
    await tracker_store.save(tracker)
    lines = stored_transcript(url, "citizen")
    assert lines[0]["text"] == "mit cpr er xxxxxx-xxxx"
    restored = await tracker_store.retrieve("citizen")
    assert restored is not None and "010190" not in str(restored.as_dialogue().as_dict())


async def test_an_erasure_request_deletes_the_stored_conversation(tmp_path: Path) -> None:
    tracker_store, domain, url = store(tmp_path)
    tracker = DialogueStateTracker.from_events("citizen", [UserUttered("hej", {"name": "greet", "confidence": 1.0})], domain.slots)
    await tracker_store.save(tracker)
    other = DialogueStateTracker.from_events("someone-else", [UserUttered("hej", {"name": "greet", "confidence": 1.0})], domain.slots)
    await tracker_store.save(other)
    tracker.update(UserUttered("slet mine oplysninger", {"name": "delete_data", "confidence": 1.0}))
    tracker.update(SlotSet(ERASURE_SLOT, True))
    await tracker_store.save(tracker)
    assert stored_transcript(url, "citizen") == []
    assert await tracker_store.retrieve("citizen") is None
    assert stored_transcript(url, "someone-else")
