"""Five measured speed-ups for Rasa 3.6, installed where the Rasa process starts (profiled with py-spy).

- Rasa validates every action server response with `jsonschema.validate(result, schema)`,
  which re-checks the schema itself against the JSON-Schema meta-schema each time: about
  40 ms of every custom-action turn. Here the same schema is compiled into a validator once
  and the response is validated exactly as before: same schema, same errors, same message.
- Loading a tracker turns each stored event into an Event by searching all Event subclasses
  (`Event.resolve_by_type`), for every event of every message. The subclasses are fixed once
  Rasa is imported, so the lookup table is built once; unknown names still go the old way.
- Every policy, at every prediction of every message, turns the whole conversation into
  dialogue states by replaying it from its first event (`Domain.states_for_tracker_history`):
  12 ms each time at 300 messages, several times per message. A conversation only grows, so the
  states of its past stay what they were: they are kept with the tracker and only the events
  added since are replayed. Anything else (an undone event, another domain or other
  arguments) computes them afresh, and callers get copies they may change, as before.
  The events that count (`DialogueStateTracker.applied_events`, without undone ones) are
  continued the same way, unless a form appears that was not in the conversation before:
  that changes how the earlier events count, so they are counted afresh.
- Every custom action gets the whole conversation as JSON, encoded afresh each time: 18 ms
  per action at 300 messages. An event before the latest user message does not change any
  more, so its JSON is kept with it and reused; the request's bytes are the same as before.
"""

from __future__ import annotations

import itertools
import json
import uuid
from functools import cache
from typing import Any, Dict

import rasa
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core import constants as core_constants
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, ActionReverted, ActiveLoop, Event, Restarted, SessionStarted, UserUtteranceReverted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig

# Rasa's own code, kept for the fallback and for the tests that compare (tests/unit/test_rasa_patches.py).
ORIGINAL_VALIDATE_ACTION_RESULT = RemoteAction._validate_action_result
ORIGINAL_RESOLVE_BY_TYPE = Event.resolve_by_type
ORIGINAL_STATES_FOR_TRACKER_HISTORY = Domain.states_for_tracker_history
ORIGINAL_APPLIED_EVENTS = DialogueStateTracker.applied_events
ORIGINAL_ACTION_CALL_FORMAT = RemoteAction._action_call_format
ORIGINAL_SESSION = EndpointConfig.session


@cache
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    return validator_for(schema)(schema)


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    try:
        _validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise e


@cache
def _event_classes() -> Dict[str, Any]:
    classes: Dict[str, Any] = {}
    for cls in all_subclasses(Event):
        classes.setdefault(cls.type_name, cls)  # the first match wins, as in Rasa's loop
    return classes


def _resolve_by_type(type_name: str, default: Any = None) -> Any:
    found = _event_classes().get(type_name)
    return found if found is not None else ORIGINAL_RESOLVE_BY_TYPE(type_name, default)


class _States:
    """Rasa's loop in `Domain.states_for_tracker_history`, stopped after the events seen so far and resumable."""

    def __init__(self, domain: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool, ignore_rule_only_turns: bool, rule_only_data: Any) -> None:
        self.domain, self.omit_unset_slots, self.ignore_rule_only_turns, self.rule_only_data = domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data
        self.replayed: list[Event] = []
        self.replay = tracker.init_copy()
        self.states: list[State] = []
        self.last_ml_action_sub_state: Any = None
        self.turn_was_hidden = False

    def continues(self, applied: list[Event]) -> bool:
        done = self.replayed
        return len(applied) >= len(done) and all(a is b for a, b in zip(applied, done, strict=False))

    def _step(self, tracker: DialogueStateTracker, hide_rule_turn: bool, states: list[State], memory: list[Any]) -> None:
        """One pass of Rasa's loop body; `memory` holds its two running variables."""
        domain = self.domain
        last_ml_action_sub_state, turn_was_hidden = memory
        if self.ignore_rule_only_turns:
            if not turn_was_hidden:
                last_ml_action_sub_state = domain._get_prev_action_sub_state(tracker)
            if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
                turn_was_hidden = hide_rule_turn
            if turn_was_hidden:
                memory[:] = [last_ml_action_sub_state, turn_was_hidden]
                return
        state = domain.get_active_state(tracker, omit_unset_slots=self.omit_unset_slots)
        if self.ignore_rule_only_turns:
            domain._remove_rule_only_features(state, self.rule_only_data)
            if states:
                domain._substitute_rule_only_user_input(state, states[-1])
            if last_ml_action_sub_state:
                state[core_constants.PREVIOUS_ACTION] = last_ml_action_sub_state
        states.append(domain._clean_state(state))
        memory[:] = [last_ml_action_sub_state, turn_was_hidden]

    def of(self, applied: list[Event]) -> list[State]:
        memory = [self.last_ml_action_sub_state, self.turn_was_hidden]
        for event in applied[len(self.replayed) :]:
            if isinstance(event, ActionExecuted):
                self._step(self.replay, event.hide_rule_turn, self.states, memory)
            self.replay.update(event)
            self.replayed.append(event)
        self.last_ml_action_sub_state, self.turn_was_hidden = memory
        # The state after the last event depends on everything so far: it is computed each time and not kept.
        states = [_copy_state(state) for state in self.states]
        kept = len(states)
        self._step(self.replay, False, states, memory)
        if len(states) > kept:  # its parts may be the replay's own (latest_action): the caller gets a copy of them too
            states[-1] = _copy_state(states[-1])
        return states


def _copy_state(state: State) -> State:
    return {key: dict(sub_state) for key, sub_state in state.items()}  # type: ignore[misc]


def _states_for_tracker_history(
    self: Domain,
    tracker: DialogueStateTracker,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Any = None,
) -> list[State]:
    key = (omit_unset_slots, ignore_rule_only_turns, repr(rule_only_data))
    kept: dict[Any, _States] = tracker.__dict__.setdefault("_frivillig_states", {})
    applied = tracker.applied_events()
    progress = kept.get(key)
    if progress is None or progress.domain is not self or not progress.continues(applied):
        progress = kept[key] = _States(self, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    return progress.of(applied)


class _Applied:
    """Rasa's loop in `DialogueStateTracker.applied_events` over the first `seen` events, resumable while no new form appears."""

    def __init__(self) -> None:
        self.seen = 0
        self.first: Event | None = None
        self.last: Event | None = None
        self.loop_names: set[str] = set()
        self.applied: list[Event] = []

    def continues(self, events: Any) -> bool:
        if self.seen == 0:
            return True
        return len(events) >= self.seen and events[0] is self.first and events[self.seen - 1] is self.last

    def of(self, tracker: DialogueStateTracker) -> list[Event] | None:
        events = tracker.events
        new = list(itertools.islice(events, self.seen, None))
        if any(isinstance(e, ActiveLoop) and e.name and e.name not in self.loop_names for e in new):
            if self.seen:
                return None  # a new form changes how earlier executions of it count
            self.loop_names = {e.name for e in new if isinstance(e, ActiveLoop) and e.name}
        applied = self.applied
        for event in new:  # Rasa's loop body, unchanged
            if isinstance(event, (Restarted, SessionStarted)):
                applied = []
            elif isinstance(event, ActionReverted):
                tracker._undo_till_previous(ActionExecuted, applied)
            elif isinstance(event, UserUtteranceReverted):
                tracker._undo_till_previous(UserUttered, applied)
                tracker._undo_till_previous(ActionExecuted, applied)
            elif (
                isinstance(event, ActionExecuted)
                and event.action_name in self.loop_names
                and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
            ):
                tracker._undo_till_previous_loop_execution(event.action_name, applied)
            else:
                applied.append(event)
        self.applied = applied
        if new:
            self.seen, self.first, self.last = len(events), events[0], new[-1]
        return list(applied)


def _applied_events(self: DialogueStateTracker) -> list[Event]:
    progress = self.__dict__.get("_frivillig_applied")
    if progress is None or not progress.continues(self.events):
        progress = self.__dict__["_frivillig_applied"] = _Applied()
    applied = progress.of(self)
    if applied is None:
        progress = self.__dict__["_frivillig_applied"] = _Applied()
        applied = progress.of(self)
    return applied  # type: ignore[return-value]


# Stands for the events in the request until they are spliced in; random, so no message can contain it.
_EVENTS_MARK = json.dumps(f"frivillig-events-{uuid.uuid4().hex}")
_JSON = "_frivillig_json"


class _ActionCall(dict):  # type: ignore[type-arg]
    """Rasa's request to the action server, its events already encoded one by one."""

    encoded_events: list[str]


def _encoded(event: Event, keep: bool) -> str:
    kept = event.__dict__.get(_JSON)
    if kept is not None and kept[0] is event.metadata:  # Tracker.update gives an event new metadata: then it is encoded again
        return str(kept[1])
    text = json.dumps(event.as_dict())
    if keep:
        event.__dict__[_JSON] = (event.metadata, text)
    return text


def _action_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Domain) -> dict[str, Any]:
    """Rasa's RemoteAction._action_call_format, with the events left to _dumps."""
    state = tracker.current_state(EventVerbosity.NONE)  # all of current_state(ALL) but the events
    state["events"] = json.loads(_EVENTS_MARK)
    call = _ActionCall({"next_action": self._name, "sender_id": tracker.sender_id, "tracker": state, "version": rasa.__version__})
    if not self._is_selective_domain_enabled() or domain.does_custom_action_explicitly_need_domain(self.name()):
        call["domain"] = domain.as_dict()
    events = list(tracker.events)
    # The latest user message and what follows may still change in this turn (EntitiesAdded, featurization flags).
    settled = next((i for i in range(len(events) - 1, -1, -1) if isinstance(events[i], UserUttered)), 0)
    call.encoded_events = [_encoded(event, keep=i < settled) for i, event in enumerate(events)]
    return call


def _dumps(value: Any) -> str:
    text = json.dumps(value)
    if isinstance(value, _ActionCall):
        text = text.replace(_EVENTS_MARK, "[" + ", ".join(value.encoded_events) + "]", 1)
    return text


def _session(self: EndpointConfig) -> Any:
    session = ORIGINAL_SESSION(self)
    session._json_serialize = _dumps  # what aiohttp encodes `json=` with (ClientSession(json_serialize=...))
    return session


def apply() -> None:
    """Install all five in this process; bot/rasa_server/main.py does it where the Rasa process starts."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign,assignment]
    Domain.states_for_tracker_history = _states_for_tracker_history  # type: ignore[method-assign]
    DialogueStateTracker.applied_events = _applied_events  # type: ignore[method-assign]
    RemoteAction._action_call_format = _action_call_format  # type: ignore[method-assign]
    EndpointConfig.session = _session  # type: ignore[method-assign]
