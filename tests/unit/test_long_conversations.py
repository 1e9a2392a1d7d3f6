"""A long conversation costs no more per message than a short one, and gives what Rasa's own code gives.

The speed-ups continue the dialogue states and the applied events from where they were
(bot.rasa_server.speedups), and the tracker store reads only the rows stored since it saved
a conversation (bot.rasa_server.tracker_store). Each is compared here with Rasa's own code,
step by step, on conversations with forms, undone turns, restarts and new sessions, and
with a second Rasa instance and the dashboard writing to the same database.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    FollowupAction,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conventions import ERASURE_SLOT
from bot.rasa_server import speedups
from bot.rasa_server.tracker_store import ErasableSQLTrackerStore
from bot.settings import ROOT
from bot.store import conversations

DOMAIN = Domain.load(str(ROOT / "domain.yml"))
FORMS = list(DOMAIN.form_names)
RULE_ONLY = {"slots": ["requested_slot", "signup_now"], "loops": FORMS[:1]}
STATE_ARGUMENTS: list[dict[str, Any]] = [
    {},
    {"omit_unset_slots": True},
    {"ignore_rule_only_turns": True, "rule_only_data": RULE_ONLY},
]


def random_event(rng: random.Random, t: float) -> Event:
    """An event as a conversation with our domain has them, forms and undone turns included."""
    intents = DOMAIN.intents
    actions = [a for a in DOMAIN.action_names_or_texts if a]
    slots = [s.name for s in DOMAIN.slots]
    kind = rng.choices(
        ["user", "action", "form_action", "listen", "bot", "slot", "loop", "loop_off", "user_revert", "action_revert", "restart", "session", "followup"],
        weights=[12, 10, 6, 10, 6, 8, 3, 2, 1, 1, 0.3, 0.3, 0.5],
    )[0]
    if kind == "user":
        intent = rng.choice(intents)
        return UserUttered(f"besked {t}", {"name": intent, "confidence": rng.random()}, timestamp=t)
    if kind == "action":
        return ActionExecuted(rng.choice(actions), hide_rule_turn=rng.random() < 0.3, timestamp=t)
    if kind == "form_action":
        return ActionExecuted(rng.choice(FORMS), hide_rule_turn=rng.random() < 0.3, timestamp=t)
    if kind == "listen":
        return ActionExecuted("action_listen", timestamp=t)
    if kind == "bot":
        return BotUttered("svar", timestamp=t)
    if kind == "slot":
        return SlotSet(rng.choice(slots), rng.choice([None, "ja", True, 3.0, ["vejviser"]]), timestamp=t)
    if kind == "loop":
        return ActiveLoop(rng.choice(FORMS), timestamp=t)
    if kind == "loop_off":
        return ActiveLoop(None, timestamp=t)
    if kind == "user_revert":
        return UserUtteranceReverted(timestamp=t)
    if kind == "action_revert":
        return ActionReverted(timestamp=t)
    if kind == "restart":
        return Restarted(timestamp=t)
    if kind == "session":
        return SessionStarted(timestamp=t)
    return FollowupAction(rng.choice(FORMS), timestamp=t)


@pytest.mark.parametrize("seed", range(24))
def test_states_and_applied_events_are_rasas_after_every_event(seed: int) -> None:
    rng = random.Random(seed)
    tracker = DialogueStateTracker.from_events(f"c{seed}", [], DOMAIN.slots)
    for step in range(70):
        tracker.update(random_event(rng, float(step)))
        ours, rasas = speedups._applied_events(tracker), speedups.ORIGINAL_APPLIED_EVENTS(tracker)
        assert len(ours) == len(rasas) and all(a is b for a, b in zip(ours, rasas, strict=True)), f"applied events differ after {step} events"
        if step % 3 == 0 or step == 69:
            for arguments in STATE_ARGUMENTS:
                expected = speedups.ORIGINAL_STATES_FOR_TRACKER_HISTORY(DOMAIN, tracker, **arguments)
                assert speedups._states_for_tracker_history(DOMAIN, tracker, **arguments) == expected, (step, arguments)


def test_changing_the_states_given_out_changes_nothing_kept() -> None:
    """Rasa's featurizers delete keys from the states they get; the next call must not see that."""
    rng = random.Random(7)
    tracker = DialogueStateTracker.from_events("c", [random_event(rng, float(t)) for t in range(40)], DOMAIN.slots)
    first = speedups._states_for_tracker_history(DOMAIN, tracker)
    for state in first:
        for sub_state in state.values():
            sub_state.clear()  # type: ignore[attr-defined]
    assert speedups._states_for_tracker_history(DOMAIN, tracker) == speedups.ORIGINAL_STATES_FOR_TRACKER_HISTORY(DOMAIN, tracker)


async def test_the_action_server_gets_the_bytes_rasa_would_send() -> None:
    """After every event, and when the latest message changes in its turn (EntitiesAdded) or an event gets new metadata."""
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.core.events import EntitiesAdded
    from rasa.utils.endpoints import EndpointConfig

    action = RemoteAction("action_answer", EndpointConfig("http://127.0.0.1:1/webhook"))
    rng = random.Random(11)
    tracker = DialogueStateTracker.from_events("c", [], DOMAIN.slots)

    def same() -> bool:
        rasas = json.dumps(speedups.ORIGINAL_ACTION_CALL_FORMAT(action, tracker, DOMAIN))
        return speedups._dumps(speedups._action_call_format(action, tracker, DOMAIN)) == rasas

    for step in range(60):
        tracker.update(random_event(rng, float(step)))
        assert same(), step
    tracker.update(UserUttered("jeg bor i Næstved", {"name": "inform", "confidence": 1.0}, timestamp=100.0))
    assert same()
    tracker.update(EntitiesAdded([{"entity": "municipality", "value": "Næstved", "start": 10, "end": 17}], timestamp=101.0))
    assert same()
    tracker.model_id = "another-model"
    moved = list(tracker.events)[3]
    tracker.update(moved)  # an event added again gets the tracker's model id in its metadata
    assert same()
    async with speedups._session(action.action_endpoint) as session:
        assert session._json_serialize is speedups._dumps  # aiohttp encodes `json=` with it


# --- the tracker store --------------------------------------------------------------------


def turn(n: int) -> list[Event]:
    t = float(n * 10)
    return [
        UserUttered(f"spørgsmål {n}", {"name": "greet", "confidence": 1.0}, timestamp=t + 1),
        ActionExecuted("utter_greet", timestamp=t + 2),
        BotUttered(f"svar {n}", timestamp=t + 3),
        SlotSet("name", f"Navn {n}", timestamp=t + 4),
        ActionExecuted("action_listen", timestamp=t + 5),
    ]


def stores(tmp_path: Path) -> tuple[str, ErasableSQLTrackerStore, ErasableSQLTrackerStore, SQLTrackerStore]:
    """Two Rasa instances with our store and Rasa's own store, on one database."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    return url, ErasableSQLTrackerStore(host=url, domain=DOMAIN), ErasableSQLTrackerStore(host=url, domain=DOMAIN), SQLTrackerStore(host=url, domain=DOMAIN)


def dumped(tracker: DialogueStateTracker | None) -> list[dict[str, Any]]:
    assert tracker is not None
    return [e.as_dict() for e in tracker.events]


async def say(store: ErasableSQLTrackerStore, sender: str, n: int) -> DialogueStateTracker:
    """One message as Rasa handles it: load, add the turn's events, save."""
    tracker = await store.retrieve(sender) or DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen", timestamp=0.5)], DOMAIN.slots)
    for event in turn(n):
        tracker.update(event)
    await store.save(tracker)
    return tracker


async def test_a_known_conversation_is_continued_not_reloaded_and_stored_once(tmp_path: Path) -> None:
    _, ours, _, rasas = stores(tmp_path)
    tracker = None
    for n in range(30):
        tracker = await say(ours, "citizen", n)
    again = await ours.retrieve("citizen")
    assert again is tracker  # no rebuild from 151 stored events
    assert dumped(again) == dumped(await rasas.retrieve("citizen"))
    assert len(dumped(await rasas.retrieve_full_tracker("citizen"))) == 1 + 30 * 5  # every event stored once


async def test_what_another_instance_stored_is_read(tmp_path: Path) -> None:
    _, first, second, rasas = stores(tmp_path)
    for n in range(6):
        await say(first if n % 2 == 0 else second, "citizen", n)  # the conversation alternates between instances
    assert dumped(await first.retrieve("citizen")) == dumped(await rasas.retrieve("citizen"))
    assert dumped(await second.retrieve("citizen")) == dumped(await rasas.retrieve("citizen"))
    assert len(dumped(await rasas.retrieve_full_tracker("citizen"))) == 1 + 6 * 5


async def test_a_conversation_deleted_elsewhere_is_not_brought_back(tmp_path: Path) -> None:
    url, ours, other, rasas = stores(tmp_path)
    for n in range(3):
        await say(ours, "citizen", n)
    assert conversations.delete(url, "citizen") > 0  # the dashboard erased it
    assert await ours.retrieve("citizen") is None
    await say(other, "citizen", 7)  # the same sender starts again on the other instance
    assert dumped(await ours.retrieve("citizen")) == dumped(await rasas.retrieve("citizen"))
    assert "spørgsmål 0" not in str(dumped(await ours.retrieve("citizen")))


async def test_changes_that_were_not_saved_are_forgotten(tmp_path: Path) -> None:
    _, ours, _, rasas = stores(tmp_path)
    tracker = await say(ours, "citizen", 0)
    tracker.update(UserUttered("aldrig gemt", {"name": "greet", "confidence": 1.0}, timestamp=99.0))  # the turn failed before its save
    assert dumped(await ours.retrieve("citizen")) == dumped(await rasas.retrieve("citizen"))
    assert "aldrig gemt" not in str(dumped(await ours.retrieve("citizen")))


async def test_a_new_session_is_loaded_alone_as_rasa_loads_it(tmp_path: Path) -> None:
    _, ours, _, rasas = stores(tmp_path)
    tracker = None
    for n in range(3):
        tracker = await say(ours, "citizen", n)
    assert tracker is not None
    for event in [ActionExecuted("action_session_start", timestamp=100.0), SessionStarted(timestamp=100.1), ActionExecuted("action_listen", timestamp=100.2)]:
        tracker.update(event)
    await ours.save(tracker)
    assert dumped(await ours.retrieve("citizen")) == dumped(await rasas.retrieve("citizen"))
    assert len(dumped(await ours.retrieve("citizen"))) == 2  # session_started and action_listen, as Rasa loads it


async def test_an_erasure_request_deletes_and_forgets(tmp_path: Path) -> None:
    _, ours, _, rasas = stores(tmp_path)
    tracker = await say(ours, "citizen", 0)
    tracker.update(SlotSet(ERASURE_SLOT, True, timestamp=50.0))
    await ours.save(tracker)
    assert await ours.retrieve("citizen") is None and await rasas.retrieve("citizen") is None


async def test_a_cpr_number_is_not_kept_in_memory_after_it_was_masked_for_storage(tmp_path: Path) -> None:
    _, ours, _, _ = stores(tmp_path)
    tracker = await say(ours, "citizen", 0)
    tracker.update(UserUttered("mit cpr er 010190-1234", {"name": "share_cpr", "confidence": 1.0}, timestamp=60.0))
    await ours.save(tracker)
    again = await ours.retrieve("citizen")
    assert again is not tracker and "010190" not in str(dumped(again))
    await say(ours, "citizen", 9)
    assert "010190" not in str(dumped(await ours.retrieve("citizen")))
