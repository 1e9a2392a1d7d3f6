"""Where our code reaches into Rasa, it gives exactly what Rasa's own code gives, on the Rasa we checked.

The cached TEDPolicy has its own tests (test_policies.py); here are the version check, the
speed-ups, the SpacyNLP subclass, the tracker store subclass and the `events` table the
dashboard reads without importing Rasa.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.tracker_store import SQLTrackerStore
from rasa.nlu.constants import SPACY_DOCS
from rasa.nlu.utils import spacy_utils
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.common import all_subclasses

from bot.rasa_server import CHECKED_RASA, UncheckedRasaVersion, check_rasa_version, spacy_pipeline, speedups
from bot.rasa_server.nlu import SpacyNLP
from bot.rasa_server.tracker_store import ErasableSQLTrackerStore
from bot.settings import ROOT
from bot.store import conversations


def test_the_installed_rasa_is_one_the_patches_were_checked_against() -> None:
    assert importlib.metadata.version("rasa") in CHECKED_RASA
    check_rasa_version()


def test_another_rasa_version_is_refused_with_a_clear_message() -> None:
    with pytest.raises(UncheckedRasaVersion) as refused:
        check_rasa_version("3.7.0")
    assert "Rasa 3.7.0 is installed" in str(refused.value.code) and "3.6.21" in str(refused.value.code)


def test_the_rasa_process_does_not_start_on_another_version() -> None:
    """`python -m bot rasa ...` as make run starts it, with the installed Rasa reporting another version."""
    script = (
        "import importlib.metadata as m, sys\n"
        "real = m.version\n"
        "m.version = lambda name: '3.7.0' if name == 'rasa' else real(name)\n"
        "from bot.cli import main\n"
        "sys.exit(main(['rasa', 'run', '--help']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert "error: Rasa 3.7.0 is installed" in proc.stderr and "Traceback" not in proc.stderr


ACTION_RESULTS = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "name", "value": "Mette"}], "responses": [{"text": "Hej", "buttons": [{"title": "Ja", "payload": "/affirm"}]}]},
    {"events": [{"event": "followup", "name": "signup_form"}], "responses": [{"response": "utter_greet", "name": "x"}]},
    {"events": "not a list", "responses": []},
    {"events": [{"no_event_key": 1}], "responses": []},
    {"events": [], "responses": [42]},
    {"responses": []},
    {},
]


@pytest.mark.parametrize("result", ACTION_RESULTS)
def test_action_results_are_validated_as_rasa_validates_them(result: dict[str, Any]) -> None:
    action = RemoteAction("action_x", None)

    def outcome(validate: Any) -> tuple[str, str]:
        try:
            return "valid", str(validate(action, result))
        except ValidationError as exc:
            return "invalid", exc.message

    assert outcome(speedups._validate_action_result) == outcome(speedups.ORIGINAL_VALIDATE_ACTION_RESULT)


def test_every_event_type_resolves_to_rasas_own_class() -> None:
    def outcome(resolve: Any, name: str, default: Any) -> Any:
        try:
            return resolve(name, default)
        except ValueError as exc:
            return str(exc)

    names = {cls.type_name for cls in all_subclasses(Event)} | {"no_such_event", ""}
    for name in sorted(names):
        for default in (None, UserUttered):
            assert outcome(speedups._resolve_by_type, name, default) == outcome(speedups.ORIGINAL_RESOLVE_BY_TYPE, name, default), name


def test_the_events_table_the_dashboard_reads_is_rasas() -> None:
    ours, rasas = conversations.events, SQLTrackerStore.SQLEvent.__table__

    def shape(table: Any) -> list[tuple[Any, ...]]:
        return [(c.name, type(c.type), getattr(c.type, "length", None), c.nullable, bool(c.index), c.primary_key) for c in table.columns]

    assert ours.name == rasas.name and shape(ours) == shape(rasas)


def test_our_spacy_nlp_gives_what_rasas_gives() -> None:
    target = spacy_pipeline.load_target()
    ours = SpacyNLP.create({}, None, None, None)  # type: ignore[arg-type]
    rasas = spacy_utils.SpacyNLP(spacy_utils.SpacyNLP.load_model(target), {**spacy_utils.SpacyNLP.get_default_config(), "model": target})
    texts = ["Jeg vil gerne være frivillig på hospitalet i Århus!", "hvad laver en vågekone", "FÅR MAN LØN?"]

    def docs(component: Any) -> list[list[tuple[str, str, bool]]]:
        messages = [Message(data={TEXT: text}) for text in texts]
        component.process(messages, component.provide())
        return [[(t.text, t.lemma_, t.is_stop) for t in message.get(SPACY_DOCS[TEXT])] for message in messages]

    assert docs(ours) == docs(rasas)
    assert ours.provide().model_name == spacy_pipeline.identity()


async def test_the_tracker_store_stores_what_rasas_stores(tmp_path: Path) -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    events = [
        UserUttered("hej", {"name": "greet", "confidence": 1.0}, timestamp=1.0),
        ActionExecuted("utter_greet", timestamp=2.0),
        BotUttered("Hej!", timestamp=3.0),
        SlotSet("name", "Mette", timestamp=4.0),
    ]
    stored = []
    for cls, name in ((ErasableSQLTrackerStore, "ours"), (SQLTrackerStore, "rasas")):
        store = cls(host=f"sqlite:///{tmp_path / name}.db", domain=domain)
        await store.save(DialogueStateTracker.from_events("citizen", events, domain.slots))
        restored = await store.retrieve("citizen")
        assert restored is not None
        stored.append([e.as_dict() for e in restored.events])
    assert stored[0] == stored[1]
