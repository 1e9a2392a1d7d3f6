"""Sign-up in the chat: validated answers, interruptions, corrections, cancelling, consent, storage."""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from stack import Stack, texts

ANSWERS = {
    "name": "Mette Lund Jensen",
    "email": None,  # unique per test
    "phone": "20 30 40 50",
    "municipality": "Aarhus",
    "interests": "vejviser",
    "availability": "hverdage efter kl. 16",
    "message": "nej tak",
}
QUESTION = {
    "name": "hvad hedder du",
    "email": "e-mailadresse",
    "phone": "telefonnummer",
    "municipality": "hvilken kommune",
    "interests": "hvilke opgaver",
    "availability": "hvornår har du",
    "message": "noget andet, du gerne vil fortælle",
    "consent": "må vi gemme",
}


FIRST_NAMES = ["Anne", "Mads", "Sofie", "Lars", "Ida", "Peter", "Karen", "Jens", "Maja", "Henrik", "Freja", "Ole", "Lone"]
LAST_NAMES = ["Nielsen", "Jensen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen", "Jørgensen", "Madsen"]


def unique_email() -> str:
    return f"test.{uuid.uuid4().hex[:10]}@example.dk"


def asks(replies: list[dict[str, Any]], slot: str) -> bool:
    return bool(re.search(QUESTION[slot], texts(replies), re.I))


def leads_with(bot: Stack, email: str) -> list[dict[str, Any]]:
    return [lead for lead in bot.store().cases.all_leads() if lead["email"] == email]


def fill(bot: Stack, sender: str, until: str = "consent", **overrides: str) -> tuple[list[dict[str, Any]], str]:
    """Start a sign-up and answer every question up to (not including) `until`; returns the last replies and the e-mail."""
    answers = {**ANSWERS, "email": unique_email(), **overrides}
    replies = bot.say(sender, "jeg vil gerne være frivillig")
    for slot in ("name", "email", "phone", "municipality", "interests", "availability", "message"):
        if slot == until:
            break
        assert asks(replies, slot), f"expected the {slot} question, got:\n{texts(replies)}"
        replies = bot.say(sender, answers[slot])
    return replies, answers["email"]


def test_happy_path_stores_one_lead_with_a_reference(bot: Stack, sender: str, mailbox: Any) -> None:
    replies, email = fill(bot, sender)
    summary = texts(replies)
    assert asks(replies, "consent")
    for shown in ("Mette Lund Jensen", email, "+45 20 30 40 50", "Aarhus", "Region Midtjylland", "Vejviser", "hverdage efter kl. 16", "privatliv"):
        assert shown in summary
    done = texts(bot.say(sender, "ja"))
    reference = re.search(r"FRV-\d{4}-[A-Z0-9]{6}", done)
    assert reference, done
    assert re.search("tak", done, re.I) and re.search("Region Midtjylland", done) and re.search("kontakter dig", done)
    [lead] = leads_with(bot, email)
    assert lead["reference"] == reference.group(0)
    assert (lead["name"], lead["phone"], lead["region"], lead["municipality"]) == ("Mette Lund Jensen", "+4520304050", "midtjylland", "Aarhus")
    assert lead["interests"] == ["vejviser"] and lead["availability"] == "hverdage efter kl. 16" and lead["message"] == ""
    assert lead["consent_at"] and lead["consent_version"] and lead["status"] == "ny" and lead["channel"] == "rest"
    assert lead["conversation_id"] == sender


@pytest.mark.parametrize(
    ("slot", "bad", "explanation"),
    [
        ("name", "12345", "ligner ikke et navn"),
        ("email", "mette@", "ikke en gyldig e-mailadresse"),
        ("email", "mette.example.dk", "ikke en gyldig e-mailadresse"),
        ("phone", "123", "ikke et dansk telefonnummer"),
        ("phone", "+46 70 123 45 67", "ikke et dansk telefonnummer"),
        ("municipality", "Atlantis", "kunne ikke finde"),
        ("interests", "flyve til månen", "kunne ikke finde en opgave"),
    ],
)
def test_each_invalid_answer_is_explained_and_asked_again(bot: Stack, sender: str, slot: str, bad: str, explanation: str) -> None:
    replies, _ = fill(bot, sender, until=slot)
    assert asks(replies, slot)
    rejected = bot.say(sender, bad)
    assert re.search(explanation, texts(rejected), re.I), texts(rejected)
    assert asks(rejected, slot)


def test_three_misses_offer_a_way_out(bot: Stack, sender: str) -> None:
    fill(bot, sender, until="phone")
    for _ in range(2):
        bot.say(sender, "123")
    third = texts(bot.say(sender, "456"))
    assert re.search("spring", third, re.I)  # the phone is optional when the e-mail is known
    replies = bot.say(sender, "spring over")
    assert asks(replies, "municipality")


def test_three_misses_on_a_required_answer_offer_a_coordinator(bot: Stack, sender: str) -> None:
    fill(bot, sender, until="municipality")
    for _ in range(2):
        bot.say(sender, "Atlantis")
    assert re.search("koordinator", texts(bot.say(sender, "Mordor")), re.I)


def test_a_question_in_the_middle_is_answered_and_the_form_goes_on(bot: Stack, sender: str) -> None:
    fill(bot, sender, until="phone")
    replies = bot.say(sender, "får man løn for det?")
    answer = texts(replies)
    assert re.search("ulønnet|ikke løn|uden løn", answer, re.I)
    assert asks(replies, "phone")
    assert asks(bot.say(sender, "20 30 40 50"), "municipality")


def test_a_correction_changes_the_answer(bot: Stack, sender: str) -> None:
    replies, _ = fill(bot, sender, until="municipality")
    new_email = unique_email()
    corrected = bot.say(sender, f"nej vent, min mail er {new_email}")
    assert new_email in texts(corrected) and asks(corrected, "municipality")
    for answer in ("Herning", "vejviser", "weekender", "nej tak"):
        bot.say(sender, answer)
    bot.say(sender, "ja")
    assert len(leads_with(bot, new_email)) == 1


def test_correcting_without_a_value_asks_again(bot: Stack, sender: str) -> None:
    fill(bot, sender, until="interests")
    replies = bot.say(sender, "ret mit telefonnummer")
    assert asks(replies, "phone")
    assert asks(bot.say(sender, "31 32 33 34"), "interests")


@pytest.mark.parametrize("word", ["annuller", "stop", "glem det", "jeg har fortrudt"])
def test_cancelling_confirms_and_stores_nothing(bot: Stack, sender: str, word: str) -> None:
    _, email = fill(bot, sender, until="availability")
    confirm = texts(bot.say(sender, word))
    assert re.search("afbryde", confirm, re.I)
    done = texts(bot.say(sender, "ja"))
    assert re.search("afbrudt", done, re.I) and re.search("intet er gemt", done, re.I)
    assert leads_with(bot, email) == []
    assert asks(bot.say(sender, "jeg vil gerne melde mig"), "name")  # a new sign-up starts from scratch


def test_not_cancelling_goes_on_with_the_question(bot: Stack, sender: str) -> None:
    fill(bot, sender, until="phone")
    bot.say(sender, "stop")
    assert asks(bot.say(sender, "nej"), "phone")


def test_refused_consent_stores_nothing(bot: Stack, sender: str) -> None:
    _, email = fill(bot, sender)
    refused = texts(bot.say(sender, "nej"))
    assert re.search("ikke gemt", refused, re.I)
    assert leads_with(bot, email) == []


def test_a_cpr_number_is_refused_and_never_stored(bot: Stack, sender: str) -> None:
    fill(bot, sender, until="message")
    refused = bot.say(sender, "mit cpr-nummer er 010190-1234")
    assert re.search("CPR", texts(refused)) and asks(refused, "message")
    bot.say(sender, "nej tak")
    bot.say(sender, "ja")
    stored = [lead for lead in bot.store().cases.all_leads() if lead["conversation_id"] == sender]
    assert len(stored) == 1 and "010190" not in str(stored)
    with bot.store().db.session() as session:
        from bot.store.schema import Lead

        assert "010190" not in str(session.query(Lead.transcript).filter(Lead.conversation_id == sender).scalar())


@pytest.mark.parametrize(
    ("home", "region"), [("8000 Aarhus C", "midtjylland"), ("Kbh", "hovedstaden"), ("Naestved", "sjaelland"), ("9000", "nordjylland"), ("Odense", "syddanmark")]
)
def test_municipality_or_postcode_maps_to_region(bot: Stack, sender: str, home: str, region: str) -> None:
    _, email = fill(bot, sender, until="municipality")
    replies = bot.say(sender, home)
    if region in ("hovedstaden", "syddanmark"):
        assert re.search("frise\\.dk", texts(replies))  # honest signposting, and the sign-up goes on
    assert asks(replies, "interests")
    for answer in ("vejviser", "weekender", "nej tak", "ja"):
        bot.say(sender, answer)
    [lead] = leads_with(bot, email)
    assert lead["region"] == region


def test_the_role_asked_about_is_chosen_already(bot: Stack, sender: str) -> None:
    bot.say(sender, "hvad er vågetjeneste")
    replies = bot.say(sender, "det vil jeg gerne melde mig til")
    assert re.search("Vågetjeneste", texts(replies)) and asks(replies, "name")


def test_a_double_consent_gives_one_lead(bot: Stack, sender: str) -> None:
    _, email = fill(bot, sender)
    bot.say(sender, "ja")
    bot.say(sender, "ja")
    assert len(leads_with(bot, email)) == 1


def test_fifty_concurrent_signups_give_fifty_leads(bot: Stack) -> None:
    run = uuid.uuid4().hex[:6]

    def one(i: int) -> str:
        sender = f"load-{run}-{i}"
        email = f"load.{run}.{i}@example.dk"
        steps = [
            "jeg vil gerne melde mig",
            f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i % len(LAST_NAMES)]}",
            email,
            f"20 30 {40 + i % 50:02d} 50",
            "Aarhus",
            "vejviser",
            "weekender",
            "nej tak",
            "ja",
        ]
        last: list[dict[str, Any]] = []
        for step in steps:
            last = bot.say(sender, step)
            assert last, f"no answer to {step!r}"
        assert re.search("FRV-", texts(last)), texts(last)
        return email

    with ThreadPoolExecutor(max_workers=10) as pool:
        emails = list(pool.map(one, range(50)))
    stored = [lead for lead in bot.store().cases.all_leads() if lead["email"] in set(emails)]
    assert len(stored) == 50 and len({lead["reference"] for lead in stored}) == 50


def test_action_server_restart_between_two_steps_loses_nothing(bot: Stack, sender: str) -> None:
    replies, email = fill(bot, sender, until="interests")
    bot.stop("actions")
    bot.start("actions")
    assert asks(bot.say(sender, "vejviser"), "availability")
    for answer in ("weekender", "nej tak", "ja"):
        bot.say(sender, answer)
    [lead] = leads_with(bot, email)
    assert lead["name"] == "Mette Lund Jensen" and lead["municipality"] == "Aarhus" and lead["interests"] == ["vejviser"]
