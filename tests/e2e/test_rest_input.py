"""Bad input at the REST channel: a polite Danish reply or a 4xx, never a crash."""

from __future__ import annotations

import re

import pytest

from bot.conventions import MAX_MESSAGE_CHARS
from stack import Stack, http, texts


def still_answers(bot: Stack, sender: str) -> None:
    assert re.search("frivillig", texts(bot.say(sender, "hej")), re.I)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("", "ikke nogen tekst"),
        ("   \n\t ", "ikke nogen tekst"),
        ("x" * 10_000, "for lang"),
        (("ja " * MAX_MESSAGE_CHARS)[: MAX_MESSAGE_CHARS + 1], "for lang"),  # one character over the limit every channel shares
        ("frivillig " * 1_200, "for lang"),
    ],
)
def test_empty_and_huge_messages_get_a_polite_reply(bot: Stack, sender: str, message: str, expected: str) -> None:
    status, replies = bot.post({"sender": sender, "message": message})
    assert status == 200
    assert re.search(expected, texts(replies), re.I)
    still_answers(bot, sender)


def test_a_message_at_the_limit_is_read(bot: Stack, sender: str) -> None:
    message = ("hvad laver en vejviser? " * 100)[: MAX_MESSAGE_CHARS - 1] + "?"
    assert len(message) == MAX_MESSAGE_CHARS
    assert re.search("vej", texts(bot.say(sender, message)), re.I)


@pytest.mark.parametrize("message", ["🙂🙂🙂", "<script>alert('x')</script>", "<img src=x onerror=alert(1)>", "'; DROP TABLE events; --", "???", "ñ ü ß ø"])
def test_odd_text_gets_an_answer(bot: Stack, sender: str, message: str) -> None:
    status, replies = bot.post({"sender": sender, "message": message})
    assert status == 200
    answer = texts(replies)
    assert answer.strip() and "Traceback" not in answer and "utter_" not in answer
    still_answers(bot, sender)


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[1, 2]",
        b'"hej"',
        b"",
        b'{"sender": "x"}',
        b'{"sender": "x", "message": 42}',
        b'{"sender": "x", "message": ["hej"]}',
        b'{"sender": "x", "message": null}',
        b'{"message": "hej"}',
        b'{"sender": 7, "message": "hej"}',
        b'{"sender": "x", "message": "hej", "metadata": "nope"}',
    ],
)
def test_malformed_requests_get_400(bot: Stack, sender: str, body: bytes) -> None:
    status, reply = http("POST", f"{bot.rasa_url}/webhooks/rest/webhook", body)
    assert status == 400, reply
    assert "error" in reply
    still_answers(bot, sender)
