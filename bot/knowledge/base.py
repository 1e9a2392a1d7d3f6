"""The knowledge base: facts from the source documents, loaded from the YAML files beside this module.

This module only finds things; every sentence a citizen reads is in the YAML files
(or in domain.yml), each entry with the documents it comes from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from bot.knowledge import geo
from bot.language.text import fold, phrase_score, words

KNOWLEDGE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Source:
    id: str
    publisher: str
    title: str
    file: str = ""
    url: str = ""

    def cite(self) -> str:
        where = f" ({self.url})" if self.url else ""
        return f"{self.publisher}: {self.title}{where}"


@dataclass(frozen=True)
class Item:
    title: str
    answer: str


@dataclass(frozen=True)
class Topic:
    id: str
    intent: str
    title: str
    answer: str
    source: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    default: bool = False
    buttons: tuple[dict[str, str], ...] = ()
    items: tuple[Item, ...] = ()


@dataclass(frozen=True)
class Opportunity:
    id: str
    title: str
    summary: str
    answer: str
    source: tuple[str, ...]
    interest: str
    regions: tuple[str, ...] = ()
    municipalities: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Interest:
    code: str
    title: str
    keywords: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contact:
    region: str
    answer: str
    source: tuple[str, ...]
    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    covered: bool


@dataclass
class Query:
    """What the citizen asked about: entity values from the NLU plus the raw text."""

    text: str = ""
    roles: set[str] = field(default_factory=set)
    places: set[str] = field(default_factory=set)
    organisations: set[str] = field(default_factory=set)
    regions: set[str] = field(default_factory=set)
    municipalities: set[str] = field(default_factory=set)

    @property
    def has_filters(self) -> bool:
        return bool(self.roles or self.places or self.organisations or self.regions or self.municipalities)


@dataclass
class SearchResult:
    matches: list[Opportunity]
    region: str = ""  # the region the citizen asked about, if any
    municipality: str = ""
    alternatives: list[Opportunity] = field(default_factory=list)  # when nothing matched where they asked


def _tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    return tuple(value) if isinstance(value, (list, tuple)) else (value,)


def _folded(phrases: Iterable[str] | None) -> tuple[str, ...]:
    """Phrases in folded spelling, each once (æ/ø/å variants fold to the same phrase)."""
    return tuple(dict.fromkeys(fold(p) for p in phrases or () if fold(p)))


def _load(name: str) -> Any:
    with open(KNOWLEDGE / name, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


class KnowledgeBase:
    OPPORTUNITY_INTENT = "ask_opportunities"  # answered from opportunities.yml
    LIST_ITEM_INTENT = "ask_list_item"  # answered from the items of a topic's list

    def __init__(self) -> None:
        self.sources = {s["id"]: Source(**s) for s in _load("sources.yml")["sources"]}
        self.topics = [
            Topic(
                id=t["id"],
                intent=t["intent"],
                title=t["title"],
                answer=t["answer"].strip(),
                source=_tuple(t.get("source")),
                keywords=_folded(t.get("keywords")),
                default=bool(t.get("default")),
                buttons=tuple(t.get("buttons") or ()),
                items=tuple(Item(i["title"], i["answer"].strip()) for i in t.get("items") or ()),
            )
            for t in _load("topics.yml")["topics"]
        ]
        self.opportunities = [
            Opportunity(
                id=o["id"],
                title=o["title"],
                summary=o["summary"].strip(),
                answer=o["answer"].strip(),
                source=_tuple(o.get("source")),
                interest=o["interest"],
                regions=_tuple(o.get("regions")),
                municipalities=_tuple(o.get("municipalities")),
                places=_tuple(o.get("places")),
                organisations=_tuple(o.get("organisations")),
                roles=_tuple(o.get("roles")),
                tags=_folded(o.get("tags")),
            )
            for o in _load("opportunities.yml")["opportunities"]
        ]
        self.interests = [Interest(i["code"], i["title"], _folded(i.get("keywords"))) for i in _load("interests.yml")["interests"]]
        self.contacts = {c["region"]: Contact(**{**c, "source": _tuple(c.get("source"))}) for c in _load("contacts.yml")["contacts"]}
        self.regions = {r["code"]: Region(r["code"], r["name"], bool(r.get("covered"))) for r in _load("regions.yml")["regions"]}
        self.labels: dict[str, str] = _load("labels.yml")["labels"]
        vocabulary = _load("vocabulary.yml")
        self.vocabulary: dict[str, list[str]] = {k: [fold(w) for w in v] for k, v in vocabulary["vocabulary"].items()}
        self.weekdays: list[str] = vocabulary["weekdays"]
        privacy = _load("privacy.yml")["privacy"]
        self.consent_version: str = str(privacy["version"])
        self.privacy_fingerprint: str = str(privacy.get("fingerprint") or "")
        self.privacy_page: dict[str, Any] = privacy["page"]

    # --- topics -----------------------------------------------------------------
    @property
    def answered_intents(self) -> frozenset[str]:
        """The intents this knowledge base answers: every topic's intent, opportunities and list items."""
        return frozenset({t.intent for t in self.topics} | {self.OPPORTUNITY_INTENT, self.LIST_ITEM_INTENT})

    def topics_for(self, intent: str) -> list[Topic]:
        return [t for t in self.topics if t.intent == intent]

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    @staticmethod
    def _score(topic: Topic, text_words: list[str]) -> int:
        """The longest matching keyword plus one per further match: specific phrases win."""
        matches = [score for k in topic.keywords if (score := phrase_score(k, text_words))]
        return max(matches, default=0) + len(matches)

    def matched_topic(self, intent: str, text: str) -> Topic | None:
        """The intent's entry whose keywords fit the text best, or None when no keyword fits."""
        text_words = words(text)
        scored = [(self._score(t, text_words), t) for t in self.topics_for(intent)]
        best_score, best = max(scored, key=lambda pair: pair[0], default=(0, None))
        return best if best_score > 0 else None

    def best_topic(self, intent: str, text: str) -> Topic | None:
        """The intent's entry whose keywords fit the text best; the intent's default when none fit."""
        candidates = self.topics_for(intent)
        if not candidates:
            return None
        return self.matched_topic(intent, text) or next((t for t in candidates if t.default), candidates[0])

    def topical_matches(self, text: str) -> bool:
        """Whether the text names something an opportunity is tagged with ("sidde hos døende")."""
        text_words = words(text)
        return any(self._tag_score(o, text_words) for o in self.opportunities)

    def list_topic(self, text: str) -> Topic | None:
        """A topic with an enumerated list that the text names ("det tredje pejlemærke")."""
        text_words = words(text)
        scored = [(max((phrase_score(k, text_words) for k in t.keywords), default=0), t) for t in self.topics if t.items]
        scored = [pair for pair in scored if pair[0] > 0]
        return max(scored, key=lambda pair: pair[0])[1] if scored else None

    def cite(self, source_ids: Iterable[str]) -> str:
        return "; ".join(self.sources[s].cite() for s in source_ids if s in self.sources)

    # --- opportunities ------------------------------------------------------------
    def opportunity(self, opportunity_id: str) -> Opportunity | None:
        return next((o for o in self.opportunities if o.id == opportunity_id), None)

    def _tag_score(self, opp: Opportunity, text_words: list[str]) -> int:
        return sum(phrase_score(tag, text_words) for tag in opp.tags)

    def search(self, query: Query) -> SearchResult:
        """Opportunities that fit the role, place, organisation and region asked about."""
        regions = set(query.regions)
        municipality = ""
        for name in query.municipalities:
            places = geo.resolve(name)
            if places:
                municipality = places[0].municipality or ""
                regions.add(places[0].region)
        if not query.has_filters:
            for place in geo.resolve(query.text):
                if place.municipality:
                    municipality = place.municipality
                regions.add(place.region)
                break
        region = next(iter(regions)) if len(regions) == 1 else ""
        text_words = words(query.text)

        def topical(opp: Opportunity) -> int:
            score = 4 * len(query.roles & set(opp.roles)) + 3 * len(query.places & set(opp.places))
            score += 3 * len(query.organisations & set(opp.organisations)) + self._tag_score(opp, text_words)
            if municipality and municipality in opp.municipalities:
                score += 3
            return score

        def where(opp: Opportunity) -> bool:
            if regions and not regions & set(opp.regions):
                return False
            return not (municipality and opp.municipalities and municipality not in opp.municipalities)

        asked_topically = bool(query.roles or query.places or query.organisations) or any(self._tag_score(o, text_words) for o in self.opportunities)
        scored = sorted(((topical(o), o) for o in self.opportunities), key=lambda pair: -pair[0])
        if asked_topically:
            fitting = [o for s, o in scored if s > 0]
        else:
            fitting = [o for _, o in scored]
        matches = [o for o in fitting if where(o)]
        alternatives = [] if matches else [o for o in fitting if not where(o)][:4]
        if matches and asked_topically:
            top = topical(matches[0])
            matches = [o for o in matches if topical(o) >= max(1, top // 2)]
        return SearchResult(matches=matches, region=region, municipality=municipality, alternatives=alternatives)

    # --- sign-up interests -----------------------------------------------------------
    def interest(self, code: str) -> Interest | None:
        return next((i for i in self.interests if i.code == code), None)

    def interests_from(self, text: str, roles: Iterable[str] = ()) -> list[str]:
        """Interest codes named in free text or by role entities, in the order of the interest list."""
        text_words = words(text)
        found = {i.code for i in self.interests if any(phrase_score(k, text_words) for k in i.keywords)}
        if not found:
            found = {code for role in roles if (code := self.interest_for_roles([role]))}
        return [i.code for i in self.interests if i.code in found]

    def interest_for_roles(self, roles: Iterable[str]) -> str | None:
        for role in roles:
            for opp in self.opportunities:
                if role in opp.roles:
                    return opp.interest
        return None

    def said(self, vocabulary: str, text: str) -> bool:
        """Whether the text says one of the vocabulary's phrases (e.g. 'skip': "spring over")."""
        text_words = words(text)
        return any(phrase_score(p, text_words) for p in self.vocabulary.get(vocabulary, ()))

    def region_name(self, code: str) -> str:
        region = self.regions.get(code)
        return region.name if region else code


@cache
def kb() -> KnowledgeBase:
    return KnowledgeBase()
