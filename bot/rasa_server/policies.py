"""Dialogue policies: Rasa's TEDPolicy, with each prediction remembered for its dialogue state.

TED's prediction is a pure function of the featurized dialogue state: the last
`max_history` turns of intent, entities, slots, active loop and previous action, as
`prediction_states` builds them (without user text: this bot has no end-to-end
stories, so TED never reads the text). Every message asks TED twice or more, and
the model call costs about 5 ms on two cores, while real conversations pass through
a few hundred distinct states at most. So the prediction for a state is computed
once and then reused; the cache is bounded and exact (same state, same numbers).

The class keeps the name TEDPolicy: its events read `policy_2_TEDPolicy` as before,
and Rasa's recipe registers components by class name.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy as RasaTEDPolicy
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT

CACHE_SIZE = 20_000


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.POLICY_WITH_END_TO_END_SUPPORT, is_trainable=True)
class TEDPolicy(RasaTEDPolicy):
    """TEDPolicy whose predictions are cached by dialogue state when they depend on nothing else."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache: OrderedDict[str, PolicyPrediction] = OrderedDict()

    def _reads_text(self) -> bool:
        """True when the model was trained on user or bot text (end-to-end), so the state is not all it sees."""
        return self.only_e2e or any(TEXT in name for name in (self.fake_features or {}))

    def _state_key(self, tracker: DialogueStateTracker, domain: Domain, rule_only_data: dict[str, Any] | None) -> str:
        """The states TED featurizes (the same call and flags as Rasa's policy uses), as a canonical string."""
        return json.dumps(self._prediction_states(tracker, domain, rule_only_data=rule_only_data), sort_keys=True, default=repr)

    def predict_action_probabilities(
        self,
        tracker: DialogueStateTracker,
        domain: Domain,
        rule_only_data: dict[str, Any] | None = None,
        precomputations: Any = None,
        **kwargs: Any,
    ) -> PolicyPrediction:
        if self.model is None or self._reads_text():
            return super().predict_action_probabilities(tracker, domain, rule_only_data, precomputations, **kwargs)
        key = self._state_key(tracker, domain, rule_only_data)
        cached = self._cache.get(key)
        if cached is None:
            cached = super().predict_action_probabilities(tracker, domain, rule_only_data, precomputations, **kwargs)
            self._cache[key] = cached
            if len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return self._copy(cached)

    def _copy(self, prediction: PolicyPrediction) -> PolicyPrediction:
        """A fresh prediction object, so that nothing downstream can change the cached one."""
        probabilities: list[float] = list(prediction.probabilities)
        return self._prediction(
            probabilities,
            events=list(prediction.events),
            optional_events=list(prediction.optional_events),
            is_end_to_end_prediction=prediction.is_end_to_end_prediction,
            is_no_user_prediction=prediction.is_no_user_prediction,
            diagnostic_data=prediction.diagnostic_data,
            action_metadata=prediction.action_metadata,
        )
