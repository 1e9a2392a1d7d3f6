"""The privacy notice the citizen is sent to names every channel and everyone who sees the data (issue 13).

Before, it spoke only of "chatten" (the website), not of Telegram, whose servers also carry
the messages.
"""

from __future__ import annotations

import re
from pathlib import Path

from citizen_data import DOMAIN

from bot.settings import Settings
from bot.web.app import create_app


def test_the_served_notice_names_the_website_telegram_coordinators_and_administrators(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"VAR_DIR": str(tmp_path), "RETENTION_DAYS": "90"}))
    html = app.test_client().get("/privatliv").get_data(as_text=True)
    page = re.sub(r"\s+", " ", html)
    for part in (
        "chatten på regionens hjemmeside og på Telegram",
        "går dine beskeder også gennem Telegram",
        "frivilligkoordinatorerne i den region",
        "kan en koordinator læse samtalen og svare dig direkte i chatten",
        "administratorer",
    ):
        assert part in page, part
    assert "højst 90 dage" in page and "sletter vi samtalen med det samme" in page


def test_the_consent_question_names_the_same_people() -> None:
    for name in ("utter_ask_consent", "utter_ask_handoff_consent"):
        consent = DOMAIN.responses[name][0]["text"]
        assert "Kun frivilligkoordinatorerne i din region og systemets administratorer ser oplysningerne og vores samtale" in consent
    # A handoff may become a live chat: its consent and the notice both say a coordinator may read and answer in the chat.
    assert "en koordinator kan læse med og svare dig her i chatten" in DOMAIN.responses["utter_ask_handoff_consent"][0]["text"]
