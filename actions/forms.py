"""The sign-up and handoff forms: one question at a time, every answer checked.

Every answer goes through the same steps first (`answer_to`): a correction of an earlier
answer, a CPR number, or a question asked instead of an answer ("har frivillige
tavshedspligt?"), which is answered here, in the validator, leaving the slot empty so that
the form asks the pending question again. Cancelling and requests for a person leave the
form through rules (stories/signup.yml, stories/handoff.yml). The forms' slots are the ones
domain.yml lists; what is stored of them is bot.store.schema.LEAD_FIELDS.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, List

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActionExecutionRejected, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.answers import CONTEXT, OFFER, ActionFallback, Answerer, is_question
from actions.common import entity_values, form_slots, knowledge_intents, latest_intent, latest_text, text, user_turns
from bot.conventions import ERASURE_SLOT, MAX_MESSAGE_CHARS
from bot.knowledge import geo, kb
from bot.language import validation
from bot.language.privacy import contains_cpr
from bot.language.text import fold
from bot.settings import settings
from bot.store.schema import HANDOFF, SIGNUP, fields_of

OPTIONAL = {"email", "message"}
# A request for a person, for one's own data or for help, given instead of an answer of fixed form
# (a name, a phone number), leaves the form through the rules; a valid answer is an answer.
INTERRUPTING_INTENTS = ("request_human", "ask_stored_data", "delete_data", "share_cpr", "emergency", "crisis")
NOT_AN_ANSWER = "__not_an_answer__"  # a validator's way to hand the message to the rules (validators return slot dicts)
MISSES_BEFORE_OFFER = 3
SOCIAL_INTENTS = {"greet", "goodbye", "thank", "affirm", "deny", "help", "bot_challenge"}
INTERRUPTION_CONFIDENCE = 0.6
FREE_TEXT_INTERRUPTION_CONFIDENCE = 0.8
QUESTION_MIN_WORDS = 3  # a misunderstood message this long is a question worth passing on


def summary(domain: DomainDict, kind: str, value_of: Callable[[str], Any]) -> str:
    """The answers of a sign-up or handoff, one line each, as the citizen sees them before consenting and later."""
    knowledge = kb()
    lines = []
    for field in fields_of(kind):
        value = value_of(field.name)
        if field.name == "phone" and value:
            value = validation.phone_display(value)
        elif field.name == "interests":
            value = ", ".join(i.title for code in value or [] if (i := knowledge.interest(code)))
        elif field.name == "region" and value:
            value = knowledge.region_name(value)
        if field.name in ("municipality", "message") and not value:
            continue
        lines.append(text(domain, f"utter_summary_{field.name}", value=value or text(domain, "utter_not_given")))
    return "\n".join(lines)


Answer = Callable[["ContactFormValidator", Any, CollectingDispatcher, Tracker, DomainDict], Dict[str, Any]]
LooksValid = Callable[[Any, Tracker], bool]


def answer_to(slot: str, looks_valid: LooksValid | None = None, *, interruptible: bool = True) -> Callable[[Answer], Answer]:
    """`validate_<slot>` (the rasa-sdk contract) with the steps every answer goes through first.

    No answer yet: nothing to check. A correction of an earlier answer ("nej, min mail er …")
    is made. A CPR number is refused. A question asked instead of an answer is answered, when
    `interruptible`. Only then does the slot's own check run. `looks_valid` says whether the
    text is a valid answer of fixed form (an e-mail, a municipality): then it is an answer,
    whatever the NLU thinks (see `interruption`); None means free text.
    """

    def decorate(check: Answer) -> Answer:
        @functools.wraps(check)
        def validate(self: ContactFormValidator, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
            if slot_value is None:
                return {}
            corrected = self.late_correction(slot, dispatcher, tracker)
            if corrected is not None:
                return corrected
            if contains_cpr(latest_text(tracker)):
                dispatcher.utter_message(response="utter_no_cpr")
                return {slot: None}
            if interruptible:
                valid = None if looks_valid is None else looks_valid(slot_value, tracker)
                intent, confidence = latest_intent(tracker)
                if valid is False and intent in INTERRUPTING_INTENTS and confidence >= INTERRUPTION_CONFIDENCE:
                    return {slot: None, NOT_AN_ANSWER: True}
                interrupted = self.interruption(slot, dispatcher, tracker, domain, valid)
                if interrupted is not None:
                    return interrupted
            return check(self, slot_value, dispatcher, tracker, domain)

        return validate

    return decorate


def _known_codes(value: Any) -> bool:
    """A list of interest codes: the form's slot was filled from the role asked about before the sign-up."""
    return isinstance(value, list) and bool(value) and all(kb().interest(str(code)) for code in value)


def _contact_like(value: Any, _tracker: Tracker) -> bool:
    return bool(validation.find_email(str(value)) or validation.find_phone(str(value)))


def _consent_given(value: Any, tracker: Tracker) -> bool:
    return consent_answer(str(value), tracker) is not None


def consent_validator(slot: str) -> Answer:
    """The consent question's validator; the sign-up and the handoff each ask it, into their own slot."""

    @answer_to(slot, _consent_given)
    def validate_consent(self: ContactFormValidator, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        answer = consent_answer(str(slot_value), tracker)
        if answer is None:
            dispatcher.utter_message(response="utter_consent_unclear")
        return {slot: answer}

    return validate_consent


class ContactFormValidator(FormValidationAction, ABC):
    """Validation shared by the sign-up and the handoff: name, contact, municipality."""

    @abstractmethod
    def name(self) -> str:
        """Abstract, so that the SDK does not register the base class as an action."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        """rasa-sdk's validation, and the form rejected when a validator found a request instead of an answer."""
        events = await super().run(dispatcher, tracker, domain)
        rejected = any(e.get("event") == "slot" and e.get("name") == NOT_AN_ANSWER for e in events)
        events = [e for e in events if not (e.get("event") == "slot" and e.get("name") == NOT_AN_ANSWER)]
        if rejected:
            events.append(ActionExecutionRejected(self.form_name()))
        return events

    # --- shared mechanics --------------------------------------------------------
    def interruption(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict, valid: bool | None) -> Dict[str, Any] | None:
        """Answer a question asked instead of an answer; the form then asks again.

        `valid` says whether the message is a valid answer to a slot with a fixed form (an e-mail,
        a municipality, "vejviser"): then it is an answer, whatever the NLU thinks. For free text
        (availability, a message; `valid` is None) only a confident question counts as an interruption.
        """
        intent, confidence = latest_intent(tracker)
        value = latest_text(tracker)
        if intent not in knowledge_intents() or confidence < INTERRUPTION_CONFIDENCE:
            return None
        if valid is True or (valid is None and confidence < FREE_TEXT_INTERRUPTION_CONFIDENCE and "?" not in value):
            return None
        events = Answerer(dispatcher, tracker, domain, in_form=True).answer(intent)
        result: Dict[str, Any] = {slot: None}
        result.update({e["name"]: e["value"] for e in events if e.get("event") == "slot"})
        return result

    def late_correction(self, slot: str, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[str, Any] | None:
        """A correction of an earlier answer given instead of this one: "nej, min mail er …", "ret mit nummer".

        Corrections are recognised here, in the form, by what the message says, and not by the
        NLU's `correct` intent alone: a name like "Birgitte Holm" read as a correction must still
        be a name. The pending question is asked again after the corrected one.
        """
        changes = correction(latest_text(tracker), tracker, dispatcher, skip=slot)
        if changes is None:
            return None
        return {**changes, slot: None}

    def miss(self, slot: str, response: str, dispatcher: CollectingDispatcher, tracker: Tracker, **values: Any) -> Dict[str, Any]:
        """Reject the answer with a specific explanation; after three misses offer a way out."""
        dispatcher.utter_message(response=response, **values)
        misses = dict(tracker.get_slot("misses") or {})
        misses[slot] = int(misses.get(slot, 0)) + 1
        if misses[slot] >= MISSES_BEFORE_OFFER:
            optional = slot in OPTIONAL or (slot == "phone" and tracker.get_slot("email"))
            dispatcher.utter_message(response="utter_offer_skip" if optional else "utter_offer_coordinator_after_misses")
        return {slot: None, "misses": misses}

    def accept(self, tracker: Tracker, slot: str, values: Dict[str, Any]) -> Dict[str, Any]:
        misses = dict(tracker.get_slot("misses") or {})
        if misses.pop(slot, None) is not None:
            values["misses"] = misses
        return values

    def skipping(self, value: str, tracker: Tracker) -> bool:
        return latest_intent(tracker)[0] == "deny" or latest_intent_from_text(value)[0] == "deny" or kb().said("skip", value)

    # --- slots ---------------------------------------------------------------------
    @answer_to("name", lambda value, _tracker: person_name(str(value)) is not None)
    def validate_name(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        intent, confidence = latest_intent(tracker)
        raw = str(slot_value)
        value = person_name(raw)
        if value is None or (intent in SOCIAL_INTENTS and confidence > 0.8 and len(raw.split()) == 1):  # "goddag", but "Ib Hjælp" is a name
            return self.miss("name", "utter_invalid_name", dispatcher, tracker)
        return self.accept(tracker, "name", {"name": value})

    @answer_to("email", _contact_like)
    def validate_email(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        raw = str(slot_value).strip()
        found_phone = validation.phone(raw) if validation.find_phone(raw) else None
        if validation.find_email(raw) or "@" in raw:
            value = validation.email(raw)
            if value is None:
                return self.miss("email", "utter_invalid_email", dispatcher, tracker, value=validation.find_email(raw) or raw)
            result: Dict[str, Any] = {"email": value}
            if found_phone:
                result["phone"] = found_phone
            return self.accept(tracker, "email", result)
        if found_phone:
            return self.accept(tracker, "email", {"email": "", "phone": found_phone})
        if self.skipping(raw, tracker):
            return self.accept(tracker, "email", {"email": ""})
        return self.miss("email", "utter_invalid_email", dispatcher, tracker, value=raw[:80])

    @answer_to("phone", _contact_like)
    def validate_phone(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        raw = str(slot_value).strip()
        has_email = bool(tracker.get_slot("email"))
        if validation.find_email(raw) and not has_email:
            value = validation.email(raw)
            if value:
                found_phone = validation.phone(raw) if validation.find_phone(raw) else None
                return self.accept(tracker, "phone", {"email": value, "phone": found_phone or ""})
        if validation.find_phone(raw) or any(ch.isdigit() for ch in raw):
            value = validation.phone(raw)
            if value is None:
                return self.miss("phone", "utter_invalid_phone", dispatcher, tracker, value=raw[:40])
            return self.accept(tracker, "phone", {"phone": value})
        if self.skipping(raw, tracker):
            if has_email:
                return self.accept(tracker, "phone", {"phone": ""})
            return self.miss("phone", "utter_phone_needed", dispatcher, tracker)
        return self.miss("phone", "utter_invalid_phone", dispatcher, tracker, value=raw[:40])

    @answer_to("municipality", lambda value, _tracker: "?" not in str(value) and bool(geo.resolve(str(value))))
    def validate_municipality(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        raw = str(slot_value).strip()
        candidates = geo.resolve(raw)
        for name in entity_values(tracker, "municipality"):
            candidates = candidates or geo.resolve(name)
        if not candidates:
            for code in entity_values(tracker, "region"):
                candidates = [geo.Place(region=code, municipality=None)]
        regions = {c.region for c in candidates}
        if not candidates:
            return self.miss("municipality", "utter_invalid_municipality", dispatcher, tracker, value=raw[:60])
        if len(regions) > 1:
            knowledge = kb()
            buttons = [{"title": knowledge.region_name(code), "payload": knowledge.region_name(code)} for code in sorted(regions)]
            dispatcher.utter_message(response="utter_ambiguous_region", buttons=buttons)
            return {"municipality": None}
        place = candidates[0]
        region = kb().regions.get(place.region)
        if region is not None and not region.covered:
            dispatcher.utter_message(response="utter_region_not_covered", place=region.name)
        return self.accept(tracker, "municipality", {"municipality": place.municipality or "", "region": place.region})


def person_name(text: str) -> str | None:
    vocabulary = kb().vocabulary
    value = validation.name(text, vocabulary["name_prefix"], vocabulary["not_in_names"])
    if value is not None and len(value.split()) == 1 and fold(value) in vocabulary["not_a_name_alone"]:
        return None
    return value


def latest_intent_from_text(value: str) -> tuple[str, float]:
    """Cheap check for a bare "nej"/"ja" in text, used where the NLU intent is not specific enough."""
    knowledge = kb()
    if knowledge.said("deny", value) and len(value.split()) <= 3:
        return "deny", 1.0
    if knowledge.said("affirm", value) and len(value.split()) <= 3:
        return "affirm", 1.0
    return "", 0.0


def consent_answer(value: str, tracker: Tracker) -> bool | None:
    intent, _ = latest_intent(tracker)
    if intent == "affirm":
        return True
    if intent == "deny":
        return False
    guessed, _ = latest_intent_from_text(value)
    return {"affirm": True, "deny": False}.get(guessed)


def _free_text(slot: str, value: str, limit: int, validator: ContactFormValidator, dispatcher: CollectingDispatcher, tracker: Tracker) -> Dict[str, Any]:
    """Free text within the limit, or the reason it was not taken."""
    clean = validation.free_text(value, limit)
    if clean is not None:
        return validator.accept(tracker, slot, {slot: clean})
    if len(value) > limit:
        return validator.miss(slot, "utter_text_too_long", dispatcher, tracker, limit=limit)
    return validator.miss(slot, "utter_invalid_text", dispatcher, tracker)


class ValidateSignupForm(ContactFormValidator):
    def name(self) -> str:
        return "validate_signup_form"

    @answer_to("interests", lambda value, _tracker: _known_codes(value) or bool(kb().interests_from(str(value))))
    def validate_interests(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        if _known_codes(slot_value):
            return {"interests": slot_value}  # prefilled from the role asked about
        raw = " ".join(slot_value) if isinstance(slot_value, list) else str(slot_value)
        codes = kb().interests_from(raw, entity_values(tracker, "role"))
        if not codes:
            return self.miss("interests", "utter_invalid_interests", dispatcher, tracker, value=raw[:60])
        return self.accept(tracker, "interests", {"interests": codes})

    @answer_to("availability")
    def validate_availability(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        return _free_text("availability", str(slot_value), validation.MAX_TEXT, self, dispatcher, tracker)

    @answer_to("message")
    def validate_message(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        if self.skipping(str(slot_value), tracker):
            return self.accept(tracker, "message", {"message": ""})
        return _free_text("message", str(slot_value), MAX_MESSAGE_CHARS, self, dispatcher, tracker)

    validate_consent = consent_validator("consent")


class ValidateHandoffForm(ContactFormValidator):
    def name(self) -> str:
        return "validate_handoff_form"

    async def extract_question(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        """The question the bot could not answer becomes the coordinator's question."""
        if tracker.get_slot("question") or tracker.active_loop.get("name") == "handoff_form":
            return {}
        for event in user_turns(tracker):
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            text_value = str(event.get("text") or "")
            if intent == "nlu_fallback" and len(text_value.split()) >= QUESTION_MIN_WORDS and not text_value.startswith("/"):
                value = validation.free_text(text_value, MAX_MESSAGE_CHARS)
                return {"question": value} if value else {}
        return {}

    @answer_to("question", interruptible=False)
    def validate_question(self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> Dict[str, Any]:
        value = validation.free_text(str(slot_value), MAX_MESSAGE_CHARS)
        if value is None:
            return self.miss("question", "utter_invalid_text", dispatcher, tracker)
        return self.accept(tracker, "question", {"question": value})

    validate_handoff_consent = consent_validator("handoff_consent")


SIGNUP_NOW = "signup_now"  # the rules start the form when an action sets it true (stories/signup.yml)


def start_signup(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """Start a sign-up, with the role the citizen asked or was told about already chosen."""
    knowledge = kb()
    value = latest_text(tracker)
    codes = [] if value.startswith("/") else knowledge.interests_from(value, entity_values(tracker, "role"))
    if not codes and tracker.get_slot("context_role"):
        codes = [tracker.get_slot("context_role")]
    events: List[EventType] = [SlotSet("misses", {}), SlotSet(OFFER, None), SlotSet(SIGNUP_NOW, True)]
    if codes:
        events.append(SlotSet("interests", codes))
        titles = ", ".join(i.title for code in codes if (i := knowledge.interest(code)))
        dispatcher.utter_message(response="utter_signup_intro_with_interest", interests=titles)
    else:
        dispatcher.utter_message(response="utter_signup_intro")
    return events


class ActionPrepareSignup(Action):
    """A wish to sign up starts the form; a question about a role, a place or how to start is answered first, with an offer."""

    def name(self) -> str:
        return "action_prepare_signup"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        value = latest_text(tracker)
        knowledge = kb()
        answerer = Answerer(dispatcher, tracker, domain)
        wish = knowledge.said_exactly("signup_wish", value) or (knowledge.said("wish_to_do", value) and knowledge.said("volunteer_words", value))
        wish_and_how = wish and knowledge.said("signup_how", value)  # "jeg kunne godt tænke mig at blive frivillig, hvordan tilmelder jeg mig?"
        if value.startswith("/") or not is_question(value) or wish_and_how:
            return start_signup(dispatcher, tracker)  # also "det vil jeg gerne melde mig til", with the role talked about
        if answerer.is_followup("signup"):
            return answerer.followup() + [SlotSet(SIGNUP_NOW, False)]  # "kan jeg melde mig til det?"
        return answerer.how_to_join() + [SlotSet(SIGNUP_NOW, False)]


class ActionYesNo(Action):
    """ "ja" or "nej" outside a form: the answer to what the bot just offered (the sign-up, more detail), or nothing to answer."""

    def name(self) -> str:
        return "action_yes_no"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        offered = tracker.get_slot(OFFER)
        if latest_intent(tracker)[0] == "affirm":
            if offered == "signup":
                return start_signup(dispatcher, tracker)
            if offered == "more" and tracker.get_slot(CONTEXT):
                return Answerer(dispatcher, tracker, domain).show(str(tracker.get_slot(CONTEXT)), detail=True) + [SlotSet(SIGNUP_NOW, False)]
            dispatcher.utter_message(response="utter_affirm_no_context")
        else:
            dispatcher.utter_message(response="utter_deny_no_context")
        return [SlotSet(OFFER, None), SlotSet(SIGNUP_NOW, False)]


class ActionAskPhone(Action):
    def name(self) -> str:
        return "action_ask_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_ask_phone_optional" if tracker.get_slot("email") else "utter_ask_phone_required")
        return []


class ActionAskInterests(Action):
    def name(self) -> str:
        return "action_ask_interests"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        buttons = [{"title": i.title, "payload": i.title} for i in kb().interests]
        dispatcher.utter_message(response="utter_interest_options", buttons=buttons)
        dispatcher.utter_message(response="utter_ask_interests")
        return []


class AskConsent(Action, ABC):
    """The consent question of a form: what will be stored, for how long, and may we."""

    kind: str
    response: str

    @abstractmethod
    def name(self) -> str:
        """Abstract, so that the SDK does not register the base class as an action."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        config = settings()
        dispatcher.utter_message(
            response=self.response,
            summary=summary(domain, self.kind, tracker.get_slot),
            retention_days=config.retention_days,
            privacy_url=config.privacy_url,
        )
        return []


class ActionAskConsent(AskConsent):
    kind, response = SIGNUP, "utter_ask_consent"

    def name(self) -> str:
        return "action_ask_consent"


class ActionAskHandoffConsent(AskConsent):
    kind, response = HANDOFF, "utter_ask_handoff_consent"

    def name(self) -> str:
        return "action_ask_handoff_consent"


class ActionAskQuestion(Action):
    def name(self) -> str:
        return "action_ask_question"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_ask_question")
        return []


CORRECTABLE = ("email", "phone", "name", "municipality", "interests", "availability", "message")


def correction(raw: str, tracker: Tracker, dispatcher: CollectingDispatcher, skip: str | None = None) -> Dict[str, Any] | None:
    """The slot changes a correction asks for, after telling the citizen; None when the text corrects nothing.

    A new e-mail or phone number replaces the old one; "ret mit telefonnummer" (a correction
    word and a field) clears that answer so that the form asks for it again.
    """
    knowledge = kb()
    for field, find, parse in (("email", validation.find_email, validation.email), ("phone", validation.find_phone, validation.phone)):
        current = tracker.get_slot(field)
        if field == skip or not current or not find(raw):
            continue
        new_value = parse(raw)
        if new_value and new_value != current:
            dispatcher.utter_message(response="utter_corrected", value=validation.phone_display(new_value) if field == "phone" else new_value)
            return {field: new_value}
    if not knowledge.said("correction_cues", raw):
        return None
    named = next((f for f in CORRECTABLE if f != skip and tracker.get_slot(f) is not None and knowledge.said(f"field_{f}", raw)), None)
    if named is None:
        return None
    dispatcher.utter_message(response="utter_correct_what")
    return {named: None, "region": None} if named == "municipality" else {named: None}


class ActionCorrect(Action):
    """ "nej, min mail er …", "ret mit telefonnummer" outside a form: change the answer, or say what can be changed."""

    def name(self) -> str:
        return "action_correct"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        raw = latest_text(tracker)
        changes = correction(raw, tracker, dispatcher)
        if changes is not None:
            return [SlotSet(slot, value) for slot, value in changes.items()]
        knowledge = kb()
        if not any(knowledge.said(f"field_{field}", raw) for field in CORRECTABLE) and not validation.find_email(raw) and not validation.find_phone(raw):
            return ActionFallback().respond(dispatcher, tracker, domain, ruled_out=("correct",))  # "jeg er ret god til computere" corrects nothing
        dispatcher.utter_message(response="utter_correct_nothing")
        return []


class ActionCancelForm(Action):
    """Cancelled: forget every answer and delete the conversation so far (it holds the answers), so that nothing is kept."""

    def name(self) -> str:
        return "action_cancel_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_cancelled")
        return [SlotSet(slot, None) for slot in form_slots(domain)] + [SlotSet("requested_slot", None), SlotSet(ERASURE_SLOT, True)]


class ActionResumeForm(Action):
    """Not cancelled after all: go back to the form that was interrupted."""

    def name(self) -> str:
        return "action_resume_form"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        from rasa_sdk.events import FollowupAction

        dispatcher.utter_message(response="utter_resume")
        form = "handoff_form" if tracker.get_slot("question") is not None or _last_form(tracker) == "handoff_form" else "signup_form"
        return [FollowupAction(form)]


def _last_form(tracker: Tracker) -> str:
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name"):
            return str(event["name"])
    return ""


class ActionNoCpr(Action):
    def name(self) -> str:
        return "action_no_cpr"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[EventType]:
        dispatcher.utter_message(response="utter_no_cpr")
        return []
