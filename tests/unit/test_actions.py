"""Custom actions run on hand-built trackers: the events they return and what they say."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswer, ActionFallback
from actions.forms import ActionCorrect, ActionPrepareSignup, ValidateSignupForm
from bot.settings import ROOT

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def user(
    text: str, intent: str, confidence: float = 0.99, entities: list[dict[str, Any]] | None = None, ranking: list[tuple[str, float]] | None = None
) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": [{"name": n, "confidence": c} for n, c in ranking or [(intent, confidence)]],
    }


def tracker(
    message: dict[str, Any], slots: dict[str, Any] | None = None, earlier: list[dict[str, Any]] | None = None, active_loop: str | None = None
) -> Tracker:
    events = [{"event": "user", "text": m["text"], "parse_data": m} for m in earlier or []]
    events.append({"event": "user", "text": message["text"], "parse_data": message})
    return Tracker("conv-1", slots or {}, message, events, False, None, {"name": active_loop} if active_loop else {}, "action_listen")


async def run(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, DOMAIN)
    return events, dispatcher.messages


async def test_answer_names_its_source_and_sets_the_list_for_follow_ups() -> None:
    events, messages = await run(ActionAnswer(), tracker(user("hvad er de fire pejlemærker", "ask_strategy")))
    assert messages[0]["response"] == "utter_kb_answer"
    assert "attraktivt" in messages[0]["answer"] and "Region Midtjyllands frivilligstrategi, 2016" in messages[0]["source"]
    assert SlotSet("last_list", ["item:pejlemaerker#1", "item:pejlemaerker#2", "item:pejlemaerker#3", "item:pejlemaerker#4"]) in events
    assert SlotSet("context", "topic:pejlemaerker") in events


@pytest.mark.parametrize(
    ("text", "entities", "expected"),
    [
        ("fortæl mere om det sidste", [{"entity": "ordinal", "value": "sidste", "start": 20}], "Netværksdannelse"),
        ("forklar det tredje", [{"entity": "ordinal", "value": "3", "start": 12}], "klare rammer"),
        ("og nummer to", [], "attraktivt"),
    ],
)
async def test_list_items_follow_the_last_list(text: str, entities: list[dict[str, Any]], expected: str) -> None:
    slots = {"last_list": [f"item:pejlemaerker#{i}" for i in range(1, 5)]}
    _, messages = await run(ActionAnswer(), tracker(user(text, "ask_list_item", entities=entities), slots))
    assert messages[0]["response"] == "utter_list_item" and expected.lower() in (messages[0]["title"] + messages[0]["answer"]).lower()


async def test_a_count_is_not_an_item_number() -> None:
    events, messages = await run(
        ActionAnswer(), tracker(user("hvad er de 4 pejlemærker", "ask_strategy", entities=[{"entity": "ordinal", "value": "4", "start": 11}]))
    )
    assert messages[0]["response"] == "utter_kb_answer" and "attraktivt" in messages[0]["answer"]


async def test_without_a_list_the_bot_asks_which() -> None:
    _, messages = await run(ActionAnswer(), tracker(user("forklar det tredje", "ask_list_item", entities=[{"entity": "ordinal", "value": "3", "start": 12}])))
    assert [m["response"] for m in messages] == ["utter_no_list"]


async def test_one_role_gives_its_description_and_offers_the_sign_up() -> None:
    message = user("hvad er en vågekone", "ask_opportunities", entities=[{"entity": "role", "value": "vaagetjeneste"}])
    events, messages = await run(ActionAnswer(), tracker(message))
    assert "døende" in messages[0]["answer"] and messages[-1]["response"] == "utter_offer_signup"
    assert all(e in events for e in (SlotSet("context", "opp:vaagetjeneste"), SlotSet("context_role", "vaagetjeneste"), SlotSet("offer", "signup")))


async def test_first_miss_offers_the_two_best_guesses_second_offers_a_coordinator() -> None:
    miss = user("blorp", "nlu_fallback", 0.4, ranking=[("nlu_fallback", 0.4), ("ask_pay", 0.3), ("ask_insurance", 0.2), ("greet", 0.1)])
    _, messages = await run(ActionFallback(), tracker(miss))
    assert messages[0]["response"] == "utter_did_you_mean"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_pay", "/ask_insurance", "/help"]
    _, messages = await run(ActionFallback(), tracker(miss, earlier=[miss]))
    assert messages[0]["response"] == "utter_offer_coordinator"


async def test_an_unlikely_emergency_is_not_offered_as_a_guess() -> None:
    miss = user("blåbær trampolin", "nlu_fallback", 0.4, ranking=[("nlu_fallback", 0.4), ("emergency", 0.12), ("ask_pay", 0.1), ("ask_insurance", 0.05)])
    _, messages = await run(ActionFallback(), tracker(miss))
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/ask_pay", "/ask_insurance", "/help"]


async def test_sign_up_starts_with_the_role_asked_about() -> None:
    events, messages = await run(ActionPrepareSignup(), tracker(user("jeg vil gerne melde mig", "signup"), {"context_role": "vejviser"}))
    assert SlotSet("interests", ["vejviser"]) in events and SlotSet("signup_now", True) in events
    assert messages[0]["response"] == "utter_signup_intro_with_interest" and messages[0]["interests"] == "Vejviser"


def validate(
    method: str, text: str, intent: str = "inform", slots: dict[str, Any] | None = None, confidence: float = 0.99
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    result = getattr(ValidateSignupForm(), f"validate_{method}")(
        text, dispatcher, tracker(user(text, intent, confidence), slots, active_loop="signup_form"), DOMAIN
    )
    return result, dispatcher.messages


def test_email_and_phone_in_one_answer_fill_both() -> None:
    result, _ = validate("email", "mette@example.dk og 20 30 40 50")
    assert result == {"email": "mette@example.dk", "phone": "+4520304050"}


def test_no_email_means_the_phone_is_required() -> None:
    assert validate("email", "ingen")[0] == {"email": ""}
    result, messages = validate("phone", "spring over", slots={"email": ""})
    assert result["phone"] is None and messages[0]["response"] == "utter_phone_needed"
    assert validate("phone", "spring over", slots={"email": "mette@example.dk"})[0] == {"phone": ""}


def test_a_rejected_answer_counts_misses_and_the_third_offers_a_way_out() -> None:
    result, messages = validate("phone", "123", slots={"email": "mette@example.dk", "misses": {"phone": 2}})
    assert result == {"phone": None, "misses": {"phone": 3}}
    assert [m["response"] for m in messages] == ["utter_invalid_phone", "utter_offer_skip"]
    result, messages = validate("municipality", "Atlantis", slots={"misses": {"municipality": 2}})
    assert [m["response"] for m in messages] == ["utter_invalid_municipality", "utter_offer_coordinator_after_misses"]


def test_a_question_instead_of_an_answer_is_answered_and_asked_again() -> None:
    result, messages = validate("availability", "får man løn for det?", intent="ask_pay")
    assert result["availability"] is None and messages[0]["response"] == "utter_kb_answer" and "ulønnet" in messages[0]["answer"]


def test_a_valid_answer_wins_over_the_intent() -> None:
    result, messages = validate("interests", "Patientstøtte/samtalepartner", intent="ask_patient_help")
    assert result == {"interests": ["patientstoette"]} and messages == []


def test_cpr_in_an_answer_is_refused() -> None:
    result, messages = validate("message", "mit cpr er 010190-1234")
    assert result == {"message": None} and messages[0]["response"] == "utter_no_cpr"


async def test_correction_with_a_value_and_without() -> None:
    events, messages = await run(ActionCorrect(), tracker(user("nej, min mail er ny@example.dk", "correct"), {"email": "gammel@example.dk"}))
    assert events == [SlotSet("email", "ny@example.dk")] and messages[0]["value"] == "ny@example.dk"
    events, _ = await run(ActionCorrect(), tracker(user("ret min kommune", "correct"), {"municipality": "Aarhus", "region": "midtjylland"}))
    assert events == [SlotSet("municipality", None), SlotSet("region", None)]
    _, messages = await run(ActionCorrect(), tracker(user("ret min kommune", "correct")))
    assert messages[0]["response"] == "utter_correct_nothing"  # nothing answered yet, nothing to correct
    ret_god = user("jeg er ret god til IT", "correct", 0.6, ranking=[("correct", 0.6), ("ask_opportunities", 0.3), ("ask_pay", 0.1)])
    _, messages = await run(ActionCorrect(), tracker(ret_god))
    # "ret god" is not a correction: treated as not understood, and the search's guess comes first
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert "digital" in payloads[0] and payloads[-1] == "/help" and "/correct" not in payloads


def test_a_name_the_nlu_took_for_a_correction_is_still_a_name() -> None:
    assert validate("name", "Birgitte Holm", intent="correct")[0] == {"name": "Birgitte Holm"}


def test_asking_to_correct_an_earlier_answer_clears_it() -> None:
    result, messages = validate("interests", "ret mit telefonnummer", intent="correct", slots={"phone": "+4520304050"})
    assert result == {"phone": None, "interests": None} and messages[0]["response"] == "utter_correct_what"


def test_a_new_email_given_at_a_later_question_corrects_the_email() -> None:
    result, messages = validate("phone", "nej, min mail er ny@example.dk", slots={"email": "gammel@example.dk"})
    assert result == {"email": "ny@example.dk", "phone": None} and messages[0]["response"] == "utter_corrected"
