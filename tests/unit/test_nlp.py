"""Our own NLU components, trained and loaded the way Rasa's graph does it."""

from __future__ import annotations

from pathlib import Path

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.rasa_server.nlu import CommandWords, LinearIntentClassifier, classifier_text

EXAMPLES = {
    "ask_pay": ["får man løn", "er det lønnet", "bliver jeg betalt", "hvad er lønnen", "får frivillige penge"],
    "ask_insurance": ["er jeg forsikret", "hvad med forsikring", "dækker forsikringen mig", "er frivillige forsikret", "forsikring ved uheld"],
    "greet": ["hej", "goddag", "hejsa", "god morgen", "halløj"],
    "other_language": ["Я хочу бути волонтером", "Ви говорите англійською", "مرحبا، هل تتكلم العربية", "أريد أن أكون متطوعا"],
}


def trained(tmp_path: Path) -> tuple[LinearIntentClassifier, LocalModelStorage, Resource]:
    storage, resource = LocalModelStorage(tmp_path), Resource("linear_intents")
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    classifier = LinearIntentClassifier.create(LinearIntentClassifier.get_default_config(), storage, resource, context)
    data = TrainingData([Message(data={TEXT: text, INTENT: intent}) for intent, texts in EXAMPLES.items() for text in texts])
    classifier.train(data)
    return classifier, storage, resource


def classify(classifier: LinearIntentClassifier, text: str) -> Message:
    message = Message(data={TEXT: text})
    classifier.process([message])
    return message


def test_the_linear_classifier_survives_persisting_and_reads_folded_spellings(tmp_path: Path) -> None:
    _, storage, resource = trained(tmp_path)
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    loaded = LinearIntentClassifier.load(LinearIntentClassifier.get_default_config(), storage, resource, context)
    message = classify(loaded, "faar man lon for det")  # no æ/ø/å, a typo
    assert message.get(INTENT)["name"] == "ask_pay"
    ranking = message.get(INTENT_RANKING_KEY)
    assert [r["name"] for r in ranking][0] == "ask_pay" and len(ranking) == len(EXAMPLES)
    assert abs(sum(r["confidence"] for r in ranking) - 1.0) < 1e-6 and ranking[0]["confidence"] > ranking[1]["confidence"]


def test_a_clear_message_is_confident_and_nonsense_is_not(tmp_path: Path) -> None:
    classifier, _, _ = trained(tmp_path)
    clear = classify(classifier, "er jeg forsikret som frivillig").get(INTENT)
    nonsense = classify(classifier, "qwxz").get(INTENT)
    assert clear["name"] == "ask_insurance" and clear["confidence"] > 0.8
    assert nonsense["confidence"] < clear["confidence"] - 0.2


def test_a_message_in_another_alphabet_is_read_not_dropped(tmp_path: Path) -> None:
    """fold() keeps only Latin letters; the classifier must still see Cyrillic and Arabic words."""
    assert "волонтером" in classifier_text("Я хочу бути волонтером").split()
    classifier, _, _ = trained(tmp_path)
    for text in ("Мені потрібна допомога, я хочу бути волонтером", "هل يمكنني التطوع في المستشفى"):
        assert classify(classifier, text).get(INTENT)["name"] == "other_language"


def test_inflected_forms_share_a_stem() -> None:
    """Inflected forms ("forsikring", "forsikringen") meet in one stem, whatever the spelling of æ/ø/å."""
    stems = {word for word in classifier_text("forsikringen dækker frivillige").split() if word.startswith("s_")}
    assert stems & {word for word in classifier_text("forsikring daekker frivilligt").split() if word.startswith("s_")} == stems


def test_without_training_data_the_earlier_intent_is_left_alone(tmp_path: Path) -> None:
    storage, resource = LocalModelStorage(tmp_path), Resource("empty")
    context = ExecutionContext(graph_schema=None, model_id="test")  # type: ignore[arg-type]
    classifier = LinearIntentClassifier.create({}, storage, resource, context)
    classifier.train(TrainingData([Message(data={TEXT: "hej", INTENT: "greet"})]))
    loaded = LinearIntentClassifier.load({}, storage, resource, context)  # training stored nothing
    for component in (classifier, loaded):
        message = Message(data={TEXT: "hej", INTENT: {"name": "greet", "confidence": 0.9}})
        component.process([message])
        assert message.get(INTENT) == {"name": "greet", "confidence": 0.9}


def test_command_words_win_only_as_the_whole_message() -> None:
    commands = CommandWords({"intents": {"cancel": ["annuller", "glem det"]}})
    whole, part = Message(data={TEXT: "Glem det"}), Message(data={TEXT: "glem det ikke, jeg vil gerne fortsætte"})
    commands.process([whole, part])
    assert whole.get(INTENT)["name"] == "cancel" and part.get(INTENT) is None
