"""Live chat with a citizen on Telegram: the real bridge against the fake Bot API on loopback, the real bot, and a
coordinator using the dashboard's live chat routes over HTTP (the same requests its page makes).

The Rasa server itself pushes the coordinator's messages to Telegram (bot/rasa_server/live.py), so the fake Bot
API listens on the port the `live_bot` was started with (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import re
from typing import AsyncIterator

import httpx
import pytest
from conftest import LIVE_PASSWORD, LIVE_TELEGRAM_PORT, LIVE_TELEGRAM_TOKEN
from telegram_user import bridge_config, message_update, new_chat_id, running, say

from bot.telegram.bridge import build_application
from stack import Stack
from telegram_fake import FakeTelegram

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram(token=LIVE_TELEGRAM_TOKEN, port=LIVE_TELEGRAM_PORT).start()
    yield fake
    await fake.stop()


class Coordinator:
    """A coordinator's browser session on the dashboard, as plain HTTP."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=30, follow_redirects=True)
        self.token = ""

    async def login(self, email: str) -> None:
        page = await self.http.get("/dashboard/login")
        answer = await self.http.post("/dashboard/login", data={"csrf_token": self._token(page.text), "email": email, "password": LIVE_PASSWORD})
        assert "Overblik" in answer.text, answer.text[:500]
        self.token = self._token(answer.text)

    @staticmethod
    def _token(html: str) -> str:
        match = CSRF.search(html)
        assert match, html[:500]
        return match.group(1)

    async def post(self, path: str, **form: str) -> httpx.Response:
        return await self.http.post(path, data={"csrf_token": self.token, **form}, headers={"Accept": "application/json"})

    async def close(self) -> None:
        await self.http.aclose()


async def test_a_coordinator_chats_with_a_citizen_on_telegram(live_bot: Stack, telegram: FakeTelegram) -> None:
    mette = Coordinator(live_bot.web_url)
    await mette.login("mette@rm.dk")
    assert (await mette.http.get("/dashboard/live/chats")).json() is not None  # the live page is open: on duty
    chat_id = new_chat_id()
    try:
        async with running(build_application(bridge_config(telegram, live_bot.rasa_url, VAR_DIR=str(live_bot.var_dir)))):
            await say(telegram, chat_id, "jeg vil gerne tale med en koordinator", "Hvad hedder du?")
            await say(telegram, chat_id, "Tove Thomsen", "e-mail")
            await say(telegram, chat_id, "tove@eksempel.dk", "telefon")
            await say(telegram, chat_id, "spring over", "kommune")
            await say(telegram, chat_id, "Viborg", "tale med koordinatoren om")
            await say(telegram, chat_id, "Kan jeg være vejviser om lørdagen?", "Må vi gemme")
            fetching = await say(telegram, chat_id, "ja", "Jeg henter en frivilligkoordinator fra Region Midtjylland")
            reference = re.search(r"FRV-\d{4}-[A-Z0-9]{6}", fetching.params["text"]).group(0)  # type: ignore[union-attr]

            chats = (await mette.http.get("/dashboard/live/chats")).json()["chats"]
            assert [c["state"] for c in chats if c["reference"] == reference] == ["waiting"]
            joined = await mette.post(f"/dashboard/live/{reference}/join")
            assert joined.status_code == 200, joined.text
            await telegram.wait_for(lambda: "Du skriver nu med Mette, frivilligkoordinator i Region Midtjylland." in telegram.texts(chat_id), "the join")

            assert (await mette.post(f"/dashboard/live/{reference}/say", text="Hej Tove! Ja, der er vejvisere om lørdagen.")).status_code == 200
            await telegram.wait_for(lambda: "Mette (koordinator):\nHej Tove! Ja, der er vejvisere om lørdagen." in telegram.texts(chat_id), "Mette's message")

            sent = len(telegram.texts(chat_id))
            telegram.push(message_update(chat_id, "Super, hvordan melder jeg mig?"))

            async def arrived() -> bool:
                lines = (await mette.http.get(f"/dashboard/live/{reference}/events?after=0")).json()["lines"]
                return any(line["who"] == "citizen" and line["text"] == "Super, hvordan melder jeg mig?" for line in lines)

            for _ in range(40):
                if await arrived():
                    break
                await asyncio.sleep(0.1)
            assert await arrived()
            assert len(telegram.texts(chat_id)) == sent  # the bot stayed silent

            left = await mette.http.post(f"/dashboard/live/{reference}/leave", data={"csrf_token": mette.token})
            assert left.status_code == 200
            await telegram.wait_for(lambda: any("Mette har givet samtalen tilbage til mig" in t for t in telegram.texts(chat_id)), "the hand-back")
            await say(telegram, chat_id, "har frivillige tavshedspligt?", "tavshedspligt")
    finally:
        await mette.close()
