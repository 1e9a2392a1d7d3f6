"""Two measured speed-ups for Rasa 3.6, installed where the Rasa process starts (profiled with py-spy).

- Rasa validates every action server response with `jsonschema.validate(result, schema)`,
  which re-checks the schema itself against the JSON-Schema meta-schema each time: about
  40 ms of every custom-action turn. Here the same schema is compiled into a validator once
  and the response is validated exactly as before: same schema, same errors, same message.
- Loading a tracker turns each stored event into an Event by searching all Event subclasses
  (`Event.resolve_by_type`), for every event of every message. The subclasses are fixed once
  Rasa is imported, so the lookup table is built once; unknown names still go the old way.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Dict

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

# Rasa's own code, kept for the fallback and for the tests that compare (tests/unit/test_rasa_patches.py).
ORIGINAL_VALIDATE_ACTION_RESULT = RemoteAction._validate_action_result
ORIGINAL_RESOLVE_BY_TYPE = Event.resolve_by_type


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


def apply() -> None:
    """Install both in this process; bot/rasa_server/main.py does it where the Rasa process starts."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(_resolve_by_type)  # type: ignore[method-assign,assignment]
