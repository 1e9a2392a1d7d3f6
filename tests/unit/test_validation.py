"""The rules for the citizen's answers."""

from __future__ import annotations

import pytest

from bot.knowledge import kb
from bot.language import validation


@pytest.mark.parametrize("text", ["20 30 40 50", "+45 20304050", "004520304050", "20304050", "2030 4050", "+45 20 30 40 50", "mit nummer er 20 30 40 50"])
def test_danish_phone_numbers_are_stored_in_one_normal_form(text: str) -> None:
    assert validation.phone(text) == "+4520304050"


@pytest.mark.parametrize("text", ["123", "1234567", "+46 70 123 45 67", "010190-1234", "abc", "", "20 30 40 50 60 70"])
def test_invalid_phone_numbers_are_rejected(text: str) -> None:
    assert validation.phone(text) is None


@pytest.mark.parametrize("text", ["mette.20304050@example.dk", "min mail er test.1234567890ab@example.dk"])
def test_digits_in_an_email_address_are_not_a_phone_number(text: str) -> None:
    assert validation.find_phone(text) is None and validation.find_email(text)


def test_phone_display() -> None:
    assert validation.phone_display("+4520304050") == "+45 20 30 40 50"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mette@example.dk", "mette@example.dk"),
        ("min mail er Mette.Lund@Example.DK", "Mette.Lund@example.dk"),
        ("søren@kjær.dk", "søren@kjær.dk"),
    ],
)
def test_valid_emails(text: str, expected: str) -> None:
    assert validation.email(text) == expected


@pytest.mark.parametrize("text", ["mette@", "@example.dk", "mette@example", "mette example.dk", "mette@@example.dk", "<script>@x.dk"])
def test_invalid_emails(text: str) -> None:
    assert validation.email(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mette Lund Jensen", "Mette Lund Jensen"),
        ("jeg hedder ole sørensen", "Ole Sørensen"),
        ("Jeg hedder Åse", "Åse"),
        ("Mit navn er Anne-Marie O'Hara", "Anne-Marie O'Hara"),
        ("  Åse   Ærø  ", "Åse Ærø"),
    ],
)
def test_names(text: str, expected: str) -> None:
    assert validation.name(text, kb().vocabulary["name_prefix"], kb().vocabulary["not_in_names"]) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "12345",
        "<b>Mette</b>",
        "Mette 010190-1234",
        "mette@example.dk",
        "🙂🙂",
        "a" * 101,
        "'; DROP TABLE leads; --",
        "kan jeg tale med et menneske",
        "hvad er tavshedspligt",
    ],
)
def test_non_names_are_rejected(text: str) -> None:
    assert validation.name(text, kb().vocabulary["name_prefix"], kb().vocabulary["not_in_names"]) is None


def test_free_text_limits_and_cpr() -> None:
    assert validation.free_text("hverdage efter kl. 16") == "hverdage efter kl. 16"
    assert validation.free_text("   ") is None
    assert validation.free_text("!!!") is None
    assert validation.free_text("x" * 301) is None
    assert validation.free_text("mit cpr er 010190-1234") is None
    assert validation.free_text("<script>alert(1)</script> hej") == "<script>alert(1)</script> hej"
