"""TEDPolicy with predictions cached by dialogue state: the same numbers as Rasa's, computed once per state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rasa.core.policies.ted_policy import TEDPolicy as RasaTEDPolicy
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph

from bot.rasa_server.policies import TEDPolicy

DOMAIN = """
version: "3.1"
intents: [greet, ask_pay, thank]
responses:
  utter_greet: [{text: "Hej!"}]
  utter_pay: [{text: "Nej, det er ulønnet."}]
  utter_thank: [{text: "Selv tak."}]
"""

STORIES = """
version: "3.1"
stories:
  - story: greet then pay
    steps:
      - intent: greet
      - action: utter_greet
      - intent: ask_pay
      - action: utter_pay
      - intent: thank
      - action: utter_thank
  - story: pay first
    steps:
      - intent: ask_pay
      - action: utter_pay
"""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[TEDPolicy, Domain]:
    domain = Domain.from_yaml(DOMAIN)
    steps = YAMLStoryReader(domain).read_from_string(STORIES)
    trackers = TrainingDataGenerator(StoryGraph(steps), domain, augmentation_factor=0).generate()
    storage = LocalModelStorage(tmp_path_factory.mktemp("ted"))
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    config = {**TEDPolicy.get_default_config(), "epochs": 2, "random_seed": 1, "constrain_similarities": True}
    policy = TEDPolicy.create(config, storage, Resource("ted"), context)
    policy.train(trackers, domain)
    return policy, domain


def conversation(*intents: str) -> DialogueStateTracker:
    responses = {"greet": "utter_greet", "ask_pay": "utter_pay", "thank": "utter_thank"}
    events: list[Any] = [ActionExecuted("action_listen")]
    for i, intent in enumerate(intents):
        events.append(UserUttered(f"besked {i}", intent={"name": intent, "confidence": 1.0}))
        if i < len(intents) - 1:
            events += [ActionExecuted(responses[intent]), ActionExecuted("action_listen")]
    return DialogueStateTracker.from_events(f"test-{'-'.join(intents)}", events)


def test_predictions_equal_rasas_own(trained: tuple[TEDPolicy, Domain]) -> None:
    policy, domain = trained
    for intents in (["greet"], ["ask_pay"], ["greet", "ask_pay"], ["greet", "ask_pay", "thank"]):
        tracker = conversation(*intents)
        ours = policy.predict_action_probabilities(tracker, domain)
        rasas = RasaTEDPolicy.predict_action_probabilities(policy, tracker, domain)
        assert ours.probabilities == pytest.approx(rasas.probabilities)
        assert ours.policy_name == "TEDPolicy"


def test_the_model_runs_once_per_dialogue_state(trained: tuple[TEDPolicy, Domain], monkeypatch: pytest.MonkeyPatch) -> None:
    policy, domain = trained
    policy._cache.clear()
    calls: list[int] = []
    run_inference = policy.model.run_inference
    monkeypatch.setattr(policy.model, "run_inference", lambda data: calls.append(1) or run_inference(data))
    # Two citizens with different words but the same dialogue state share one model call.
    first = policy.predict_action_probabilities(conversation("greet", "ask_pay"), domain)
    second = policy.predict_action_probabilities(conversation("greet", "ask_pay"), domain)
    assert len(calls) == 1 and first.probabilities == second.probabilities
    policy.predict_action_probabilities(conversation("ask_pay"), domain)
    assert len(calls) == 2


def test_a_changed_prediction_does_not_change_the_cache(trained: tuple[TEDPolicy, Domain]) -> None:
    policy, domain = trained
    first = policy.predict_action_probabilities(conversation("thank"), domain)
    expected = list(first.probabilities)
    first.probabilities[0] = 99.0
    assert policy.predict_action_probabilities(conversation("thank"), domain).probabilities == expected


def test_the_cache_is_bounded(trained: tuple[TEDPolicy, Domain], monkeypatch: pytest.MonkeyPatch) -> None:
    policy, domain = trained
    monkeypatch.setattr("bot.rasa_server.policies.CACHE_SIZE", 2)
    policy._cache.clear()
    for intents in (["greet"], ["ask_pay"], ["thank"], ["greet", "ask_pay"]):
        policy.predict_action_probabilities(conversation(*intents), domain)
    assert len(policy._cache) == 2


def test_persisted_and_loaded_it_still_caches(trained: tuple[TEDPolicy, Domain], tmp_path: Path) -> None:
    policy, domain = trained
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    loaded = TEDPolicy.load(policy.config, policy._model_storage, policy._resource, context)
    assert isinstance(loaded, TEDPolicy) and loaded._cache == {}
    tracker = conversation("greet")
    assert loaded.predict_action_probabilities(tracker, domain).probabilities == pytest.approx(
        policy.predict_action_probabilities(tracker, domain).probabilities
    )
    assert len(loaded._cache) == 1
