"""The consent version recorded with each lead changes whenever the privacy texts change."""

from __future__ import annotations

import hashlib
import json

import yaml

from bot.knowledge import kb
from bot.knowledge.base import KNOWLEDGE
from bot.settings import ROOT


def privacy_fingerprint() -> str:
    responses = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    texts = [responses[name] for name in ("utter_ask_consent", "utter_ask_handoff_consent")]
    page = yaml.safe_load((KNOWLEDGE / "privacy.yml").read_text(encoding="utf-8"))["privacy"]["page"]
    return hashlib.sha256(json.dumps([texts, page], ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:12]


def test_consent_version_is_bumped_with_the_texts() -> None:
    assert kb().privacy_fingerprint == privacy_fingerprint(), (
        "The consent texts changed: bump privacy.version in bot/knowledge/privacy.yml and set privacy.fingerprint to " + privacy_fingerprint()
    )


def test_privacy_notice_says_who_what_how_long_and_how_to_delete() -> None:
    consent = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]["utter_ask_consent"][0]["text"]
    for part in ("koordinatorerne i din region", "kontakte dig", "{retention_days} dage", "slet mine oplysninger", "{privacy_url}", "Må vi gemme"):
        assert part in consent


CHANNELS = ("hjemmeside", "Telegram")  # where a citizen meets the bot: the website widget and the Telegram bridge
AUDIENCE = ("frivilligkoordinatorerne i", "administratorer")  # who sees a lead: the region's coordinators and the administrators


def notice_text() -> str:
    return " ".join(f"{s['heading']} {s['text']}" for s in kb().privacy_page["sections"])


def consent_texts() -> list[str]:
    responses = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
    return [responses[name][0]["text"] for name in ("utter_ask_consent", "utter_ask_handoff_consent")]


def test_the_notice_names_every_channel_and_everyone_who_sees_the_data() -> None:
    notice = notice_text()
    for part in (*CHANNELS, *AUDIENCE, "samtalen"):
        assert part.lower() in notice.lower(), part


def test_the_consent_questions_say_what_the_notice_says() -> None:
    """Both consent questions name the same people as the notice, the conversation that is stored with the answers, and the notice itself."""
    for consent in consent_texts():
        for part in (*AUDIENCE, "vores samtale", "{retention_days} dage", "slet mine oplysninger", "{privacy_url}"):
            assert part in consent, part


def test_the_notice_promises_what_a_refusal_and_a_cancel_do() -> None:
    notice = notice_text()
    assert "Siger du nej til, at vi gemmer dine oplysninger, eller afbryder du, sletter vi samtalen med det samme." in notice
