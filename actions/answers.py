"""Answers from the knowledge base, and the two-stage fallback."""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import GENERIC_INTENTS, entity_values, latest_intent, latest_text, ranking, text, user_turns
from bot.knowledge import Opportunity, Query, Topic, kb
from bot.language.text import fold, words

MAX_LISTED = 6
OPPORTUNITY_ENTITIES = ("role", "place", "organisation")
SAFETY_INTENTS = ("emergency", "crisis", "medical_question")  # always answered with their own advice
PLAUSIBLE_SAFETY_GUESS = 0.5  # below this, "Mente du: ring 112?" to a message about something else only confuses
UNSURE_BELOW = 0.7  # an intent this uncertain yields to a role, place or organisation the message names
LIST_INTENTS = ("ask_list_item", "ask_strategy", "ask_sjaelland", "ask_specialsektor", "ask_committee")
_ORDINAL_WORD = {"sidste": "sidste", "sidst": "sidste"}
_DIGIT = re.compile(r"[1-9]")


def _items(opportunities: List[Opportunity]) -> str:
    return "\n".join(f"• {o.title}: {o.summary}" for o in opportunities[:MAX_LISTED])


def _sources(opportunities: List[Opportunity]) -> str:
    ids: List[str] = []
    for opp in opportunities[:MAX_LISTED]:
        ids += [s for s in opp.source if s not in ids]
    return kb().cite(ids)


def _ordinal(tracker: Tracker, loose: bool) -> str | None:
    """'1'…'9' or 'sidste' for "det tredje", "nummer 2", "pejlemærke fire"; never a count like "de 4 pejlemærker".

    `loose` also accepts a bare digit or number word, for messages that only ask for a list item.
    """
    text_value = latest_text(tracker)
    for item in tracker.latest_message.get("entities") or []:
        if item.get("entity") != "ordinal" or item.get("value") is None:
            continue
        before = fold(text_value[: int(item.get("start") or 0)]).split()[-1:]
        if before in (["de"], ["alle"]):
            continue
        value = _ORDINAL_WORD.get(str(item["value"]).lower(), str(item["value"]))
        if value == "sidste" or value.isdigit():
            return value
    folded = words(text_value)
    numbers = kb().vocabulary["number_words"]
    markers = kb().vocabulary["list_item_markers"]
    for i, word in enumerate(folded):
        previous = folded[i - 1] if i else ""
        if previous in ("de", "alle"):
            continue
        found = str(numbers.index(word) + 1) if word in numbers else word if _DIGIT.fullmatch(word) else None
        if found and (loose or previous in markers):
            return found
    return None


class Answerer:
    """Composes the answer to the latest message; shared by action_answer and the forms' interruptions."""

    def __init__(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, in_form: bool = False) -> None:
        self.dispatcher, self.tracker, self.domain, self.in_form = dispatcher, tracker, domain, in_form
        self.kb = kb()

    def answer(self, intent: str) -> List[EventType]:
        ordinal = _ordinal(self.tracker, loose=intent == "ask_list_item") if intent in LIST_INTENTS else None
        if intent == "ask_list_item" or ordinal:
            events = self.list_item(ordinal)
            if events is not None:
                return events
        if intent == "ask_opportunities":
            return self.opportunities()
        if intent == "ask_contact":
            contact_events = self.contact()
            if contact_events is not None:
                return contact_events
        text_value = latest_text(self.tracker)
        mentions = any(entity_values(self.tracker, kind) for kind in OPPORTUNITY_ENTITIES)
        unsure = latest_intent(self.tracker)[1] < UNSURE_BELOW
        if intent not in SAFETY_INTENTS and unsure and mentions and self.kb.matched_topic(intent, text_value) is None:
            return self.opportunities()  # no entry of the intent fits, but the message names a role, place or organisation
        topic = self.kb.best_topic(intent, text_value)
        if topic is None:
            self.dispatcher.utter_message(response="utter_default")
            return []
        return self.topic(topic)

    def topic(self, topic: Topic) -> List[EventType]:
        buttons = [] if self.in_form else [dict(b) for b in topic.buttons]
        self.dispatcher.utter_message(response="utter_kb_answer", answer=topic.answer, source=self.kb.cite(topic.source), buttons=buttons)
        if topic.items:
            return [SlotSet("last_list", [f"topic:{topic.id}#{i}" for i in range(1, len(topic.items) + 1)])]
        return []

    def list_item(self, ordinal: str | None) -> List[EventType] | None:
        """The n-th entry of the list the citizen names, or of the last list shown."""
        text_value = latest_text(self.tracker)
        named = self.kb.list_topic(text_value)
        refs = [f"topic:{named.id}#{i}" for i in range(1, len(named.items) + 1)] if named else list(self.tracker.get_slot("last_list") or [])
        if not ordinal:
            if named:
                return self.topic(named)
            return None
        if not refs:
            if self.kb.topical_matches(text_value):
                return self.opportunities()  # "til sidst" was not a list item: the message is about an opportunity
            self.dispatcher.utter_message(response="utter_no_list")
            return []
        index = len(refs) if ordinal == "sidste" else int(ordinal)
        if not 1 <= index <= len(refs):
            self.dispatcher.utter_message(response="utter_list_item_out_of_range", count=len(refs))
            return []
        ref = refs[index - 1]
        if ref.startswith("opp:"):
            opp = self.kb.opportunity(ref[4:])
            if opp is None:
                return None
            return self.one_opportunity(opp)
        topic_id, _, number = ref[6:].partition("#")
        topic = self.kb.topic(topic_id)
        if topic is None or not number.isdigit() or int(number) > len(topic.items):
            return None
        item = topic.items[int(number) - 1]
        self.dispatcher.utter_message(response="utter_list_item", title=f"{number}. {item.title}", answer=item.answer, source=self.kb.cite(topic.source))
        return [SlotSet("last_list", refs)]

    def one_opportunity(self, opp: Opportunity) -> List[EventType]:
        buttons = [] if self.in_form else [{"title": text(self.domain, "utter_signup_button"), "payload": "/signup"}]
        self.dispatcher.utter_message(response="utter_kb_answer", answer=opp.answer, source=self.kb.cite(opp.source), buttons=buttons)
        return [SlotSet("context_role", opp.interest)]

    def opportunities(self) -> List[EventType]:
        query = Query(
            text=latest_text(self.tracker),
            roles=set(entity_values(self.tracker, "role")),
            places=set(entity_values(self.tracker, "place")),
            organisations=set(entity_values(self.tracker, "organisation")),
            regions=set(entity_values(self.tracker, "region")),
            municipalities=set(entity_values(self.tracker, "municipality")),
        )
        result = self.kb.search(query)
        place = result.municipality or (self.kb.region_name(result.region) if result.region else "")
        region = self.kb.regions.get(result.region)
        if region is not None and not region.covered and not result.matches:
            self.dispatcher.utter_message(response="utter_region_not_covered", place=region.name)
            return []
        if len(result.matches) == 1:
            return self.one_opportunity(result.matches[0])
        if result.matches:
            listed = result.matches[:MAX_LISTED]
            if place:
                self.dispatcher.utter_message(response="utter_opportunities_found_in", place=place, items=_items(listed), source=_sources(listed))
            else:
                self.dispatcher.utter_message(response="utter_opportunities_found", items=_items(listed), source=_sources(listed))
            interests = {o.interest for o in listed}
            events: List[EventType] = [SlotSet("last_list", [f"opp:{o.id}" for o in listed])]
            if len(interests) == 1:
                events.append(SlotSet("context_role", interests.pop()))
            return events
        shown = result.alternatives or self.kb.opportunities[:MAX_LISTED]
        if result.alternatives and place:
            self.dispatcher.utter_message(response="utter_opportunities_none_in", place=place, items=_items(shown), source=_sources(shown))
        else:
            self.dispatcher.utter_message(response="utter_opportunities_none", items=_items(shown), source=_sources(shown))
        return [SlotSet("last_list", [f"opp:{o.id}" for o in shown[:MAX_LISTED]])]

    def contact(self) -> List[EventType] | None:
        """The published contact of the region the citizen names; None when no region is named."""
        regions = set(entity_values(self.tracker, "region"))
        query = Query(text=latest_text(self.tracker), regions=regions, municipalities=set(entity_values(self.tracker, "municipality")))
        result_region = self.kb.search(query).region if (query.regions or query.municipalities) else ""
        contact = self.kb.contacts.get(result_region)
        if contact is None:
            return None
        self.dispatcher.utter_message(response="utter_kb_answer", answer=contact.answer, source=self.kb.cite(contact.source))
        return []


class ActionAnswer(Action):
    def name(self) -> str:
        return "action_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[str, Any]]:
        intent, _ = latest_intent(tracker)
        return Answerer(dispatcher, tracker, domain).answer(intent)


class ActionFallback(Action):
    """First miss: "Mente du …?" with the two best guesses. Second miss in a row: offer a coordinator."""

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
        return self.respond(dispatcher, tracker, domain)

    def respond(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, ruled_out: tuple[str, ...] = ()) -> List[Dict[str, Any]]:
        """The fallback's answer; `ruled_out` intents, already found not to fit, are not offered as guesses."""
        if any(entity_values(tracker, kind) for kind in (*OPPORTUNITY_ENTITIES, "region", "municipality")):
            return Answerer(dispatcher, tracker, domain).opportunities()  # "måltidsvært?", "i Odense?" name what it is about
        if self.consecutive_misses(tracker) >= 2:
            dispatcher.utter_message(response="utter_offer_coordinator")
            return []
        labels = kb().labels
        guesses = [
            name
            for name, confidence in ranking(tracker)
            if name not in GENERIC_INTENTS and name not in ruled_out and name in labels and (name not in SAFETY_INTENTS or confidence >= PLAUSIBLE_SAFETY_GUESS)
        ][:2]
        if not guesses:
            dispatcher.utter_message(response="utter_did_you_mean_none")
            return []
        entities = {
            e["entity"]: e["value"]
            for e in tracker.latest_message.get("entities") or []
            if e.get("entity") in ("role", "place", "organisation", "region", "municipality")
        }
        suffix = json.dumps(entities, ensure_ascii=False) if entities else ""
        buttons = [{"title": labels[name], "payload": f"/{name}{suffix}"} for name in guesses]
        buttons.append({"title": text(domain, "utter_something_else"), "payload": "/help"})
        dispatcher.utter_message(response="utter_did_you_mean", buttons=buttons)
        return []
