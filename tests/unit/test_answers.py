"""The patterns of a good answer, on hand-built trackers: answer before the form, follow-ups,
safety beside an answer, patients' own offers, unknowns said plainly, short answers, search
when the intent is unsure, and a form's answer winning over the NLU."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecutionRejected
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import ActionAnswer, ActionFallback, ActionOutOfScope, first_sentence
from actions.forms import ActionPrepareSignup, ActionYesNo, ValidateSignupForm
from bot.knowledge import kb
from bot.settings import ROOT

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def user(text: str, intent: str, confidence: float = 0.95, entities: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": [{"name": intent, "confidence": confidence}],
    }


def tracker(
    message: dict[str, Any], slots: dict[str, Any] | None = None, earlier: list[dict[str, Any]] | None = None, active_loop: str | None = None
) -> Tracker:
    events = [{"event": "user", "text": m["text"], "parse_data": m} for m in earlier or []]
    events.append({"event": "user", "text": message["text"], "parse_data": message})
    return Tracker("conv-1", slots or {}, message, events, False, None, {"name": active_loop} if active_loop else {}, "action_listen")


def fill(message: dict[str, Any]) -> str:
    """What the citizen reads: every response's text with its values, and the button titles."""
    parts = []
    for m in message:
        template = DOMAIN["responses"][m["response"]][0] if m.get("response") else {"text": m.get("text") or ""}
        values = {k: v for k, v in m.items() if isinstance(v, (str, int))}
        parts.append(template["text"].format(**values) if values else template["text"])
        parts += [f"[{b['title']}]" for b in (m.get("buttons") or template.get("buttons") or [])]
    return "\n".join(parts)


async def say(action: Any, track: Tracker) -> tuple[list[dict[str, Any]], str]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, track, DOMAIN)
    return events, fill(dispatcher.messages)


def slot(events: list[dict[str, Any]], name: str) -> Any:
    return next((e["value"] for e in reversed(events) if e.get("event") == "slot" and e.get("name") == name), "unset")


# --- 1. the answer before the form ---------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "entities", "expected"),
    [
        ("hvordan bliver jeg vejviser på sygehuset?", [{"entity": "role", "value": "vejviser"}], "vej"),
        ("jeg kunne godt tænke mig at hjælpe til på hospicet i Rønde, hvad skal jeg gøre?", [{"entity": "municipality", "value": "Syddjurs"}], "Djursland"),
        ("jeg vil gerne være frivillig, men hvad kan man lave?", [], "vejviser|patientstøtte"),
    ],
)
async def test_a_question_about_a_role_or_place_is_answered_before_the_sign_up(text: str, entities: list[dict[str, Any]], expected: str) -> None:
    events, said = await say(ActionPrepareSignup(), tracker(user(text, "signup", entities=entities)))
    assert re.search(expected, said, re.I) and "Vil du skrive dig op?" in said and "[Ja, skriv mig op]" in said
    assert "Hvad hedder du" not in said and slot(events, "signup_now") is False


@pytest.mark.parametrize(
    "text",
    [
        "skriv mig op",
        "jeg melder mig som vejviser",
        "jeg vil være frivillig",
        "jeg vil gerne være frivillig, hvordan skriver jeg mig op?",
        "jeg har længe haft lyst til at være frivillig, hvordan melder jeg mig?",
        "må jeg melde mig her i chatten?",
    ],
)
async def test_a_wish_to_sign_up_starts_the_form(text: str) -> None:
    events, said = await say(ActionPrepareSignup(), tracker(user(text, "signup")))
    assert slot(events, "signup_now") is True and "Hvor dejligt" in said


async def test_yes_to_the_offer_starts_the_form_with_the_role_already_named() -> None:
    events, said = await say(ActionYesNo(), tracker(user("ja tak", "affirm"), {"offer": "signup", "context_role": "hospice"}))
    assert slot(events, "signup_now") is True and slot(events, "interests") == ["hospice"] and "Hospice" in said


async def test_yes_without_an_offer_and_no_start_nothing() -> None:
    events, said = await say(ActionYesNo(), tracker(user("ja", "affirm")))
    assert slot(events, "signup_now") is False and "Hvad vil du gerne vide" in said
    events, said = await say(ActionYesNo(), tracker(user("nej tak", "deny"), {"offer": "signup"}))
    assert slot(events, "signup_now") is False and slot(events, "offer") is None


# --- 2. follow-ups --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("context", "text", "intent", "expected", "not_expected"),
    [
        ("opp:vaagetjeneste", "hvor kan man gøre det henne?", "followup", "hospice|Sjælland", "lægevagt"),
        ("opp:vejviser", "hvor foregår det?", "medical_question", "hospital", "lægevagt|medicinske"),
        ("opp:specialsektor", "hvem skal jeg ringe til om det?", "ask_contact", "97 64 80 60", "andkri"),
        ("opp:cafe_viborg", "kan jeg melde mig til det?", "signup", "Vil du skrive dig op", "Hvad hedder du"),
        ("opp:foerstehjaelper", "hvad kræver det?", "followup", "krav|kræv|oplæring|tavshedspligt", "lægevagt"),
        ("topic:pejlemaerker", "fortæl mere", "followup", ".", "Mente du"),
        ("topic:frivillighed_dk", "hvornår blev det lavet", "followup", "1992", "står ikke"),
        ("opp:vejviser", "hvornår skal man møde ind?", "followup", "står ikke", "19|20"),
    ],
)
async def test_a_follow_up_is_about_what_the_last_answer_was_about(context: str, text: str, intent: str, expected: str, not_expected: str) -> None:
    action = ActionPrepareSignup() if intent == "signup" else ActionAnswer()
    _, said = await say(action, tracker(user(text, intent), {"context": context}))
    assert re.search(expected, said, re.I), said
    assert not re.search(not_expected, said, re.I), said


async def test_who_to_call_in_the_first_message_gets_the_contact() -> None:
    text = "jeg bor i Hjørring og kunne godt tænke mig at hjælpe folk med et handicap. hvem skal jeg ringe til?"
    _, said = await say(ActionAnswer(), tracker(user(text, "ask_opportunities", 0.8, [{"entity": "municipality", "value": "Hjørring"}])))
    assert "97 64 80 60" in said, said


async def test_a_follow_up_to_another_region_asks_the_same_question_there() -> None:
    earlier = [user("hvordan definerer region sjælland frivilligt arbejde", "ask_sjaelland")]
    message = user("og hvad med nordjylland?", "followup", entities=[{"entity": "region", "value": "nordjylland"}])
    _, said = await say(ActionAnswer(), tracker(message, {"context": "topic:sjaelland_definition"}, earlier=earlier))
    assert re.search("Specialsektor", said) and re.search("ulønnet|familie|netværk", said, re.I), said


async def test_a_long_question_the_nlu_took_for_a_follow_up_is_answered_as_a_question() -> None:
    message = {
        **user("jeg kunne godt tænke mig at læse højt for patienterne og snakke med dem, hvordan kommer jeg i gang?", "followup", 0.8),
        "intent_ranking": [{"name": "followup", "confidence": 0.8}, {"name": "signup", "confidence": 0.15}],
    }
    _, said = await say(ActionAnswer(), tracker(message))
    assert re.search("patientstøtte|samtalepartner", said, re.I) and "Hvad tænker du på" not in said, said


async def test_a_question_that_names_one_opportunity_gets_that_one() -> None:
    message = user("hvor i midtjylland har de et frivilligkorps for sig selv?", "ask_opportunities", 0.7, [{"entity": "region", "value": "midtjylland"}])
    _, said = await say(ActionAnswer(), tracker(message))
    assert "Horsens" in said and "Spørg gerne om en af dem" not in said, said


async def test_a_follow_up_with_nothing_to_refer_to_asks_what_it_is_about() -> None:
    _, said = await say(ActionAnswer(), tracker(user("hvor foregår det?", "followup")))
    assert "Hvad tænker du på?" in said


async def test_more_detail_is_one_click_away() -> None:
    events, said = await say(ActionAnswer(), tracker(user("hvad er de fire pejlemærker", "ask_strategy")))
    assert "[Vil du vide mere?]" in said and slot(events, "offer") == "more"
    _, more = await say(ActionYesNo(), tracker(user("ja", "affirm"), {"offer": "more", "context": "topic:pejlemaerker"}))
    assert more.split("\n\nKilde:")[0] == kb().topic("pejlemaerker").more.strip()  # type: ignore[union-attr]


# --- 3. safety beside the answer, not instead of it ----------------------------------------------
async def test_an_acute_emergency_gets_112_and_nothing_else() -> None:
    _, said = await say(ActionAnswer(), tracker(user("min mand er faldet om og trækker ikke vejret", "emergency")))
    assert "Ring 112 nu" in said and "skriv dig op" not in said and "Vil du vide mere" not in said


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("min mor fik en blodprop i hjertet sidste år, findes der nogen hun kan tale med?", "emergency", "Hjerteforening"),
        ("min mand havde en hjerneblødning for to år siden, er der nogen han kan snakke med?", "emergency", "Hammel|patientstøtte|samtalepartner|netværk"),
        ("min bror har lige fået konstateret kræft, er der nogen han kan tale med", "medical_question", "Kræftens Bekæmpelse"),
    ],
)
async def test_an_illness_that_is_not_acute_gets_the_real_answer_with_one_safety_line(text: str, intent: str, expected: str) -> None:
    _, said = await say(ActionAnswer(), tracker(user(text, intent)))
    assert re.search(expected, said), said
    assert "Ring 112 nu" not in said and said.count("112") == 1


@pytest.mark.parametrize(
    ("text", "entities", "number", "not_there"),
    [
        ("jeg bor i Aalborg og har feber, hvem ringer jeg til?", [{"entity": "municipality", "value": "Aalborg"}], "70 15 03 00", "1813"),
        ("jeg bor i Næstved og har ondt i maven", [], "1818", "1813"),
        ("jeg er fra Odense og har ondt i halsen, hvad gør jeg", [], "70 11 07 07", "1813"),
        ("jeg bor på Frederiksberg og har høj feber", [], "1813", "70 11"),
    ],
)
async def test_a_medical_question_gets_the_lægevagt_of_the_citizens_region(text: str, entities: list[dict[str, Any]], number: str, not_there: str) -> None:
    _, said = await say(ActionAnswer(), tracker(user(text, "medical_question", entities=entities)))
    assert number in said and not_there not in said, said


async def test_a_medical_question_is_one_whatever_the_nlu_thought() -> None:
    message = user("vi bor i Vejle og vores lille har høj feber, lægen har lukket", "ask_opportunities", 0.9, [{"entity": "municipality", "value": "Vejle"}])
    _, said = await say(ActionAnswer(), tracker(message))
    assert "70 11 07 07" in said and "dækker ikke" not in said, said


async def test_the_lægevagt_of_the_town_named_earlier_in_the_conversation() -> None:
    earlier = [user("jeg bor i Slagelse", "inform", 0.6, [{"entity": "municipality", "value": "Slagelse"}])]
    _, said = await say(ActionAnswer(), tracker(user("hvem ringer jeg til hvis jeg bliver syg i weekenden?", "ask_contact", 0.7), earlier=earlier))
    assert "1818" in said and "97 64 80 60" not in said, said


async def test_without_a_place_the_lægevagt_of_ones_own_region() -> None:
    _, said = await say(ActionAnswer(), tracker(user("hvad skal jeg tage for hovedpine", "medical_question")))
    assert "lægevagten i din region" in said and "1813" not in said


async def test_a_question_about_what_volunteers_may_do_is_no_medical_question() -> None:
    _, said = await say(ActionAnswer(), tracker(user("må de frivillige give medicin til patienterne?", "medical_question")))
    assert re.search("personale|ansatte|professionel", said, re.I) and "lægevagt" not in said, said


# --- 4. patients and relatives get the offers meant for them -----------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("min far ligger for døden, kan der komme nogen og sidde hos ham", "våge|døende"),
        ("vores datter på 16 har en psykisk sygdom, er der nogen der kan hjælpe hende", "EN AF OS|støttekontakt"),
        ("jeg er hjertepatient og vil gerne snakke med nogen der har prøvet det", "Hjerteforening"),
        ("jeg har lige fået at vide at jeg har kræft", "Kræftens Bekæmpelse"),
    ],
)
async def test_patients_and_relatives_get_the_specific_offers(text: str, expected: str) -> None:
    _, said = await say(ActionAnswer(), tracker(user(text, "ask_patient_help")))
    assert re.search(expected, said), said
    assert "det er dig, der bestemmer" not in said.lower()


@pytest.mark.parametrize(
    ("text", "intent", "expected"),
    [
        ("min svigerfar havde kræft for et par år siden, findes der nogen han kan snakke med?", "ask_patient_help", "Kræftens Bekæmpelse"),
        ("skal man skrive under på noget om tavshedspligten?", "ask_confidentiality", "erklæring"),
    ],
)
async def test_a_message_that_names_a_special_case_gets_it_before_the_general_answer(text: str, intent: str, expected: str) -> None:
    _, said = await say(ActionAnswer(), tracker(user(text, intent)))
    assert re.search(expected, said), said


async def test_a_question_about_a_role_asks_about_the_topic_the_nlu_heard() -> None:
    message = user("bliver man betalt for at være vejviser?", "ask_pay", entities=[{"entity": "role", "value": "vejviser"}])
    _, said = await say(ActionAnswer(), tracker(message))
    assert re.search("ulønnet|løn", said) and "Spørg gerne om en af dem" not in said, said


# --- 5. unknowns said plainly -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent", "subject"),
    [
        ("skal man have bil for at være frivillig?", "ask_requirements", "bil"),
        ("får man et bevis når man har været frivillig?", "ask_training", "bevis"),
        ("kan jeg være frivillig på Herlev Hospital?", "ask_opportunities", "Hovedstaden"),
        ("har de frivillige på Sygehus Lillebælt?", "ask_opportunities", "Syddanmark"),
    ],
)
async def test_what_the_documents_do_not_say_is_said_plainly(text: str, intent: str, subject: str) -> None:
    _, said = await say(ActionAnswer(), tracker(user(text, intent)))
    assert re.search("nævner ikke|står der ikke|dækker ikke", said) and subject in said, said
    assert not re.match(r"\W*ja\b", said, re.I)


async def test_a_question_nothing_answers_is_told_so_and_offered_a_person() -> None:
    _, said = await say(ActionOutOfScope(), tracker(user("hvad koster en kop kaffe i kantinen?", "out_of_scope", 0.5)))
    assert "kan jeg desværre ikke hjælpe med" in said or "står der ikke noget om" in said


# --- several questions in one message ------------------------------------------------------------
async def test_several_questions_get_each_a_short_answer_in_one_reply() -> None:
    _, said = await say(ActionAnswer(), tracker(user("får man løn, er man forsikret og skal man have bil?", "ask_pay")))
    assert re.search("ulønnet", said) and re.search("forsikring", said) and re.search("nævner ikke.*bil", said), said
    assert said.count("•") == 3 and len(said) <= 600


async def test_several_questions_after_a_story_get_each_an_answer() -> None:
    text = "Jeg er gået på efterløn og har god tid. Jeg har tænkt på at hjælpe på et hospital. Hvad laver en vejviser, og får man løn for det?"
    _, said = await say(ActionAnswer(), tracker(user(text, "ask_opportunities", 0.6)))
    assert re.search("finde vej", said) and re.search("ulønnet", said) and said.count("•") == 2, said


async def test_a_question_mark_ends_a_question_whatever_its_first_word() -> None:
    _, said = await say(ActionAnswer(), tracker(user("tager frivillige job fra de ansatte? og må man sige nej til en opgave?", "ask_staff_relation", 0.6)))
    assert re.search("erstatte|supplement", said) and re.search("sige nej|takke nej|interesse", said) and said.count("•") == 2, said


def test_each_question_gets_the_sentence_that_answers_it() -> None:
    answer = "Udvalget om civilsamfundet blev nedsat 30. november 2019. Det holdt 5 møder, og formand var dengang Erik Vinther (V)."
    assert first_sentence(answer) == "Udvalget om civilsamfundet blev nedsat 30. november 2019."
    assert first_sentence(answer, "og hvem var formand") == "Det holdt 5 møder, og formand var dengang Erik Vinther (V)."


async def test_a_story_before_the_question_is_no_second_question() -> None:
    _, said = await say(ActionAnswer(), tracker(user("min far havde en blodprop sidste år, er der nogen han kan tale med?", "ask_patient_help")))
    assert "•" not in said and "Hjerteforening" in said, said


# --- 6. short answers ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hvad er de fire pejlemærker", "ask_strategy"),
        ("fortæl om region sjællands frivilligpolitik", "ask_sjaelland"),
        ("hvad anbefalede udvalget", "ask_committee"),
        ("hvilke principper har specialsektoren", "ask_specialsektor"),
        ("har frivillige tavshedspligt", "ask_confidentiality"),
    ],
)
async def test_answers_are_short_with_a_short_source(text: str, intent: str) -> None:
    _, said = await say(ActionAnswer(), tracker(user(text, intent)))
    assert len(said) <= 450, said
    source = said.split("Kilde: ")[1].split("\n")[0]
    assert len(source) <= 120 and ":" not in source, source


# --- 7. search before giving up --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("det der med at gå i kiosken og læse højt for patienter", "patientstøtte|selskab|samtale"),
        ("er der nogen steder man kan finde sit lokale frivilligcenter", "frise"),
    ],
)
async def test_an_unsure_intent_searches_the_knowledge_before_giving_up(text: str, expected: str) -> None:
    _, said = await say(ActionFallback(), tracker(user(text, "nlu_fallback", 0.3)))
    assert re.search(expected, said, re.I) and "forstod ikke" not in said, said


async def test_a_wish_with_a_question_the_nlu_did_not_understand_gets_the_possibilities() -> None:
    _, said = await say(
        ActionFallback(), tracker(user("jeg har længe haft lyst til at blive frivillig men ved ikke hvad der er af muligheder?", "nlu_fallback", 0.3))
    )
    assert re.search("vejviser|patientstøtte", said, re.I) and "Vil du skrive dig op?" in said, said


async def test_when_nothing_fits_clearly_the_nearest_entries_are_offered() -> None:
    _, said = await say(ActionFallback(), tracker(user("noget med computere", "nlu_fallback", 0.3)))
    assert "Mente du" in said and re.search(r"\[[^]]*(digital|E-hospital)[^]]*\]", said, re.I), said


# --- 8. inside a form the answer to the question wins ------------------------------------------------------------
def validate_name(text: str, intent: str) -> dict[str, Any]:
    dispatcher = CollectingDispatcher()
    return ValidateSignupForm().validate_name(text, dispatcher, tracker(user(text, intent, 0.9), active_loop="signup_form"), DOMAIN)  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("name", "intent"), [("Karen Menneske", "request_human"), ("Peter Person", "request_human"), ("Anne Koordinator", "request_human"), ("Ib Hjælp", "help")]
)
def test_a_name_that_sounds_like_a_request_is_a_name(name: str, intent: str) -> None:
    assert validate_name(name, intent) == {"name": name}


@pytest.mark.parametrize(("text", "intent"), [("hjælp", "help"), ("goddag", "greet"), ("god morgen", "greet"), ("ja tak", "affirm")])
def test_a_greeting_or_a_plea_is_no_name(text: str, intent: str) -> None:
    assert validate_name(text, intent)["name"] is None


async def test_a_request_for_a_person_instead_of_a_name_leaves_the_form() -> None:
    message = user("kan jeg tale med et menneske i stedet?", "request_human", 0.9)
    track = Tracker(
        "conv-1",
        {"requested_slot": "name", "name": "kan jeg tale med et menneske i stedet?"},
        message,
        [
            {"event": "active_loop", "name": "signup_form"},
            {"event": "slot", "name": "requested_slot", "value": "name"},
            {"event": "user", "text": message["text"], "parse_data": message},
            {"event": "slot", "name": "name", "value": message["text"]},
        ],
        False,
        None,
        {"name": "signup_form"},
        "action_listen",
    )
    events, _ = await say(ValidateSignupForm(), track)
    assert ActionExecutionRejected("signup_form") in events


async def test_the_region_of_a_town_and_the_merger_ahead() -> None:
    message = user("jeg bor i Køge, hvilken region hører jeg egentlig under?", "ask_contact", 0.6, [{"entity": "municipality", "value": "Køge"}])
    _, said = await say(ActionAnswer(), tracker(message))
    assert "Køge hører under Region Sjælland." in said and "Østdanmark" in said, said
    _, said = await say(ActionAnswer(), tracker(user("hvilken region ligger Viborg i?", "ask_contact", 0.6)))
    assert "Viborg hører under Region Midtjylland." in said and "Østdanmark" not in said, said


async def test_a_question_about_region_sjællands_future_tells_of_the_merger() -> None:
    _, said = await say(ActionAnswer(), tracker(user("gælder sjællands politik for frivillige fremover?", "ask_sjaelland", 0.9)))
    assert "Østdanmark" in said and "2027" in said, said


# --- facts that depend on the date ------------------------------------------------------------------------------
def test_region_østdanmark_is_told_right_before_and_after_the_merger() -> None:
    topic = kb().topic("sjaelland_oestdanmark")
    assert topic is not None
    before, after = topic.as_of(dt.date(2026, 12, 31)), topic.as_of(dt.date(2027, 1, 1))
    assert before.answer.startswith("Fra 1. januar 2027") and "Hovedstaden" in before.answer
    assert after.answer.startswith("Siden 1. januar 2027") and "Hovedstaden" in after.answer


async def test_noget_andet_is_no_list_item() -> None:
    message = user(
        "fra nytår hedder region sjælland noget andet, ikke?", "ask_sjaelland", entities=[{"entity": "ordinal", "value": "2", "start": 39, "end": 44}]
    )
    _, said = await say(ActionAnswer(), tracker(message))
    assert "Østdanmark" in said and "Hvilken liste" not in said, said


async def test_a_list_for_a_named_organisation_says_whose_it_is() -> None:
    """ "røde kors i region sjælland": the list of what one can do is headed by the organisation and the region asked about."""
    entities = [{"entity": "organisation", "value": "roede_kors"}, {"entity": "region", "value": "sjaelland"}]
    _, said = await say(ActionAnswer(), tracker(user("røde kors i region sjælland", "ask_opportunities", entities=entities)))
    assert said.startswith("Med Røde Kors i Region Sjælland kan du fx være:"), said
    assert "Frivillig på sygehusene i Region Sjælland" in said


def test_every_organisation_the_nlu_knows_has_a_name_to_show() -> None:
    entities = yaml.safe_load((ROOT / "nlu" / "entities.yml").read_text(encoding="utf-8"))["nlu"]
    codes = {o for opp in kb().opportunities for o in opp.organisations}
    synonyms = {e["synonym"] for e in entities if "synonym" in e}
    assert codes <= set(kb().organisations) <= synonyms
