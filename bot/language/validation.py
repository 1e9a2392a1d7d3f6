"""Checking the citizen's answers: pure functions, so that the rules are tested without Rasa.

Each returns the normalised value, or None when the answer is not valid.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from bot.language.privacy import contains_cpr
from bot.language.text import fold

EMAIL_IN_TEXT = re.compile(r"[^\s@<>()\[\],;:\"']+@[^\s@<>()\[\],;:\"']+")
PHONE_IN_TEXT = re.compile(r"(?<!\w)(?:\+|00)?[\d][\d \-]{6,16}\d(?!\w)")
HTML = re.compile(r"<[^>]*>|&[a-z]+;|javascript:", re.I)
MAX_NAME = 100
MAX_NAME_WORDS = 5
MAX_TEXT = 300


def find_email(text: str) -> str | None:
    """The first e-mail-looking token in the text, as written (may still be invalid)."""
    match = EMAIL_IN_TEXT.search(text)
    return match.group(0).rstrip(".") if match else None


def email(text: str) -> str | None:
    candidate = find_email(text) or text.strip()
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        return None
    return str(result.normalized)


def find_phone(text: str) -> str | None:
    """The first phone-looking number in the text; digits inside an e-mail address are not one."""
    for match in PHONE_IN_TEXT.finditer(EMAIL_IN_TEXT.sub(" ", text)):
        if not contains_cpr(match.group(0)):
            return match.group(0).strip()
    return None


def phone(text: str) -> str | None:
    """A Danish phone number in E.164 form (+4520304050)."""
    candidate = find_phone(text) or text.strip()
    if contains_cpr(candidate):
        return None
    try:
        number = phonenumbers.parse(candidate, "DK")
    except phonenumbers.NumberParseException:
        return None
    if number.country_code != 45 or not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_display(e164: str) -> str:
    """+4520304050 as +45 20 30 40 50."""
    digits = e164.removeprefix("+45")
    return "+45 " + " ".join(digits[i : i + 2] for i in range(0, len(digits), 2)) if e164.startswith("+45") else e164


def _letters(text: str) -> int:
    return sum(1 for ch in text if unicodedata.category(ch).startswith("L"))


def name(text: str, prefixes: Sequence[str] = (), stopwords: Sequence[str] = ()) -> str | None:
    """A person's name: letters, spaces, hyphens, apostrophes and dots; prefixes like "jeg hedder" removed.

    `prefixes` and `stopwords` come folded from the knowledge base's vocabulary; a word of
    `stopwords` ("kan", "tale") shows that the text is a sentence, not a name.
    """
    parts = text.strip().split()
    for prefix in sorted(prefixes, key=len, reverse=True):
        size = len(prefix.split())
        if len(parts) > size and fold(" ".join(parts[:size])) == prefix:
            parts = parts[size:]
            break
    value = " ".join(parts).strip(" .!,")
    if not value or len(value) > MAX_NAME or HTML.search(value) or contains_cpr(value):
        return None
    if any(not (unicodedata.category(ch).startswith("L") or ch in " -'.´’") for ch in value):
        return None
    if _letters(value) < 2 or len(value.split()) > MAX_NAME_WORDS or any(fold(word) in stopwords for word in value.split()):
        return None
    return " ".join(part[:1].upper() + part[1:] if part.islower() else part for part in value.split())


def free_text(text: str, limit: int = MAX_TEXT) -> str | None:
    """Free text (availability, a message): some letters or digits, no markup, within the limit."""
    value = " ".join(text.strip().split())
    if not value or len(value) > limit or contains_cpr(value):
        return None
    if not any(ch.isalnum() for ch in value):
        return None
    return value
