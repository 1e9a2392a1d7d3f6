"""NLU components of our own, referenced by dotted path in config.yml."""

from __future__ import annotations

from typing import Any, Dict

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.utils import spacy_utils

from bot import spacy_setup


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MODEL_LOADER, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
    model_from="SpacyNLP",
)
class SpacyNLP(spacy_utils.SpacyNLP):
    """Rasa's SpacyNLP, loading da_core_news_sm when installed and the saved fallback otherwise.

    The class must be called SpacyNLP: Rasa's recipe wires SpacyTokenizer and
    SpacyFeaturizer to their provider by the provider's class name.
    """

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SpacyNLP:
        target = spacy_setup.load_target()
        print(spacy_setup.describe(), flush=True)
        loaded = cls.load_model(target)
        cls.ensure_proper_language_model(loaded.model)
        model = spacy_utils.SpacyModel(model=loaded.model, model_name=spacy_setup.identity())
        return cls(model, {**cls.get_default_config(), **config})

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> str | None:
        """Retrain when the pipeline changes, e.g. once da_core_news_sm gets installed."""
        return spacy_setup.identity()
