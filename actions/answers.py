"""Answers from the knowledge base: short, about what was asked, remembering what we talk about.

How an answer is chosen (Answerer.answer):
1. Safety first: an acute emergency gets 112 and nothing else; an illness that is not acute
   gets the patient offers with one safety line; a medical question gets the lægevagt of the
   citizen's region.
2. A follow-up ("hvor foregår det?", "hvem skal jeg kontakte om det?", "den anden") is
   resolved against the entry the last answer was about (the `context` slot).
3. A question the documents do not answer ("skal man have bil?") is said to be unknown,
   plainly, with where to ask.
4. Otherwise the entry that fits best: by the intent and its keywords when the NLU is sure,
   by a BM25 search over every entry when it is not (bot/knowledge/search.py).
Every answer is the entry's short text with a short source line; the rest is one click away
("Vil du vide mere?"), and an answer about a role offers the sign-up.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import GENERIC_INTENTS, entity_values, latest_intent, latest_text, ranking, text, user_turns
from bot.conventions import today
from bot.knowledge import Opportunity, Query, Topic, kb
from bot.knowledge.base import AnyEntry, Item, Unknown
from bot.knowledge.geo import resolve
from bot.language.text import fold, words

MAX_LISTED = 4
OPPORTUNITY_ENTITIES = ("role", "place", "organisation")
PLACE_ENTITIES = ("region", "municipality")
SAFETY_INTENTS = ("emergency", "crisis", "medical_question")
PLAUSIBLE_SAFETY_GUESS = 0.5  # below this, "Mente du: ring 112?" to a message about something else only confuses
SURE = 0.7  # an intent this confident chooses among its own entries
CLEAR_LEAD = 1.2  # a search result answers alone when it scores this many times the runner-up
MIN_SEARCH_SCORE = 2.0  # below this, a search result is a guess, not an answer
KEYWORD_WEIGHT = 0.5  # per character of a topic's best matching keyword (plus one per further keyword)
INTENT_WEIGHT = 3.0  # for the topics of the intent the NLU heard, times its confidence
DEFAULT_WEIGHT = 1.0  # and a little more for that intent's default topic
REGION_WEIGHT = 2.0  # for an entry about the region the message names (and against one about another region)
GENERAL_WEIGHT = 1.5  # any intent's default topic that fits at all: the general answer before the special cases
CLEAR_OPPORTUNITY_LEAD = 1.3  # an opportunity this far ahead is the one asked about, not the first of a list
PART_LEAD = 1.05  # one question of several is answered by its best entry when that is ahead at all
STRONG_KEYWORD = 9  # a topic named this specifically wins over a role or place in the same message
SURE_OUT_OF_SCOPE = 0.5  # from this confidence on, "out of scope" is believed unless the message names an unknown
LIST_INTENTS = ("ask_list_item", "ask_strategy", "ask_sjaelland", "ask_specialsektor", "ask_committee", "followup")
FOLLOWUP_MAX_WORDS = 9
SHORT_FOLLOWUP_WORDS = 3
MAX_QUESTIONS = 3
# The heading of a list of opportunities, by (an organisation was named, a place was named): "Med Røde Kors i Region Sjælland …"
FOUND = {
    (False, False): "utter_opportunities_found",
    (False, True): "utter_opportunities_found_in",
    (True, False): "utter_opportunities_found_with",
    (True, True): "utter_opportunities_found_with_in",
}
# Where one question ends and the next begins: "?", or a comma or "og" before a question's first word.
QUESTION_MARK = re.compile(r"\?+")
LEADING_CONJUNCTION = re.compile(r"^\s*(?:og|men|eller)\s+", re.I)  # "…? og kan man sige nej?"
QUESTION_SPLIT = re.compile(r"(?:,|\s+og)\s+(?=(?:hvad|hvor|hvordan|hvem|hvornår|hvilke|hvilken|har|er|kan|får|faar|skal|må|maa|findes)\b)", re.I)
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÆØÅ0-9»\"(])")  # not inside "30. marts" or "bl.a. med"
ASPECTS = ("contact", "where", "requirements", "join", "who", "more", "when")  # "hvor kan jeg læse mere?" asks for a contact
CONTEXT = "context"  # the entry the last answer was about
OFFER = "offer"  # what the last answer offered: "signup" or "more"
_ORDINAL_WORD = {"sidste": "sidste", "sidst": "sidste"}
MERGER_TOPIC = "sjaelland_oestdanmark"
REQUIREMENTS_INTENT, REQUIREMENTS_TOPIC = "ask_requirements", "krav"  # "hvad kræver det?" after any answer
COUNTERPART_SCORE = 3.0  # search score for another region's counterpart of an opportunity
NAMED_IN_FOLLOWUP = 2.5  # tag score for an opportunity a follow-up names itself
MERGING_REGIONS = ("sjaelland", "hovedstaden")  # Region Østdanmark from 1 January 2027
NOT_AN_ORDINAL_AFTER = ("de", "alle", "noget", "nogen", "nogle", "et", "en")  # a count or "another", not the n-th
_DIGIT = re.compile(r"[1-9]")
YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


def _items(opportunities: List[Opportunity]) -> str:
    """A short list: titles, with a line about each only when there are two."""
    listed = opportunities[:MAX_LISTED]
    return "\n".join(f"• {o.title}: {o.summary}" if len(listed) <= 2 else f"• {o.title}" for o in listed)


def _general_first(matches: List[Opportunity], municipality: str) -> List[Opportunity]:
    """A role's general entry instead of each place it is done, unless the citizen named the place."""
    if municipality:
        return matches
    general = {o.interest for o in matches if not o.municipalities}
    return [o for o in matches if not o.municipalities or o.interest not in general]


def _sources(source_ids: List[str]) -> str:
    return kb().cite(list(dict.fromkeys(source_ids))[:2])


def _ordinal(tracker: Tracker, loose: bool) -> str | None:
    """'1'…'9' or 'sidste' for "det tredje", "nummer 2", "pejlemærke fire"; never a count like "de 4 pejlemærker".

    `loose` also accepts a bare digit or number word, for messages that only ask for a list item.
    """
    text_value = latest_text(tracker)
    ordinal_words = set(kb().vocabulary["ordinal_words"])
    for item in tracker.latest_message.get("entities") or []:
        if item.get("entity") != "ordinal" or item.get("value") is None:
            continue
        written = fold(text_value[int(item.get("start") or 0) : int(item.get("end") or 0)])
        if written and not (written in ordinal_words or written.rstrip(".").isdigit()):
            continue  # the NLU heard an ordinal in "nytår"
        before = fold(text_value[: int(item.get("start") or 0)]).split()[-1:]
        if before and before[0] in NOT_AN_ORDINAL_AFTER:
            continue  # "de 4 pejlemærker", "noget andet"
        value = _ORDINAL_WORD.get(str(item["value"]).lower(), str(item["value"]))
        if value == "sidste" or value.isdigit():
            return value
    folded = words(text_value)
    numbers = kb().vocabulary["number_words"]
    markers = kb().vocabulary["list_item_markers"]
    for i, word in enumerate(folded):
        previous = folded[i - 1] if i else ""
        if previous in NOT_AN_ORDINAL_AFTER:
            continue
        found = str(numbers.index(word) + 1) if word in numbers else word if _DIGIT.fullmatch(word) else None
        if found and (loose or previous in markers):
            return found
    return None


def regions_of(entry: AnyEntry | None) -> tuple[str, ...]:
    if isinstance(entry, (Topic, Opportunity)):
        return entry.regions
    return ()


def source_of(entry: AnyEntry, ref: str) -> tuple[str, ...]:
    if isinstance(entry, Item):
        parent = kb().topic(ref.partition(":")[2].partition("#")[0])
        return parent.source if parent else ()
    return entry.source


def is_question(value: str) -> bool:
    """A "?" anywhere, or a clause that starts like a question ("jeg vil gerne hjælpe, hvordan kommer jeg i gang")."""
    if "?" in value:
        return True
    question_words = kb().vocabulary["question_words"]
    return any((clause := words(part)) and clause[0] in question_words for part in re.split(r"[,.;:!]|\bog\b|\bmen\b", value))


def last_sentence(value: str) -> str:
    """The question after the story: "Jeg har tid nok. Hvad kan man lave" -> "Hvad kan man lave"."""
    sentences = [part for part in re.split(r"(?<=[.!])\s+", value.strip()) if part.strip()]
    return sentences[-1] if sentences else value


def sentences(value: str) -> list[str]:
    return [part.strip() for part in SENTENCE_END.split(value.strip()) if part.strip()] or [value.strip()]


def _word_starts(value: str) -> set[str]:
    """The content words' first five letters: "forsikret" and "forsikring" are the same subject."""
    stop = {fold(word) for word in (*kb().vocabulary["stopwords"], *kb().vocabulary["question_words"])}
    return {word[:5] for word in words(value) if len(word) >= 4 and word not in stop}


def first_sentence(value: str, query: str = "") -> str:
    """The direct answer an entry starts with, for a reply to several questions at once ("Ja." is not enough of one);
    with a query, the sentence that says most of what it asks ("hvem var formand?" of the committee's overview)."""
    found = sentences(value)
    start = 0
    if query:
        asked = _word_starts(query)
        overlap = [len(asked & _word_starts(sentence)) for sentence in found]
        start = overlap.index(max(overlap)) if max(overlap, default=0) > overlap[0] else 0
    chosen = ""
    for sentence in found[start:]:
        chosen = f"{chosen} {sentence}".strip()
        if len(chosen) >= 50:  # "Nej, frivillige erstatter ikke personalet." needs the sentence after it
            break
    return chosen


def dated_sentence(entry: AnyEntry) -> str | None:
    """The first sentence of an entry that names a year, for a question about when something happened."""
    text = " ".join(part for part in (entry.answer, getattr(entry, "more", "")) if part)
    return next((sentence for sentence in sentences(text) if YEAR.search(sentence)), None)


def group(ref: str) -> str:
    """An item belongs with its topic: "item:pejlemaerker#2" and "topic:pejlemaerker" are one candidate."""
    return "topic:" + ref[5:].partition("#")[0] if ref.startswith("item:") else ref


class Answerer:
    """Composes the answer to the latest message; shared by the answer, fallback and sign-up actions and the forms."""

    def __init__(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, in_form: bool = False) -> None:
        self.dispatcher, self.tracker, self.domain, self.in_form = dispatcher, tracker, domain, in_form
        self.kb = kb()
        self.text = latest_text(tracker)

    # --- choosing ------------------------------------------------------------------
    def answer(self, intent: str) -> List[EventType]:
        urgent = intent == "crisis" or (intent == "emergency" and self.kb.said("acute", self.text))
        if not urgent and self.is_followup(intent) and (intent not in SAFETY_INTENTS or self.aspect()):
            return self.followup()  # "hvor foregår det?" is no medical question when we just talked about a role
        several = None if urgent else self.several_questions()
        if several is not None:
            return several
        unknown = None if urgent else self.kb.unknown_asked(self.text)
        if unknown is not None:
            return self.show(f"unknown:{unknown.id}")
        if not urgent and self.kb.said("which_region", self.text):
            events = self.region_of_place()
            if events is not None:
                return events  # "jeg bor i Roskilde, hvilken region hører jeg under?"
        if not urgent and self.about_the_merger(intent):
            return self.show(f"topic:{MERGER_TOPIC}")  # "gælder Region Sjællands frivilligpolitik også efter nytår?"
        if intent == "emergency" and not urgent and self.about_volunteering():
            intent = self.kb.OPPORTUNITY_INTENT  # "bliver 112-hjælperne kaldt ud til ulykker?" asks about a role
        elif intent not in SAFETY_INTENTS and self.medical():
            intent = "medical_question"  # "jeg bor i Randers og min søn har feber" whatever the NLU says
        if intent in SAFETY_INTENTS:
            events = self.safety(intent)
            if events is not None:
                return events
            intent = "ask_staff_relation"  # "må frivillige give medicin?" is about volunteers, not a medical question
        if intent != "ask_contact" and is_question(self.text) and self.kb.said_exactly("followup_contact", self.text):
            events = self.contact_for(intent)
            if events is not None:
                return events  # "… mennesker med handicap. Hvem ringer jeg til?"
        if intent != "ask_patient_help" and is_question(self.text) and self.kb.said("wish_to_do", self.text):
            return self.how_to_join()  # "jeg kunne godt tænke mig at besøge patienter, hvordan gør jeg?"
        ordinal = _ordinal(self.tracker, loose=intent == "ask_list_item") if intent in LIST_INTENTS else None
        if intent == "ask_list_item" or ordinal:
            events = self.list_item(ordinal)
            if events is not None:
                return events
        if intent == "ask_contact":
            contact_events = self.contact(self.place_regions())
            if contact_events is not None:
                return contact_events
        ref = self.choose(intent)
        mentions = any(entity_values(self.tracker, kind) for kind in OPPORTUNITY_ENTITIES)
        if (intent == self.kb.OPPORTUNITY_INTENT or mentions) and not self.topic_asked(intent, ref):
            entry = self.clear_opportunity(intent)
            if entry is not None:
                return self.one_opportunity(entry)  # "hvilket hospital har sit eget frivilligkorps?" names one
            return self.opportunities()  # a role, place or organisation, unless the question is about a topic
        if ref is None:
            return self.not_found()
        events = self.show(ref)
        asks_how = is_question(self.text) and self.kb.said_exactly("followup_join", self.text)
        if (asks_how or self.kb.said("wants_to_help", self.text)) and not ref.startswith("opp:"):
            events += self.offer_signup()  # "jeg har selv haft kræft, kan jeg bruge det til at hjælpe andre?"
        return events

    def region_of_place(self) -> List[EventType] | None:
        """The region a named town belongs to, and the merger when it is one of the two that become Region Østdanmark."""
        names = entity_values(self.tracker, "municipality")
        places = [p for name in names for p in resolve(name)[:1]] or resolve(self.text)[:1]
        place = places[0] if places else None
        if place is None or place.municipality is None:
            return None
        self.dispatcher.utter_message(response="utter_place_region", place=place.municipality, region=self.kb.region_name(place.region))
        if place.region in MERGING_REGIONS:
            return self.show(f"topic:{MERGER_TOPIC}")
        return [SlotSet(CONTEXT, None), SlotSet(OFFER, None)]

    def about_the_merger(self, intent: str) -> bool:
        """A question about Region Sjælland or Hovedstaden's future: the answer depends on today's date."""
        if not self.kb.said("future_words", self.text):
            return False
        return intent == "ask_sjaelland" or bool(set(self.place_regions()) & set(MERGING_REGIONS))

    def several_questions(self) -> List[EventType] | None:
        """ "får man løn, er man forsikret og skal man have bil?": each question's short answer, in one reply."""
        question_words = self.kb.vocabulary["question_words"]
        parts: list[str] = []
        segments = QUESTION_MARK.split(self.text)
        for number, segment in enumerate(segments):
            question = LEADING_CONJUNCTION.sub("", last_sentence(segment))  # "Jeg er pensioneret sygeplejerske. Hvad kan man lave, og …"
            pieces = [piece for piece in QUESTION_SPLIT.split(question) if words(piece)]
            for index, piece in enumerate(pieces):
                asked = number < len(segments) - 1 and index == len(pieces) - 1  # it ended with "?": "erstatter frivillige personalet?"
                if not (asked or words(piece)[0] in question_words):
                    return None  # "min mand havde en blodprop, er der nogen han kan tale med?" is one question with its story
                if len(self.kb.index.query_words(piece)) >= 1 and len(words(piece)) >= 2:
                    parts.append(piece)
        if len(parts) < 2:
            return None
        refs: List[tuple[str, str]] = []
        for part in parts[:MAX_QUESTIONS]:
            unknown = self.kb.unknown_asked(part)
            ref = f"unknown:{unknown.id}" if unknown else self.choose("", query=part, lead=PART_LEAD)
            if ref is not None and group(ref) not in (group(r) for r, _ in refs):
                refs.append((ref, part))
        if len(refs) < 2:
            return None  # fewer than two questions found an answer: the message as one question
        entries = [(ref, part, self.kb.entry(ref)) for ref, part in refs]
        lines = [f"• {first_sentence(entry.answer, part)}" for _, part, entry in entries if entry is not None]
        sources = [s for ref, _, entry in entries if entry is not None for s in source_of(entry, ref)]
        self.say("\n".join(lines), sources)
        return [SlotSet(CONTEXT, refs[-1][0]), SlotSet(OFFER, None)]

    def about_volunteering(self) -> bool:
        return self.kb.said("volunteer_words", self.text) or any(entity_values(self.tracker, kind) for kind in OPPORTUNITY_ENTITIES)

    def medical(self) -> bool:
        """Symptoms and a question about what to do, not about volunteers or someone to talk to."""
        roles = [role for role in entity_values(self.tracker, "role") if self.kb.topical_matches(role)]  # not "lægevagten"
        volunteering = self.kb.said("volunteer_words", self.text) or bool(roles)
        return self.kb.said("symptoms", self.text) and not volunteering and not self.kb.said("wants_someone", self.text)

    def clear_opportunity(self, intent: str) -> Opportunity | None:
        """The opportunity the message is about when it fits far better than anything else."""
        ranked = self.scores(intent, self.text)
        if not ranked or not ranked[0][0].startswith("opp:"):
            return None
        best_ref, best = ranked[0]
        runner_up = next((score for ref, score in ranked[1:] if group(ref) != group(best_ref)), 0.0)
        entry = self.kb.entry(best_ref)
        return entry if isinstance(entry, Opportunity) and best >= CLEAR_OPPORTUNITY_LEAD * runner_up else None

    def topic_asked(self, intent: str, ref: str | None) -> bool:
        """Whether a message that names a role or place asks about a topic: one of the intent the NLU is sure of
        ("får man penge for at være vejviser?" asks about pay), or one it names by a long keyword of its own."""
        entry = self.kb.entry(ref) if ref and ref.startswith("topic:") else None
        if ref is None or not isinstance(entry, Topic):
            return False
        sure = intent != self.kb.OPPORTUNITY_INTENT and entry.intent == intent and latest_intent(self.tracker)[1] >= SURE
        return sure or self.strongly_named(ref)

    def strongly_named(self, ref: str) -> bool:
        """Whether the message names the topic by a long keyword of its own ("østdanmark") more than any role or place."""
        entry = self.kb.entry(ref)
        if not isinstance(entry, Topic):
            return False
        score = self.kb.keyword_score(entry, self.text)
        return score >= STRONG_KEYWORD and score > max((self.kb.tag_score(o, self.text) for o in self.kb.opportunities), default=0)

    def scores(self, intent: str, query: str) -> List[tuple[str, float]]:
        """Every entry's fit for the message, best first: its search score, its keywords, and the intent the NLU heard."""
        confidence = latest_intent(self.tracker)[1]
        scores = dict(self.kb.index.scores(query))
        for topic in self.kb.topics:
            ref = f"topic:{topic.id}"
            keyword = self.kb.keyword_score(topic, query)
            bonus = INTENT_WEIGHT * confidence if topic.intent == intent and not (topic.default and self._names_special_case(topic, query)) else 0.0
            if keyword or bonus or ref in scores:
                scores[ref] = scores.get(ref, 0.0) + KEYWORD_WEIGHT * keyword + bonus
        for opp in self.kb.opportunities:
            ref = f"opp:{opp.id}"
            tag = self.kb.tag_score(opp, query)
            if tag:
                scores[ref] = scores.get(ref, 0.0) + KEYWORD_WEIGHT * tag
        for opp in self.kb.opportunities if intent == self.kb.OPPORTUNITY_INTENT else ():
            scores[f"opp:{opp.id}"] = scores.get(f"opp:{opp.id}", 0.0) + INTENT_WEIGHT * confidence
        for topic in self.kb.topics:
            if topic.default and f"topic:{topic.id}" in scores and not self._names_special_case(topic, query):
                scores[f"topic:{topic.id}"] += GENERAL_WEIGHT  # the main entry of its subject, before the special cases
        asked = set(self.place_regions() if query == self.text else [p.region for p in resolve(query)[:1]] or self.place_regions())
        if asked:
            for ref in scores:
                regions = set(regions_of(self.kb.entry(group(ref))))
                if regions:
                    scores[ref] += REGION_WEIGHT if regions & asked else -REGION_WEIGHT  # about the region asked, or another
        if intent in self.kb.answered_intents:
            default = next((t for t in self.kb.topics_for(intent) if t.default), None)
            if default is not None and not self._names_special_case(default, query):
                scores[f"topic:{default.id}"] = scores.get(f"topic:{default.id}", 0.0) + DEFAULT_WEIGHT * confidence
        return sorted(scores.items(), key=lambda pair: -pair[1])

    def _names_special_case(self, default: Topic, query: str) -> bool:
        """Whether the message names one of the subject's special cases more specifically than the general entry
        ("min søster havde kræft" is about cancer, not about patients in general)."""
        own = self.kb.keyword_score(default, query)
        return any(self.kb.keyword_score(t, query) > max(own, 0.0) for t in self.kb.topics_for(default.intent) if t is not default)

    def choose(self, intent: str, query: str | None = None, lead: float = CLEAR_LEAD) -> str | None:
        """The reference of the entry that fits the message best, or None when nothing fits well enough."""
        query = self.text if query is None else query
        ranked = self.scores(intent, query)
        if not ranked:
            return None
        best_ref, best = ranked[0]
        runner_up = next((score for ref, score in ranked[1:] if group(ref) != group(best_ref)), 0.0)
        sure = latest_intent(self.tracker)[1] >= SURE and intent in self.kb.answered_intents
        if sure and best >= MIN_SEARCH_SCORE:
            return best_ref
        if best >= MIN_SEARCH_SCORE and best >= lead * runner_up:
            return best_ref
        return None

    def found(self) -> str | None:
        """Without a usable intent: an unknown the message names, or the entry a search finds clearly ahead of the rest."""
        unknown = self.kb.unknown_asked(self.text)
        if unknown is not None:
            return f"unknown:{unknown.id}"
        return self.choose("")

    def candidates(self, limit: int = 2) -> List[str]:
        """The entries that fit the message best, one per topic, for "Mente du …?"."""
        found: List[str] = []
        for ref, score in self.scores("", self.text):
            if score >= MIN_SEARCH_SCORE and group(ref) not in map(group, found):
                found.append(ref)
        return found[:limit]

    # --- showing ---------------------------------------------------------------------
    def show(self, ref: str, detail: bool = False) -> List[EventType]:
        """The entry's short answer (or, with `detail`, the rest of it), with its source and what can come next."""
        entry = self.kb.entry(ref)
        if entry is None:
            return self.not_found()
        if isinstance(entry, Topic):
            entry = entry.as_of(today())
        if isinstance(entry, Opportunity):
            return self.one_opportunity(entry, detail)
        body = entry.answer
        more = getattr(entry, "more", "")
        if detail:
            body = more or text(self.domain, "utter_no_more")
            more = ""
        buttons = [] if self.in_form else [dict(b) for b in getattr(entry, "buttons", ())]
        if more and not self.in_form:
            buttons.insert(0, {"title": text(self.domain, "utter_more_button"), "payload": '/followup{"aspect": "more"}'})
        if isinstance(entry, Unknown) and not self.in_form:
            buttons.append({"title": text(self.domain, "utter_coordinator_button"), "payload": "/request_human"})
        self.say(body, source_of(entry, ref), buttons)
        events: List[EventType] = [SlotSet(CONTEXT, ref), SlotSet(OFFER, "more" if more else None)]
        if isinstance(entry, Topic) and entry.items:
            events.append(SlotSet("last_list", [f"item:{entry.id}#{i}" for i in range(1, len(entry.items) + 1)]))
        return events

    def say(self, body: str, source_ids: tuple[str, ...] | List[str], buttons: List[Dict[str, str]] | None = None) -> None:
        source = _sources(list(source_ids))
        response = "utter_kb_answer" if source else "utter_kb_answer_unsourced"
        self.dispatcher.utter_message(response=response, answer=body, source=source, buttons=buttons or [])

    def one_opportunity(self, opp: Opportunity, detail: bool = False) -> List[EventType]:
        body = opp.answer
        if detail:
            body = " ".join(part for part in (opp.where, opp.join, opp.more) if part) or text(self.domain, "utter_no_more")
        buttons = []
        if not self.in_form and not detail and (opp.more or opp.where or opp.join):
            buttons.append({"title": text(self.domain, "utter_more_button"), "payload": '/followup{"aspect": "more"}'})
        self.say(body, opp.source, buttons)
        events: List[EventType] = [SlotSet(CONTEXT, f"opp:{opp.id}"), SlotSet("context_role", opp.interest)]
        return events + self.offer_signup()

    def offer_signup(self) -> List[EventType]:
        if self.in_form:
            return [SlotSet(OFFER, None)]
        self.dispatcher.utter_message(response="utter_offer_signup")
        return [SlotSet(OFFER, "signup")]

    def opportunities(self, query: Query | None = None) -> List[EventType]:
        query = query or Query(
            text=self.text,
            roles=set(entity_values(self.tracker, "role")),
            places=set(entity_values(self.tracker, "place")),
            organisations=set(entity_values(self.tracker, "organisation")),
            regions=set(entity_values(self.tracker, "region")),
            municipalities=set(entity_values(self.tracker, "municipality")),
        )
        result = self.kb.search(query)
        result.matches = _general_first(result.matches, result.municipality)
        place = result.municipality or (self.kb.region_name(result.region) if result.region else "")
        region = self.kb.regions.get(result.region)
        if region is not None and not region.covered and not result.matches:
            self.dispatcher.utter_message(response="utter_region_not_covered", place=region.name)
            return [SlotSet(CONTEXT, None)]
        if len(result.matches) == 1:
            return self.one_opportunity(result.matches[0])
        if result.matches:
            listed = result.matches[:MAX_LISTED]
            sources = _sources([s for o in listed for s in o.source])
            named = [code for code in query.organisations if all(code in o.organisations for o in listed)]
            organisation = self.kb.organisation_name(named[0]) if named else ""
            response = FOUND[(bool(organisation), bool(place))]
            self.dispatcher.utter_message(response=response, place=place, organisation=organisation, items=_items(listed), source=sources)
            interests = {o.interest for o in listed}
            events: List[EventType] = [SlotSet("last_list", [f"opp:{o.id}" for o in listed]), SlotSet(CONTEXT, f"opp:{listed[0].id}")]
            if len(interests) == 1:
                events.append(SlotSet("context_role", interests.pop()))
            return events + self.offer_signup()
        shown = result.alternatives or self.kb.opportunities[:MAX_LISTED]
        sources = _sources([s for o in shown[:MAX_LISTED] for s in o.source])
        if result.alternatives and place:
            self.dispatcher.utter_message(response="utter_opportunities_none_in", place=place, items=_items(shown), source=sources)
        else:
            self.dispatcher.utter_message(response="utter_opportunities_none", items=_items(shown), source=sources)
        return [SlotSet("last_list", [f"opp:{o.id}" for o in shown[:MAX_LISTED]]), SlotSet(CONTEXT, None)]

    def list_item(self, ordinal: str | None) -> List[EventType] | None:
        """The n-th entry of the list the citizen names, or of the last list shown."""
        named = self.kb.list_topic(self.text)
        refs = [f"item:{named.id}#{i}" for i in range(1, len(named.items) + 1)] if named else list(self.tracker.get_slot("last_list") or [])
        if not ordinal:
            if named:
                return self.show(f"topic:{named.id}")
            return None
        if not refs:
            if self.kb.topical_matches(self.text):
                return self.opportunities()  # "til sidst" was not a list item: the message is about an opportunity
            self.dispatcher.utter_message(response="utter_no_list")
            return []
        index = len(refs) if ordinal == "sidste" else int(ordinal)
        if not 1 <= index <= len(refs):
            self.dispatcher.utter_message(response="utter_list_item_out_of_range", count=len(refs))
            return []
        ref = refs[index - 1]
        entry = self.kb.entry(ref)
        if isinstance(entry, Item):
            parent = self.kb.topic(ref[5:].partition("#")[0])
            self.dispatcher.utter_message(
                response="utter_list_item", title=f"{index}. {entry.title}", answer=entry.answer, source=_sources(list(parent.source if parent else ()))
            )
            return [SlotSet("last_list", refs), SlotSet(CONTEXT, ref)]
        if isinstance(entry, Opportunity):
            return self.one_opportunity(entry)
        return None

    def contact(self, regions: tuple[str, ...]) -> List[EventType] | None:
        """The published contact of the regions asked about; None when no region is known."""
        contacts = [self.kb.contacts[code] for code in dict.fromkeys(regions) if code in self.kb.contacts]
        if not contacts:
            return None
        if len(contacts) == 1:
            self.say(contacts[0].answer, contacts[0].source)
        else:
            lines = "\n".join(f"• {self.kb.region_name(c.region)}: {c.short}" for c in contacts)
            self.say(lines, [s for c in contacts for s in c.source])
        return [SlotSet(OFFER, None)]

    def contact_for(self, intent: str) -> List[EventType] | None:
        """Who to contact about what the message is about, when that is one region's."""
        ref = self.choose(intent)
        regions = self.place_regions() or regions_of(self.kb.entry(group(ref)) if ref else None)
        events = self.contact(regions) if len(regions) == 1 else None
        return None if events is None else events + [SlotSet(CONTEXT, ref)]

    def not_found(self) -> List[EventType]:
        """Nothing in the documents fits: a question is told so plainly, anything else gets the fallback."""
        if is_question(self.text):
            buttons = [{"title": self.kb.entry_title(ref), "payload": choice_payload(ref)} for ref in self.candidates()]
            buttons.append({"title": text(self.domain, "utter_coordinator_button"), "payload": "/request_human"})
            self.dispatcher.utter_message(response="utter_not_in_documents", buttons=[] if self.in_form else buttons)
            return [SlotSet(CONTEXT, None), SlotSet(OFFER, None)]
        return ActionFallback().respond(self.dispatcher, self.tracker, self.domain)

    # --- follow-ups -----------------------------------------------------------------------
    def is_followup(self, intent: str) -> bool:
        """A short message that refers back ("hvor foregår det?", "og i nordjylland?"), or the follow-up intent."""
        if intent == "followup" or self.requested("aspect") or self.requested("entry"):
            return True
        folded = words(self.text)
        if not folded or len(folded) > FOLLOWUP_MAX_WORDS or not self.tracker.get_slot(CONTEXT):
            return False
        short_aspect = len(folded) <= SHORT_FOLLOWUP_WORDS and bool(self.aspect())  # "hvor ofte?", "hvornår?", "fortæl mere"
        refers_back = any(w in self.kb.vocabulary["anaphora"] for w in folded) or folded[0] in ("og", "men") or short_aspect
        names_something = self.kb.unknown_asked(self.text) is not None or any(entity_values(self.tracker, e) for e in OPPORTUNITY_ENTITIES)
        return refers_back and not names_something

    def requested(self, entity: str) -> str:
        values = entity_values(self.tracker, entity)
        return values[0] if values else ""

    def aspect(self) -> str:
        asked = self.requested("aspect")
        if asked in ASPECTS:
            return asked
        for aspect in ASPECTS:
            if self.kb.said_exactly(f"followup_{aspect}", self.text):
                return aspect
        return ""

    def followup(self) -> List[EventType]:
        chosen = self.requested("entry")
        if chosen and self.kb.entry(chosen) is not None:
            return self.show(chosen)  # a "Mente du …?" button
        ref = str(self.tracker.get_slot(CONTEXT) or "")
        entry = self.kb.entry(ref) if ref else None
        if entry is None:
            if self.tracker.get_slot("last_list") and _ordinal(self.tracker, loose=True):
                events = self.list_item(_ordinal(self.tracker, loose=True))
                if events is not None:
                    return events
            if len(words(self.text)) > FOLLOWUP_MAX_WORDS and not self.requested("entry"):
                runner_up = next((name for name, _ in ranking(self.tracker) if name != self.kb.FOLLOWUP_INTENT), "nlu_fallback")
                return self.answer(runner_up)  # "jeg kunne godt tænke mig at besøge patienter, hvordan gør jeg det?" is a question of its own
            found = self.found()
            if found is not None:
                return self.show(found)  # "kan man sidde og snakke med de indlagte" needs no earlier answer
            self.dispatcher.utter_message(response="utter_followup_no_context")
            return []
        ordinal = _ordinal(self.tracker, loose=True)
        if ordinal and self.tracker.get_slot("last_list"):
            events = self.list_item(ordinal)
            if events is not None:
                return events
        aspect = self.aspect()
        places = self.place_regions()
        shown = self.tracker.get_slot(OFFER) in ("more", "signup") and not self.tracker.get_slot("last_list")
        if aspect == "more":
            return self.show(ref, detail=shown)  # after a list, "hvad laver man der?" first gets the answer itself
        if places and aspect in ("", "where") and not isinstance(entry, Opportunity):
            elsewhere = self.same_question_in(places, entry, ref)
            if elsewhere is not None:
                return self.show(elsewhere)  # "og hvad med nordjylland?"
        if aspect == "contact":
            contact = self.contact(places or regions_of(self.kb.entry(group(ref))) or self.context_regions())
            if contact is not None:
                return contact + [SlotSet(CONTEXT, ref)]
        if aspect == "join":
            return self.join(entry)
        if aspect == "requirements":
            asked = self.choose(REQUIREMENTS_INTENT) or f"topic:{REQUIREMENTS_TOPIC}"  # "skal jeg have en uddannelse?" is its own entry
            return self.show(asked) + ([SlotSet(CONTEXT, ref)] if not isinstance(entry, Topic) else [])
        if aspect == "who" and isinstance(entry, Opportunity):
            self.say(f"{first_sentence(entry.answer)} {entry.join}" if entry.join else entry.answer, entry.source)
            return [SlotSet(CONTEXT, ref)]
        if not aspect and not places:
            other = self.other_opportunity_named(ref)
            if other is not None:
                return self.one_opportunity(other)  # "hvad med dem der er for børnene?"
        if aspect == "where" or places:
            return self.where(entry, ref, places)
        previous = self.previous_question()
        combined = self.choose(latest_intent(self.tracker)[0], query=f"{previous} {self.text}") if previous else None
        if combined is not None and group(combined) != group(ref):
            return self.show(combined)  # "hvornår blev den godkendt?" after the strategy
        if aspect == "when":
            dated = dated_sentence(entry) if self.kb.said_exactly("followup_when_past", self.text) else None
            if dated is not None:
                self.say(dated, source_of(entry, ref))  # "hvornår blev det lavet?" of a centre founded in 1992
            else:
                self.dispatcher.utter_message(response="utter_followup_when")
            return [SlotSet(CONTEXT, ref)]
        return self.show(ref, detail=shown and bool(getattr(entry, "more", "")))

    def where(self, entry: AnyEntry, ref: str, places: tuple[str, ...]) -> List[EventType]:
        regions = regions_of(entry)
        where = entry.where if isinstance(entry, Opportunity) else ""
        if places and regions and not set(places) & set(regions):
            place = self.requested("municipality") or self.kb.region_name(places[0])
            self.dispatcher.utter_message(response="utter_followup_not_there", title=entry.title, place=place, where=where or self.regions_sentence(regions))
            instead = self.counterpart(entry, places[0]) if isinstance(entry, Opportunity) else None
            if instead is not None:
                self.dispatcher.utter_message(response="utter_followup_instead", place=place)
                return self.one_opportunity(instead)  # "og i Sjælland?" after the 112-førstehjælpere: Hjerteløberne
            return [SlotSet(CONTEXT, ref)]
        if not where and not regions:
            return self.show(ref)  # "hvordan finder jeg det nærmeste?": the answer says where
        if isinstance(entry, Opportunity) and places and where:
            self.dispatcher.utter_message(response="utter_followup_there", title=entry.title, where=where)  # "er det også i Sjælland?"
            return [SlotSet(CONTEXT, ref)]
        if not where:
            where = f"{self.regions_sentence(regions)} {first_sentence(entry.answer)}"  # the answer says where in the region
        self.say(where, source_of(entry, ref))
        return [SlotSet(CONTEXT, ref)]

    def counterpart(self, entry: Opportunity, region: str) -> Opportunity | None:
        """The region's own opportunity most like one of another region's."""
        relevance = self.kb.index.scores(" ".join((entry.title, entry.answer, *entry.tags[:8])))
        candidates = [o for o in self.kb.opportunities if region in o.regions and o.id != entry.id and relevance.get(f"opp:{o.id}", 0.0) > 0]
        best = max(candidates, key=lambda o: relevance[f"opp:{o.id}"], default=None)
        return best if best is not None and relevance[f"opp:{best.id}"] >= COUNTERPART_SCORE else None

    def other_opportunity_named(self, ref: str) -> Opportunity | None:
        """An opportunity a follow-up names by its own words, other than the one talked about."""
        scored = [(self.kb.tag_score(o, self.text), o) for o in self.kb.opportunities if f"opp:{o.id}" != ref]
        score, best = max(scored, key=lambda pair: pair[0], default=(0.0, None))
        return best if score >= NAMED_IN_FOLLOWUP else None

    def same_question_in(self, places: tuple[str, ...], entry: AnyEntry, ref: str) -> str | None:
        """The entry that answers the previous question for another region, if the documents have one."""
        if set(places) & set(regions_of(entry)):
            return None
        previous = without_places(self.previous_question())
        if not previous:
            return None
        for found, _score in self.kb.index.ranked(f"{previous} {without_places(self.text)}")[:8]:
            candidate = self.kb.entry(found.ref)
            if found.ref != ref and set(places) & set(regions_of(candidate)):
                return found.ref
        return None

    def regions_sentence(self, regions: tuple[str, ...]) -> str:
        if not regions:
            return ""
        names = [self.kb.region_name(code) for code in regions]
        joined = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} og {names[-1]}"
        return text(self.domain, "utter_followup_where_regions", regions=joined)

    def join(self, entry: AnyEntry | None) -> List[EventType]:
        """How to become what the entry is about (or a volunteer at all), and the offer to sign up here."""
        parts = [entry.join] if isinstance(entry, Opportunity) and entry.join else []
        parts.append(text(self.domain, "utter_join_here"))
        self.say(" ".join(parts), entry.source if isinstance(entry, Opportunity) else ())
        events: List[EventType] = [SlotSet("context_role", entry.interest)] if isinstance(entry, Opportunity) else []
        return events + self.offer_signup()

    def how_to_join(self) -> List[EventType]:
        """A question about becoming a volunteer: the role or place it names and the offer; or how to join; or what there is to do."""
        if any(entity_values(self.tracker, kind) for kind in (*OPPORTUNITY_ENTITIES, *PLACE_ENTITIES)) or self.kb.topical_matches(self.text):
            return self.opportunities()
        context = self.kb.entry(str(self.tracker.get_slot(CONTEXT) or ""))
        if isinstance(context, Opportunity):
            return self.join(context)
        if self.kb.said("signup_how", self.text):
            return self.join(None)
        return self.opportunities()

    def place_regions(self) -> tuple[str, ...]:
        """The regions the latest message names, by region or by municipality."""
        found = list(entity_values(self.tracker, "region"))
        for name in entity_values(self.tracker, "municipality"):
            found += [p.region for p in resolve(name)[:1]]
        if not found:
            found = [p.region for p in resolve(self.text)[:1]]
        return tuple(dict.fromkeys(found))

    def context_regions(self) -> tuple[str, ...]:
        """The region of the conversation: the sign-up's, or the last one an earlier message named ("jeg bor i Næstved")."""
        region = self.tracker.get_slot("region")
        if region:
            return (region,)
        for event in list(user_turns(self.tracker))[1:]:
            parse = event.get("parse_data") or {}
            named = [str(e.get("value")) for e in parse.get("entities") or [] if e.get("entity") == "region"]
            named += [p.region for e in parse.get("entities") or [] if e.get("entity") == "municipality" for p in resolve(str(e.get("value")))[:1]]
            named += [p.region for p in resolve(str(event.get("text") or ""))[:1]]
            if named:
                return (named[0],)
        return ()

    def previous_question(self) -> str:
        """The citizen's message before this one, for elliptic follow-ups ("og hvad med nordjylland?")."""
        turns = [e for e in user_turns(self.tracker) if not str(e.get("text") or "").startswith("/")]
        return str(turns[1].get("text") or "") if len(turns) > 1 else ""

    # --- safety ----------------------------------------------------------------------------
    def safety(self, intent: str) -> List[EventType] | None:
        """112, Livslinien or the lægevagt; None when the message is about volunteering after all."""
        acute = self.kb.said("acute", self.text)
        wants_someone = self.kb.said("wants_someone", self.text)
        not_now = wants_someone if intent == "medical_question" else self.kb.said("past_or_lasting", self.text) or wants_someone
        if intent in ("emergency", "medical_question") and not_now and not acute:
            return self.patient_help()  # an illness, but the question is for someone to talk to
        if intent == "emergency":
            return self.show(f"topic:{self.kb.topics_for('emergency')[0].id}") + [SlotSet(CONTEXT, None)]
        if intent == "crisis":
            return self.show(f"topic:{self.kb.topics_for('crisis')[0].id}") + [SlotSet(CONTEXT, None)]
        if self.kb.said("volunteer_words", self.text):
            return None
        region = self.kb.regions.get(next(iter(self.place_regions() or self.context_regions()), ""))
        if region is not None and region.laegevagt:
            self.dispatcher.utter_message(response="utter_medical_region", region=region.name, number=region.laegevagt)
        else:
            self.dispatcher.utter_message(response="utter_medical_any_region")
        return [SlotSet(CONTEXT, None), SlotSet(OFFER, None)]

    def patient_help(self) -> List[EventType]:
        """An illness that is not an emergency now: the offers for patients and relatives, and one safety line."""
        own = {f"topic:{t.id}" for t in self.kb.topics_for("ask_patient_help")}
        ranked = [ref for ref, _ in self.scores("ask_patient_help", self.text) if ref in own]
        events = self.show(ranked[0] if ranked else next(iter(sorted(own))))
        self.dispatcher.utter_message(response="utter_safety_line")
        return events


def without_places(value: str) -> str:
    """The text without the words that name a region or a municipality: what is asked, not where."""
    return " ".join(word for word in value.split() if not resolve(word))


def choice_payload(ref: str) -> str:
    return "/followup" + json.dumps({"entry": ref}, ensure_ascii=False)


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        intent, _ = latest_intent(tracker)
        return Answerer(dispatcher, tracker, domain).answer(intent)


class ActionOutOfScope(Action):
    """Out of scope by the NLU, unless the message names something the documents answer (or plainly do not)."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        answerer = Answerer(dispatcher, tracker, domain)
        if answerer.is_followup("out_of_scope") and answerer.aspect():
            return answerer.followup()
        unknown = kb().unknown_asked(answerer.text)
        ref = f"unknown:{unknown.id}" if unknown else (answerer.found() if latest_intent(tracker)[1] < SURE_OUT_OF_SCOPE else None)
        if ref is not None:
            return answerer.show(ref)
        dispatcher.utter_message(response="utter_out_of_scope")
        return [SlotSet(CONTEXT, None), SlotSet(OFFER, None)]


class ActionFallback(Action):
    """Search first; then "Mente du …?" with the best guesses; the second miss in a row offers a coordinator."""

    def name(self) -> str:
        return "action_fallback"

    @staticmethod
    def consecutive_misses(tracker: Tracker) -> int:
        misses = 0
        for event in user_turns(tracker):
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if name in ("nlu_fallback", "inform") or not name:
                misses += 1
            else:
                break
        return misses

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        answerer = Answerer(dispatcher, tracker, domain)
        if answerer.is_followup(""):
            return answerer.followup()
        if answerer.medical():
            return answerer.safety("medical_question") or []
        unknown = kb().unknown_asked(answerer.text)
        if unknown is not None:
            return answerer.show(f"unknown:{unknown.id}")
        if is_question(answerer.text) and kb().said("wish_to_do", answerer.text):
            return answerer.how_to_join()  # "jeg har lyst til at blive frivillig, men hvad findes der?"
        if any(entity_values(tracker, kind) for kind in (*OPPORTUNITY_ENTITIES, *PLACE_ENTITIES)):
            return answerer.opportunities()  # "måltidsvært?", "i Odense?" name what it is about
        ref = answerer.found()
        if ref is not None:
            return answerer.show(ref)
        return self.respond(dispatcher, tracker, domain)

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, ruled_out: tuple[str, ...] = ()) -> List[Dict[str, Any]]:
        """ "Mente du …?" from the search and the NLU's guesses; `ruled_out` intents, already found not to fit, are not offered."""
        if self.consecutive_misses(tracker) >= 2:
            dispatcher.utter_message(response="utter_offer_coordinator")
            return []
        knowledge = kb()
        answerer = Answerer(dispatcher, tracker, domain)
        buttons = [{"title": knowledge.entry_title(ref), "payload": choice_payload(ref)} for ref in answerer.candidates()]
        labels = knowledge.labels
        guesses = [
            name
            for name, confidence in ranking(tracker)
            if name not in GENERIC_INTENTS and name not in ruled_out and name in labels and (name not in SAFETY_INTENTS or confidence >= PLAUSIBLE_SAFETY_GUESS)
        ][: max(0, 2 - len(buttons))]
        buttons += [{"title": labels[name], "payload": f"/{name}"} for name in guesses]
        if not buttons:
            dispatcher.utter_message(response="utter_did_you_mean_none")
            return []
        buttons.append({"title": text(domain, "utter_something_else"), "payload": "/help"})
        dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
        return []
