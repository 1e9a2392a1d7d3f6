"""The knowledge base: facts from the source documents, loaded from the YAML files beside this module.

This module only finds things; every sentence a citizen reads is in the YAML files
(or in domain.yml), each entry with the documents it comes from.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Iterable, Union

import yaml

from bot.knowledge import geo, search
from bot.language.text import exact_phrase, fold, phrase_score, words

KNOWLEDGE = Path(__file__).resolve().parent
LONGEST_KEYWORD = 15  # letters; a longer phrase is no more specific than this
OTHER_KIND_SHARE = 0.25  # a keyword shared with an entry of another intent counts this much against it


@dataclass(frozen=True)
class Source:
    id: str
    publisher: str
    title: str
    short: str  # how an answer names it: "Region Midtjyllands frivilligstrategi, 2016"
    file: str = ""
    url: str = ""

    def cite(self) -> str:
        return self.short


def _one_owner(names: list[str]) -> str:
    """Two short names that start alike ("Region Midtjyllands …") joined under their shared start."""
    if len(names) != 2:
        return "; ".join(names)  # three with their years read ambiguously in one phrase
    split = [name.split() for name in names]
    shared = 0
    while all(len(parts) > shared + 1 and parts[shared] == split[0][shared] for parts in split):
        shared += 1
    if shared < 2:
        return "; ".join(names)
    rests = [" ".join(parts[shared:]) for parts in split]
    return " ".join(split[0][:shared]) + " " + " og ".join(rests)


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
    more: str = ""  # the rest, one click away ("Vil du vide mere?")
    regions: tuple[str, ...] = ()  # the regions the topic is about, for "where" and "whom to contact"
    changes: tuple[Change, ...] = ()  # a new answer from a date on (Region Østdanmark from 1 January 2027)

    def as_of(self, day: dt.date) -> Topic:
        """The topic as it reads on that day."""
        current = self
        for change in sorted(self.changes, key=lambda c: c.on):
            if day >= change.on:
                current = replace(current, answer=change.answer, more=change.more)
        return current


@dataclass(frozen=True)
class Change:
    on: dt.date
    answer: str
    more: str = ""


@dataclass(frozen=True)
class Opportunity:
    id: str
    title: str
    summary: str
    answer: str
    source: tuple[str, ...]
    interest: str
    more: str = ""
    where: str = ""  # where it takes place, as a sentence
    join: str = ""  # how one becomes it, where the documents say
    regions: tuple[str, ...] = ()
    municipalities: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Unknown:
    """A question the documents do not answer, said plainly (unknowns.yml)."""

    id: str
    title: str
    answer: str
    keywords: tuple[str, ...]
    source: tuple[str, ...] = ()


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

    @property
    def short(self) -> str:
        """One line for a list of several regions' contacts: name, e-mail and phone, else the answer's first sentence."""
        details = ", ".join(part for part in (self.name, self.email, self.phone) if part)
        return details or self.answer.split(". ")[0].rstrip(".") + "."


@dataclass(frozen=True)
class Region:
    code: str
    name: str
    covered: bool
    laegevagt: str = ""  # the region's out-of-hours doctor (lægevagt) phone number


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
    FOLLOWUP_INTENT = "followup"  # answered from the entry the last answer was about

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
                more=str(t.get("more") or "").strip(),
                regions=_tuple(t.get("regions")),
                changes=tuple(Change(c["from"], str(c["answer"]).strip(), str(c.get("more") or "").strip()) for c in t.get("changes") or ()),
            )
            for path in sorted((KNOWLEDGE / "topics").glob("*.yml"))
            for t in _load(f"topics/{path.name}")["topics"]
        ]
        opportunities = _load("opportunities.yml")
        self.organisations: dict[str, str] = opportunities["organisations"]  # entity value -> the name a citizen reads
        self.opportunities = [
            Opportunity(
                id=o["id"],
                title=o["title"],
                summary=o["summary"].strip(),
                answer=o["answer"].strip(),
                source=_tuple(o.get("source")),
                interest=o["interest"],
                more=str(o.get("more") or "").strip(),
                where=str(o.get("where") or "").strip(),
                join=str(o.get("join") or "").strip(),
                regions=_tuple(o.get("regions")),
                municipalities=_tuple(o.get("municipalities")),
                places=_tuple(o.get("places")),
                organisations=_tuple(o.get("organisations")),
                roles=_tuple(o.get("roles")),
                tags=_folded(o.get("tags")),
            )
            for o in opportunities["opportunities"]
        ]
        self.interests = [Interest(i["code"], i["title"], _folded(i.get("keywords"))) for i in _load("interests.yml")["interests"]]
        self.contacts = {c["region"]: Contact(**{**c, "source": _tuple(c.get("source"))}) for c in _load("contacts.yml")["contacts"]}
        self.unknowns = [
            Unknown(u["id"], u["title"], str(u["answer"]).strip(), _folded(u.get("keywords")), _tuple(u.get("source")))
            for u in _load("unknowns.yml")["unknowns"]
        ]
        self.regions = {r["code"]: Region(r["code"], r["name"], bool(r.get("covered")), str(r.get("laegevagt") or "")) for r in _load("regions.yml")["regions"]}
        self.labels: dict[str, str] = _load("labels.yml")["labels"]
        vocabulary = _load("vocabulary.yml")
        self.vocabulary: dict[str, list[str]] = {k: [fold(w) for w in v] for k, v in vocabulary["vocabulary"].items()}
        self.weekdays: list[str] = vocabulary["weekdays"]
        privacy = _load("privacy.yml")["privacy"]
        self.consent_version: str = str(privacy["version"])
        self.privacy_fingerprint: str = str(privacy.get("fingerprint") or "")
        self.privacy_page: dict[str, Any] = privacy["page"]

    # --- entries --------------------------------------------------------------------
    @cached_property
    def index(self) -> search.Index:
        return search.build(self)

    def entry(self, ref: str) -> AnyEntry | None:
        """The entry a reference names ("topic:krav", "item:pejlemaerker#2", "opp:vejviser", "unknown:bil")."""
        kind, _, key = ref.partition(":")
        if kind == "topic":
            return self.topic(key)
        if kind == "item":
            topic_id, _, number = key.partition("#")
            topic = self.topic(topic_id)
            return topic.items[int(number) - 1] if topic and number.isdigit() and 0 < int(number) <= len(topic.items) else None
        if kind == "opp":
            return self.opportunity(key)
        if kind == "unknown":
            return next((u for u in self.unknowns if u.id == key), None)
        return None

    def entry_title(self, ref: str) -> str:
        entry = self.entry(ref)
        return entry.title if entry is not None else ref

    def unknown_asked(self, text: str) -> Unknown | None:
        """The unknown whose keywords the text names most specifically, if any."""
        text_words = words(text)
        scored = [(max((exact_phrase(k, text_words) for k in u.keywords), default=0), u) for u in self.unknowns]
        best_score, best = max(scored, key=lambda pair: pair[0], default=(0, None))
        return best if best_score > 0 else None

    # --- topics -----------------------------------------------------------------
    @property
    def answered_intents(self) -> frozenset[str]:
        """The intents this knowledge base answers: every topic's intent, opportunities, list items and follow-ups."""
        return frozenset({t.intent for t in self.topics} | {self.OPPORTUNITY_INTENT, self.LIST_ITEM_INTENT, self.FOLLOWUP_INTENT})

    def topics_for(self, intent: str) -> list[Topic]:
        return [t for t in self.topics if t.intent == intent]

    def topic(self, topic_id: str) -> Topic | None:
        return next((t for t in self.topics if t.id == topic_id), None)

    @cached_property
    def _spread(self) -> dict[tuple[str, str], float]:
        """How widely each keyword or tag is shared, for an entry of each kind (an intent's topics, the opportunities):
        a word many entries share tells them apart less, and most so among entries of the same kind, which the
        intent does not tell apart."""
        kinds: dict[str, Counter[str]] = {}
        entries: list[Topic | Opportunity] = [*self.topics, *self.opportunities]
        for entry in entries:
            kinds.setdefault(self._kind(entry), Counter()).update(set(self._terms(entry)))
        overall = sum(kinds.values(), Counter())
        return {(kind, k): n + OTHER_KIND_SHARE * (overall[k] - n) for kind, counts in kinds.items() for k, n in counts.items()}

    @staticmethod
    def _kind(entry: Topic | Opportunity) -> str:
        return entry.intent if isinstance(entry, Topic) else "opportunity"

    @staticmethod
    def _terms(entry: Topic | Opportunity) -> tuple[str, ...]:
        return tuple(entry.keywords) if isinstance(entry, Topic) else tuple(entry.tags)

    def _score(self, entry: Topic, text_words: list[str]) -> float:
        """The best matching keyword (a special entry's title counts as one), by its length up to a point over how
        many entries share it, plus half a point per further match: specific phrases of this entry win. A default
        entry's title names the subject all the intent's entries share ("Udvalget om samarbejde med civilsamfundet")."""
        terms = entry.keywords if entry.default else (*entry.keywords, fold(entry.title))
        matches = [min(score, LONGEST_KEYWORD) / self._spread.get((entry.intent, k), 1) for k in terms if (score := phrase_score(k, text_words))]
        return max(matches, default=0) + 0.5 * max(0, len(matches) - 1)

    def keyword_score(self, topic: Topic, text: str) -> float:
        return self._score(topic, words(text))

    def said_exactly(self, vocabulary: str, text: str) -> bool:
        """Whether the text has one of the vocabulary's phrases as whole words ("hvor" is not "hvordan")."""
        text_words = words(text)
        return any(exact_phrase(p, text_words) for p in self.vocabulary.get(vocabulary, ()))

    def matched_topic(self, intent: str, text: str) -> Topic | None:
        """The intent's entry whose keywords fit the text best (the search breaks ties), or None when no keyword fits."""
        text_words = words(text)
        scored = [(self._score(t, text_words), t) for t in self.topics_for(intent)]
        best_score = max((score for score, _ in scored), default=0)
        if best_score == 0:
            return None
        tied = [t for score, t in scored if score == best_score]
        if len(tied) > 1:
            relevance = self.index.scores(text)
            tied.sort(key=lambda t: -relevance.get(f"topic:{t.id}", 0.0))
        return tied[0]

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
        """The source line's documents, one publisher's named once: "Region Midtjyllands side om frivilligt arbejde
        og frivilligstrategi, 2016"."""
        by_publisher: dict[str, list[str]] = {}
        for source_id in dict.fromkeys(source_ids):
            if source_id in self.sources:
                by_publisher.setdefault(self.sources[source_id].publisher, []).append(self.sources[source_id].cite())
        return "; ".join(_one_owner(names) for names in by_publisher.values())

    # --- opportunities ------------------------------------------------------------
    def opportunity(self, opportunity_id: str) -> Opportunity | None:
        return next((o for o in self.opportunities if o.id == opportunity_id), None)

    def _tag_score(self, opp: Opportunity, text_words: list[str]) -> int:
        return sum(phrase_score(tag, text_words) for tag in opp.tags)

    def tag_score(self, opp: Opportunity, text: str) -> float:
        """How specifically the text names the opportunity: its best tag, scored like a topic's keywords."""
        matches = [min(score, LONGEST_KEYWORD) / self._spread.get(("opportunity", tag), 1) for tag in opp.tags if (score := phrase_score(tag, words(text)))]
        return max(matches, default=0) + 0.5 * max(0, len(matches) - 1)

    def search(self, query: Query) -> SearchResult:
        """Opportunities that fit the role, place, organisation and region asked about."""
        regions = set(query.regions)
        municipality = ""
        text_words = words(query.text)
        candidates = [p for name in query.municipalities for p in geo.resolve(name)] or ([] if query.has_filters else geo.resolve(query.text))
        if len({p.region for p in candidates}) > 1:
            # "Viby" is in Aarhus and in Roskilde: the one where what the text names is done, else neither
            named = {r for o in self.opportunities if self._tag_score(o, text_words) for r in o.regions}
            candidates = [p for p in candidates if p.region in named][:1]
        for place in candidates[:1]:
            municipality = place.municipality or ""
            regions.add(place.region)
        region = next(iter(regions)) if len(regions) == 1 else ""

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

    def organisation_name(self, code: str) -> str:
        return self.organisations.get(code, code)

    def region_name(self, code: str) -> str:
        region = self.regions.get(code)
        return region.name if region else code


AnyEntry = Union[Topic, Item, Opportunity, Unknown]


@cache
def kb() -> KnowledgeBase:
    return KnowledgeBase()
