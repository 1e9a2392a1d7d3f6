"""The knowledge base is complete, sourced and findable."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from bot.knowledge import Query, kb
from bot.knowledge.base import KNOWLEDGE
from bot.settings import ROOT

SEEDS = ROOT.parent / "shared" / "seeds"


def test_every_entry_cites_an_existing_source() -> None:
    knowledge = kb()
    for entry in [*knowledge.topics, *knowledge.opportunities, *knowledge.contacts.values()]:
        assert entry.source, entry
        assert all(s in knowledge.sources for s in entry.source), entry
    for source in knowledge.sources.values():
        if source.file:
            assert (SEEDS / source.file).exists() or not SEEDS.exists(), source


def test_each_intent_has_exactly_one_default_topic() -> None:
    defaults = Counter(t.intent for t in kb().topics if t.default)
    assert set(defaults.values()) == {1}
    assert set(defaults) == {t.intent for t in kb().topics}


def test_no_placeholder_braces_in_any_text() -> None:
    for path in KNOWLEDGE.glob("*.yml"):
        if path.name in ("privacy.yml",):
            continue
        assert not re.search(r"\{[a-z_]*\}", path.read_text(encoding="utf-8")), path


def test_every_interest_is_reachable_from_an_opportunity() -> None:
    knowledge = kb()
    assert {o.interest for o in knowledge.opportunities} <= {i.code for i in knowledge.interests}
    assert {i.code for i in knowledge.interests} - {o.interest for o in knowledge.opportunities} <= {"andet"}


def test_every_intent_has_a_label() -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
    assert set(domain["intents"]) <= set(kb().labels)


@pytest.mark.parametrize(
    ("intent", "question", "topic_fact"),
    [
        ("ask_strategy", "hvornår blev strategien vedtaget", "2016"),
        ("ask_sjaelland", "hvor mange frivillige er der i region sjaelland", "450"),
        ("ask_resources", "hvor mange frivilligcentre findes der", "65"),
        ("ask_specialsektor", "hvilke værdier har de", "lydhørhed"),
        ("ask_pay", "tjener man penge", "ulønnet"),
    ],
)
def test_best_topic_picks_the_entry_with_the_fact(intent: str, question: str, topic_fact: str) -> None:
    topic = kb().best_topic(intent, question)
    assert topic is not None and topic_fact.lower() in topic.answer.lower()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (Query(text="hospice i skive", places={"hospice"}, municipalities={"Skive"}), "hospicelimfjord"),
        (Query(text="noget med børn"), "urk_boern"),
        (Query(text="hvad er en vaagekone", roles={"vaagetjeneste"}), "vaagetjeneste"),
        (Query(text="café i viborg", roles={"cafe"}, municipalities={"Viborg"}), "cafe_viborg"),
    ],
)
def test_search_finds_the_opportunity(query: Query, expected: str) -> None:
    assert expected in [o.id for o in kb().search(query).matches]


def test_search_by_organisation_and_region() -> None:
    result = kb().search(Query(text="røde kors i sjælland", organisations={"roede_kors"}, regions={"sjaelland"}))
    assert result.matches and all("sjaelland" in o.regions for o in result.matches)


def test_a_region_without_sources_gives_no_invented_matches() -> None:
    result = kb().search(Query(text="frivillig i odense", municipalities={"Odense"}))
    assert result.region == "syddanmark" and result.matches == []


def test_interests_from_free_text() -> None:
    assert kb().interests_from("vejviser og café") == ["vejviser", "cafe"]
    assert "patientstoette" in kb().interests_from("samtalepartner")
    assert "vaagetjeneste" in kb().interests_from("vågetjeneste")
    assert kb().interests_from("asdfgh") == []


def test_facts_from_the_documents_are_in_the_knowledge_base() -> None:
    text = "\n".join(p.read_text(encoding="utf-8") for p in Path(KNOWLEDGE).rglob("*.yml"))
    for fact in [
        "30. marts 2016",
        "450",
        "65 frivilligcentre",
        "1992",
        "97 64 80 60",
        "andkri@rm.dk",
        "51 27 07 40",
        "Hospice Limfjord",
        "Hospice Søholm",
        "Hospice Djursland",
        "Hammel Neurocenter",
        "1. januar 2027",
        "Østdanmark",
        "professionalisme",
        "ordentlighed",
        "lydhørhed",
        "Tall Ship Race",
        "Livslinien",
        "70 201 201",
        "1813",
    ]:
        assert fact.lower() in text.lower(), fact


MAX_ANSWER, MAX_MORE, MAX_ITEM, MAX_TITLE = 240, 500, 350, 50


def _entries() -> list[tuple[str, str, str]]:
    """(where, field, text) of every text a citizen reads as an answer."""
    found = []
    for topic in kb().topics:
        found += [(f"topic {topic.id}", "answer", topic.answer), (f"topic {topic.id}", "more", topic.more), (f"topic {topic.id}", "title", topic.title)]
        found += [(f"topic {topic.id} item {n}", "item", item.answer) for n, item in enumerate(topic.items, 1)]
    for opp in kb().opportunities:
        found += [(f"opportunity {opp.id}", "answer", opp.answer), (f"opportunity {opp.id}", "more", opp.more), (f"opportunity {opp.id}", "title", opp.title)]
    return found


@pytest.mark.parametrize(("field", "limit"), [("answer", MAX_ANSWER), ("more", MAX_MORE), ("item", MAX_ITEM), ("title", MAX_TITLE)])
def test_answers_fit_a_chat_bubble(field: str, limit: int) -> None:
    too_long = [f"{where}: {len(text)} > {limit}" for where, kind, text in _entries() if kind == field and len(text) > limit]
    assert too_long == []


@pytest.mark.parametrize("wrong", ["Hospicelimfjord", "regionernes chatbot"])
def test_known_mistakes_are_gone(wrong: str) -> None:
    texts = [text for _, _, text in _entries()]
    texts.append(yaml.safe_dump(yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"], allow_unicode=True))
    assert not [text for text in texts if wrong.lower() in text.lower()]


def test_the_source_line_names_one_publisher_once() -> None:
    assert kb().cite(["rm-web", "rm-strategi"]) == "Region Midtjyllands side om frivilligt arbejde og frivilligstrategi, 2016"
    assert kb().cite(["rs-politik", "rm-strategi"]) == "Region Sjællands frivilligpolitik, 2021; Region Midtjyllands frivilligstrategi, 2016"


PLAINLY_UNKNOWN = re.compile("nævner ikke|står ikke|siger ikke|ved ikke|har ingen oplysninger")


def test_every_unknown_says_so_in_plain_words() -> None:
    responses = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    texts = [u.answer for u in kb().unknowns] + [responses[r][0]["text"] for r in ("utter_not_in_documents", "utter_region_not_covered", "utter_no_more")]
    assert [t for t in texts if not PLAINLY_UNKNOWN.search(t)] == []
