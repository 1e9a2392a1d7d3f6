"""The Telegram webhook's secret (issue 13, smaller items): compared in constant time, and never a guessable one.

python-telegram-bot's webhook handler compares the X-Telegram-Bot-Api-Secret-Token header with `!=`; the bridge
hands it a secret whose comparison is hmac.compare_digest. A configured TELEGRAM_SECRET_TOKEN that is short,
repetitive or taken from the bot token stops `python -m bot telegram` before it registers a webhook.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import subprocess
import sys
from pathlib import Path
from typing import AsyncIterator, Callable

import httpx
import pytest
from telegram_user import bridge_config, message_update, new_chat_id, running

from bot.settings import ROOT
from bot.telegram.bridge import build_application, webhook_options
from stack import free_port
from telegram_fake import FakeRasa, FakeTelegram

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram().start()
    yield fake
    await fake.stop()


async def test_the_webhook_compares_the_secret_in_constant_time(telegram: FakeTelegram, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    constant_time: Callable[[bytes, bytes], bool] = hmac.compare_digest

    def spy(given: bytes, expected: bytes) -> bool:
        compared.append((given, expected))
        return constant_time(given, expected)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    rasa = await FakeRasa(echo=True).start()
    port = free_port()
    config = bridge_config(telegram, rasa.url, TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram", TELEGRAM_PORT=str(port), VAR_DIR=str(tmp_path))
    options = {**webhook_options(config), "listen": "127.0.0.1"}
    secret = str(options["secret_token"])
    almost = secret[:-1] + ("0" if secret[-1] != "0" else "1")  # right up to the last character: `!=` would take longest here
    chat_id = new_chat_id()
    url = f"http://127.0.0.1:{port}/telegram"
    try:
        async with running(build_application(config), **options), httpx.AsyncClient(timeout=30) as client:
            statuses = [
                (await client.post(url, json=message_update(chat_id, f"forsøg {n}"), headers={SECRET_HEADER: given})).status_code
                for n, given in enumerate([almost, "x" * len(secret), "g\xe6t".encode()])
            ]
            accepted = await client.post(url, json=message_update(chat_id, "hej"), headers={SECRET_HEADER: secret})
            await telegram.wait_for(lambda: telegram.texts(chat_id), "the answer")
    finally:
        await rasa.stop()

    assert statuses == [403, 403, 403] and accepted.status_code == 200
    assert telegram.texts(chat_id) == ["svar: hej"]
    checked = [given for given, expected in compared if expected == secret.encode()]
    assert len(checked) == 4 and checked[:2] == [almost.encode(), b"x" * len(secret)] and checked[3] == secret.encode()


def start_bridge(telegram: FakeTelegram, tmp_path: Path, secret: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot telegram` in webhook mode with a configured secret, as `make run` starts it."""
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TELEGRAM_BOT_TOKEN": telegram.token,
        "TELEGRAM_API_URL": telegram.base_url,
        "TELEGRAM_WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram",
        "TELEGRAM_PORT": str(port),
        "TELEGRAM_SECRET_TOKEN": secret,
        "VAR_DIR": str(tmp_path),
    }
    return subprocess.run([sys.executable, "-m", "bot", "telegram"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("secret", "reason"),
    [
        ("hemmelig", "too short"),
        ("frivillig-frivillig-frivillig", "too few different characters"),
        ("TEST-frivilligbotten-token", "taken from the bot token"),
        ("hemmelig kode til telegram 2026", "only the letters"),
    ],
    ids=["short", "repetitive", "bot-token", "not-telegrams-alphabet"],
)
async def test_a_guessable_secret_stops_the_bridge_before_it_sets_a_webhook(telegram: FakeTelegram, tmp_path: Path, secret: str, reason: str) -> None:
    started = await asyncio.to_thread(start_bridge, telegram, tmp_path, secret)  # the fake Bot API answers from this event loop
    assert started.returncode == 2
    assert "TELEGRAM_SECRET_TOKEN" in started.stderr and reason in started.stderr and "secrets.token_urlsafe" in started.stderr
    assert secret not in started.stderr and telegram.called("setWebhook") == []


def test_random_secrets_are_accepted(telegram: FakeTelegram, tmp_path: Path) -> None:
    random_secret = "Zq3-vR8_tLw1xN6pKd0sYb7mHc2fJg5u"
    configured = bridge_config(telegram, "http://127.0.0.1:1", TELEGRAM_WEBHOOK_URL="https://bot.example/telegram", TELEGRAM_SECRET_TOKEN=random_secret)
    derived = bridge_config(telegram, "http://127.0.0.1:1", TELEGRAM_WEBHOOK_URL="https://bot.example/telegram", VAR_DIR=str(tmp_path))
    assert webhook_options(configured)["secret_token"] == random_secret
    assert webhook_options(derived)["secret_token"] == derived.derived_secret("telegram-webhook")
