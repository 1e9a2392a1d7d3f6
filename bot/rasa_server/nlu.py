"""NLU components of our own, referenced by dotted path in config.yml (bot.rasa_server.nlu.<Class>)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable, Dict, List

import joblib
import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.utils import spacy_utils
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language.text import fold, other_script_words, stem
from bot.rasa_server import spacy_pipeline

log = logging.getLogger(__name__)


def _stored(model_storage: ModelStorage, resource: Resource, filename: str, read: Callable[[Path], Any], default: Any) -> Any:
    """A file a component wrote in training, read back; `default` when training stored nothing."""
    try:
        with model_storage.read_from(resource) as directory:
            return read(directory / filename)
    except ValueError:
        return default


def _set_intent(message: Message, ranking: List[Dict[str, Any]]) -> None:
    """The message's intent becomes the first of `ranking`, and `ranking` its intent ranking."""
    message.set(INTENT, ranking[0], add_to_output=True)
    message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)


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
        target = spacy_pipeline.load_target()
        log.debug(spacy_pipeline.describe())  # `make run` and `make train` print it once for all processes
        loaded = cls.load_model(target)
        cls.ensure_proper_language_model(loaded.model)
        model = spacy_utils.SpacyModel(model=loaded.model, model_name=spacy_pipeline.identity())
        return cls(model, {**cls.get_default_config(), **config})

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> str | None:
        """Retrain when the pipeline changes, e.g. once da_core_news_sm gets installed."""
        return spacy_pipeline.identity()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class UnknownWordsFallback(GraphComponent, IntentClassifier):
    """Predicts nlu_fallback for messages made mostly of words the training data never used.

    A classifier gives some intent a high confidence even for keyboard mashing ("asdfgh qwerty"),
    so a low-confidence threshold alone lets nonsense through as, say, an emergency. A
    word counts as known when it (or a one-letter typo of it) occurs in the training
    examples, the lookup tables or the synonyms, after æ/ø/å folding, or differs from such a
    word by one missing or one extra letter.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"min_known_share": 0.34}

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, vocabulary: set[str] | None = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage, self._resource = model_storage, resource
        self._vocabulary = vocabulary or set()
        # A known word with one letter missing (from six letters on) still counts as known.
        self._shortened = {v[:i] + v[i + 1 :] for v in self._vocabulary if len(v) >= 6 for i in range(len(v))}

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext) -> UnknownWordsFallback:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary: set[str] = set()
        for example in training_data.training_examples:
            vocabulary.update(fold(token.text) for token in example.get(TOKENS_NAMES[TEXT]) or [])
        for table in training_data.lookup_tables:
            for element in table.get("elements") or []:
                vocabulary.update(fold(str(element)).split())
        for surface in training_data.entity_synonyms:
            vocabulary.update(fold(surface).split())
        vocabulary.discard("")
        with self._storage.write_to(self._resource) as directory:
            (directory / "vocabulary.json").write_text(json.dumps(sorted(vocabulary), ensure_ascii=False), encoding="utf-8")
        return self._resource

    @classmethod
    def load(
        cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext, **kwargs: Any
    ) -> UnknownWordsFallback:
        vocabulary = _stored(model_storage, resource, "vocabulary.json", lambda path: set(json.loads(path.read_text(encoding="utf-8"))), set())
        return cls(config, model_storage, resource, vocabulary)

    def _known(self, word: str) -> bool:
        if word in self._vocabulary or word in self._shortened:
            return True
        return len(word) >= 7 and any(word[:i] + word[i + 1 :] in self._vocabulary for i in range(len(word)))  # one letter too many

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if not self._vocabulary or intent.get(INTENT_NAME_KEY) in (None, DEFAULT_NLU_FALLBACK_INTENT_NAME) or message.get(ENTITIES):
                continue
            words = [w for token in message.get(TOKENS_NAMES[TEXT]) or [] for w in fold(token.text).split() if not w.isdigit()]
            if words and sum(self._known(w) for w in words) / len(words) < self._config["min_known_share"]:
                fallback = {INTENT_NAME_KEY: DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: 1.0}
                _set_intent(message, [fallback, *(message.get(INTENT_RANKING_KEY) or [])])
        return messages


def classifier_text(text: str) -> str:
    """What the linear classifier reads: the folded words, words in other alphabets, and each word's stem.

    Words in other alphabets are what tells "Я хочу бути волонтером" from an empty message;
    the stems ("s_frivillig") let "frivillige", "frivilligt" and "frivillighed" share evidence.
    """
    folded = fold(text)
    return " ".join([folded, *other_script_words(text), *(f"s_{stem(word)}" for word in folded.split())])


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class LinearIntentClassifier(GraphComponent, IntentClassifier):
    """A linear SVM on TF-IDF word and character n-grams of classifier_text(): the bot's intent classifier.

    On a few thousand short Danish examples DIET learned the training data by heart and
    generalised less well: in 5-fold cross-validation this classifier reached a clearly higher
    intent macro F1 (see README, "Measured"), and DIET was later removed altogether.
    The SVM's decision values become confidences through a softmax with a fixed temperature,
    chosen so that FallbackClassifier's threshold keeps its meaning: correct predictions come
    out near 1, unclear messages well below the threshold.
    """

    MODEL_FILE = "linear_intent_classifier.joblib"

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"C": 1.0, "temperature": 5.0, "char_ngrams": [2, 5], "word_ngrams": [1, 2], "ranking_length": 10, "random_seed": 4242}

    @staticmethod
    def required_packages() -> List[str]:
        return ["sklearn"]

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, model: Any = None) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage, self._resource, self._model = model_storage, resource, model

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext) -> LinearIntentClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline, make_union
        from sklearn.svm import LinearSVC

        examples = training_data.intent_examples
        labels = [str(example.get(INTENT)) for example in examples]
        if len(set(labels)) < 2:
            return self._resource  # nothing to tell apart; process() leaves the message as it is
        features = make_union(
            TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self._config["char_ngrams"]), sublinear_tf=True),
            TfidfVectorizer(analyzer="word", ngram_range=tuple(self._config["word_ngrams"]), sublinear_tf=True),
        )
        self._model = make_pipeline(features, LinearSVC(C=self._config["C"], random_state=self._config["random_seed"]))
        self._model.fit([classifier_text(str(example.get(TEXT) or "")) for example in examples], labels)
        with self._storage.write_to(self._resource) as directory:
            joblib.dump(self._model, directory / self.MODEL_FILE)
        return self._resource

    @classmethod
    def load(
        cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext, **kwargs: Any
    ) -> LinearIntentClassifier:
        return cls(config, model_storage, resource, _stored(model_storage, resource, cls.MODEL_FILE, joblib.load, None))

    def process(self, messages: List[Message]) -> List[Message]:
        if self._model is None or not messages:
            return messages
        texts = [classifier_text(str(message.get(TEXT) or "")) for message in messages]
        scores = np.asarray(self._model.decision_function(texts), dtype=float) * self._config["temperature"]
        if scores.ndim == 1:  # two intents: one decision value, for the second
            scores = np.stack([-scores, scores], axis=1)
        probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        classes = self._model.classes_
        for message, row in zip(messages, probabilities, strict=True):
            order = row.argsort()[::-1][: self._config["ranking_length"]]
            _set_intent(message, [{INTENT_NAME_KEY: str(classes[i]), PREDICTED_CONFIDENCE_KEY: float(row[i])} for i in order])
        return messages


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class CommandWords(GraphComponent, IntentClassifier):
    """Fixed words that always mean the same thing ("stop", "annuller"), whatever the classifier guesses.

    A citizen who wants out of a form must get out: the whole message has to be one of the
    configured phrases (after æ/ø/å folding), so longer sentences still go to the classifier.
    """

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"intents": {}}

    def __init__(self, config: Dict[str, Any]) -> None:
        self._phrases = {fold(phrase): intent for intent, phrases in (config.get("intents") or {}).items() for phrase in phrases}

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource, execution_context: ExecutionContext) -> CommandWords:
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            intent = self._phrases.get(fold(str(message.get(TEXT) or "")))
            if intent:
                command = {INTENT_NAME_KEY: intent, PREDICTED_CONFIDENCE_KEY: 1.0}
                _set_intent(message, [command, *(r for r in message.get(INTENT_RANKING_KEY) or [] if r.get(INTENT_NAME_KEY) != intent)])
        return messages
