"""Coordinator notifications: no password or mail in clear text, and nothing of the citizen in the mail (issue 13)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bot.handoff import notify
from bot.settings import Settings
from stack import Mailbox

LEAD: dict[str, Any] = {
    "reference": "FRV-2026-SIKKER",
    "kind": "handoff",
    "region": "midtjylland",
    "name": "Mette Hemmeligsen",
    "email": "mette@example.dk",
    "phone": "+4520304050",
    "municipality": "Aarhus",
    "interests": ["vejviser"],
    "question": "Kan min søn med diagnose være med?",
    "channel": "telegram",
}


def test_a_login_is_never_sent_without_tls(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with Mailbox(auth_require_tls=False) as server:  # a mail server without TLS
        config = Settings.from_env(
            {"VAR_DIR": str(tmp_path), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port), "SMTP_USER": "bot", "SMTP_PASSWORD": "hemmeligt"}
        )
        where = notify.send(LEAD, config)
    assert server.messages == [] and Path(where).parent == config.outbox_dir
    assert "STARTTLS" in caplog.text and "hemmeligt" not in caplog.text


def test_the_mail_says_only_what_opens_the_case(tmp_path: Path) -> None:
    with Mailbox(auth_require_tls=False) as server:  # a mail server without TLS
        config = Settings.from_env({"VAR_DIR": str(tmp_path), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(server.port), "SMTP_STARTTLS": "false"})
        notify.send(LEAD, config)
    [mail] = server.messages
    body = mail.get_payload(decode=True).decode()
    assert "FRV-2026-SIKKER" in mail["Subject"] and "/dashboard/leads/FRV-2026-SIKKER" in body and "Region Midtjylland" in body
    for personal in ("Mette", "mette@example.dk", "20304050", "Aarhus", "diagnose", "telegram", "Kanal"):
        assert personal not in body, personal


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
