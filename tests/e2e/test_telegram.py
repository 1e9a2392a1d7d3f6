"""The Telegram bridge against a fake Bot API on loopback and the real Rasa server, as a Telegram user sees it.

Updates go through the fake's getUpdates (long polling, the path `python -m bot telegram` takes)
or through the webhook server; what the user sees is what the bridge sent to the fake Bot API.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import datetime, timezone
from typing import Any, AsyncIterator

import httpx
import pytest
import yaml
from telegram import CallbackQuery, Message, PhotoSize, Update, User
from telegram.constants import MessageLimit
from telegram_user import bridge_config, citizen, message_update, new_chat_id, private_chat, running, say, update_ids

from bot.conventions import BRIDGE_PURPOSE
from bot.settings import ROOT
from bot.telegram.bridge import Payloads, build_application, split_text, webhook_options
from stack import Stack, free_port
from telegram_fake import BOT_USER, Call, FakeRasa, FakeTelegram

RESPONSES = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))["responses"]
LONG_PAYLOAD = '/ask_opportunities{"role": "vejviser", "place": "Region Midtjylland", "region": "midtjylland"}'


def domain_text(name: str) -> str:
    return str(RESPONSES[name][0]["text"])


def domain_payloads(name: str) -> list[str]:
    return [str(button["payload"]) for button in RESPONSES[name][0]["buttons"]]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


# --- factories ------------------------------------------------------------------------
def button_update(chat_id: int, data: str, message_id: int) -> dict[str, Any]:
    """The citizen pressing a button with callback_data `data` under the bot's message `message_id`."""
    bot_user = User(id=BOT_USER["id"], first_name=BOT_USER["first_name"], is_bot=True)
    message = Message(message_id=message_id, date=datetime.now(timezone.utc), chat=private_chat(chat_id), from_user=bot_user, text="…")
    query = CallbackQuery(id=str(next(update_ids)), from_user=citizen(chat_id), chat_instance=str(chat_id), message=message, data=data)
    return Update(update_id=next(update_ids), callback_query=query).to_dict()


def keyboard(call: Call) -> list[dict[str, Any]]:
    """The buttons under a sent message, one per row as the bridge sends them."""
    rows = (call.params.get("reply_markup") or {}).get("inline_keyboard") or []
    assert all(len(row) == 1 for row in rows), rows
    return [row[0] for row in rows]


# --- fixtures and running the bridge ----------------------------------------------------
@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = await FakeTelegram().start()
    yield fake
    await fake.stop()


@pytest.fixture
async def rasa() -> AsyncIterator[FakeRasa]:
    fake = await FakeRasa().start()
    yield fake
    await fake.stop()


# --- 1. commands --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("command", "response"),
    [("/start", "utter_greet"), ("/hjaelp", "utter_help"), ("/slet", "utter_confirm_erasure")],
)
async def test_commands_start_their_intents(bot: Stack, telegram: FakeTelegram, command: str, response: str) -> None:
    chat_id = new_chat_id()
    async with running(build_application(bridge_config(telegram, bot.rasa_url, VAR_DIR=str(bot.var_dir)))):
        reply = await say(telegram, chat_id, command, domain_text(response))

    assert reply.params["text"] == domain_text(response)
    assert [button["callback_data"] for button in keyboard(reply)] == domain_payloads(response)
    assert [call.params["action"] for call in telegram.called("sendChatAction")] == ["typing"]
    menu = telegram.called("setMyCommands")[0].params["commands"]
    assert [(c["command"], c["description"]) for c in menu] == [
        ("start", domain_text("utter_telegram_command_start")),
        ("hjaelp", domain_text("utter_telegram_command_help")),
        ("slet", domain_text("utter_telegram_command_erase")),
    ]


async def test_start_greets_in_danish_with_buttons(bot: Stack, telegram: FakeTelegram) -> None:
    chat_id = new_chat_id()
    async with running(build_application(bridge_config(telegram, bot.rasa_url, VAR_DIR=str(bot.var_dir)))):
        greeting = await say(telegram, chat_id, "/start", "Frivilligbotten")

    assert "frivillig" in greeting.params["text"].lower()
    assert "/ask_confidentiality" in [button["callback_data"] for button in keyboard(greeting)]
    assert [call.method for call in telegram.calls[:3]] == ["getMe", "setMyCommands", "deleteWebhook"]


async def test_message_without_text_gets_asked_for_text(bot: Stack, telegram: FakeTelegram) -> None:
    chat_id = new_chat_id()
    photo = [PhotoSize(file_id="photo-1", file_unique_id="u1", width=90, height=90)]
    async with running(build_application(bridge_config(telegram, bot.rasa_url, VAR_DIR=str(bot.var_dir)))):
        telegram.push(message_update(chat_id, photo=photo))
        reply = await telegram.wait_for(lambda: telegram.messages(chat_id), "a reply to a photo")

    assert reply[0].params["text"] == domain_text("utter_empty_message")


# --- 2. buttons ----------------------------------------------------------------------------
async def test_button_press_goes_to_rasa_and_removes_the_keyboard(bot: Stack, telegram: FakeTelegram) -> None:
    chat_id = new_chat_id()
    async with running(build_application(bridge_config(telegram, bot.rasa_url, VAR_DIR=str(bot.var_dir)))):
        greeting = await say(telegram, chat_id, "/start", "Frivilligbotten")
        data = next(b["callback_data"] for b in keyboard(greeting) if b["callback_data"] == "/ask_confidentiality")
        press = button_update(chat_id, data, greeting.result["message_id"])
        telegram.push(press)
        answer = await telegram.wait_for(
            lambda: next((c for c in telegram.messages(chat_id) if "tavshedspligt" in c.params["text"].lower() and c is not greeting), None),
            "the answer about tavshedspligt",
        )

    assert telegram.messages(chat_id).index(answer) > telegram.messages(chat_id).index(greeting)
    assert [c.params["callback_query_id"] for c in telegram.called("answerCallbackQuery")] == [press["callback_query"]["id"]]
    edit = telegram.called("editMessageReplyMarkup")
    assert [(c.params["chat_id"], c.params["message_id"]) for c in edit] == [(chat_id, greeting.result["message_id"])]
    assert "reply_markup" not in edit[0].params


# --- 3. long replies -----------------------------------------------------------------------
def paragraphs(count: int, words: int = 120) -> str:
    return "\n\n".join(f"Afsnit {n}: " + " ".join(f"ord{n}x{i}" for i in range(words)) for n in range(count))


@pytest.mark.parametrize(
    ("text", "boundary"),
    [
        (paragraphs(12), "\n\n"),
        ("\n".join(f"Linje {n}: " + " ".join(["frivillig"] * 60) for n in range(25)), "\n"),
        (" ".join(f"frivillig{n}" for n in range(1500)), " "),
    ],
    ids=["paragraphs", "lines", "words"],
)
def test_split_text_cuts_at_boundaries(text: str, boundary: str) -> None:
    chunks = split_text(text)

    assert len(chunks) >= 3
    assert all(0 < utf16_len(chunk) <= MessageLimit.MAX_TEXT_LENGTH for chunk in chunks)
    assert boundary.join(chunks) == text.strip()
    assert all(utf16_len(chunk) > MessageLimit.MAX_TEXT_LENGTH // 2 for chunk in chunks[:-1])


def test_split_text_edge_cases() -> None:
    assert split_text("Hej!") == ["Hej!"]
    assert split_text("  \n ") == []
    word = "x" * 10_000
    assert split_text(word) == [word[:4096], word[4096:8192], word[8192:]]
    emoji = "😊" * 3000  # two UTF-16 code units each, as Telegram counts
    assert [len(chunk) for chunk in split_text(emoji)] == [2048, 952]
    assert split_text("a" * 5 + " " + "b" * 5, limit=6) == ["aaaaa", "bbbbb"]


async def test_long_reply_is_split_with_buttons_on_the_last_message(telegram: FakeTelegram, rasa: FakeRasa) -> None:
    text = paragraphs(8, words=140)
    assert len(text) > 9000
    rasa.replies = [{"text": text, "buttons": [{"title": "Meld mig", "payload": "/signup"}, {"title": "Hjælp", "payload": "/help"}]}]
    chat_id = new_chat_id()
    async with running(build_application(bridge_config(telegram, rasa.url))):
        telegram.push(message_update(chat_id, "fortæl det hele"))
        sent = await telegram.wait_for(
            lambda: [c for c in telegram.messages(chat_id) if c.params.get("reply_markup")] and telegram.messages(chat_id), "the last part"
        )

    assert len(sent) == 3
    assert all(utf16_len(c.params["text"]) <= MessageLimit.MAX_TEXT_LENGTH for c in sent)
    assert "\n\n".join(c.params["text"] for c in sent) == text
    assert [keyboard(c) for c in sent[:-1]] == [[], []]
    assert [(b["text"], b["callback_data"]) for b in keyboard(sent[-1])] == [("Meld mig", "/signup"), ("Hjælp", "/help")]


# --- 4. webhook mode ------------------------------------------------------------------------
@pytest.mark.parametrize("secret", ["konfigureret-hemmelighed-42", ""], ids=["configured", "derived"])
async def test_webhook_refuses_requests_without_the_secret(bot: Stack, telegram: FakeTelegram, secret: str) -> None:
    port = free_port()
    config = bridge_config(
        telegram,
        bot.rasa_url,
        TELEGRAM_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
        TELEGRAM_PORT=str(port),
        TELEGRAM_SECRET_TOKEN=secret,
        VAR_DIR=str(bot.var_dir),
    )
    options = {**webhook_options(config), "listen": "127.0.0.1"}
    expected = secret or config.derived_secret("telegram-webhook")
    chat_id = new_chat_id()
    async with running(build_application(config), **options), httpx.AsyncClient(timeout=30) as client:
        set_webhook = telegram.called("setWebhook")[0].params
        assert (set_webhook["url"], set_webhook["secret_token"]) == (config.telegram_webhook_url, expected)
        assert expected != telegram.token
        url = f"http://127.0.0.1:{port}/telegram"
        refused = [
            await client.post(url, json=message_update(chat_id, "/slet")),
            await client.post(url, json=message_update(chat_id, "/slet"), headers={"X-Telegram-Bot-Api-Secret-Token": "forkert"}),
        ]
        accepted = await client.post(url, json=message_update(chat_id, "/start"), headers={"X-Telegram-Bot-Api-Secret-Token": expected})
        await telegram.wait_for(lambda: domain_text("utter_greet") in telegram.texts(chat_id), "the greeting")
        await asyncio.sleep(0.5)

    assert [r.status_code for r in refused] == [403, 403]
    assert accepted.status_code == 200
    assert telegram.texts(chat_id) == [domain_text("utter_greet")]


# --- 5. Rasa down, failing, slow, and back ------------------------------------------------------
async def test_rasa_outage_gets_a_friendly_message_and_the_bridge_recovers(telegram: FakeTelegram) -> None:
    port = free_port()  # nothing listens here until the fake Rasa starts
    unavailable = domain_text("utter_channel_unavailable")
    chat_id = new_chat_id()
    rasa = FakeRasa(port=port, replies=[{"text": "Hej! Hvad vil du vide om frivilligt arbejde?"}])
    async with running(build_application(bridge_config(telegram, f"http://127.0.0.1:{port}"), rasa_timeout=1.0)):
        await say(telegram, chat_id, "hej", unavailable)  # down
        await rasa.start()
        try:
            rasa.status = 500
            await say(telegram, chat_id, "hej igen", unavailable)  # failing
            rasa.status, rasa.delay = 200, 2.0
            await say(telegram, chat_id, "er du der?", unavailable)  # too slow
            rasa.delay = 0.0
            await say(telegram, chat_id, "hej en sidste gang", "Hvad vil du vide")  # back
        finally:
            await rasa.stop()

    assert telegram.texts(chat_id) == [unavailable] * 3 + ["Hej! Hvad vil du vide om frivilligt arbejde?"]
    secret = bridge_config(telegram, f"http://127.0.0.1:{port}").derived_secret(BRIDGE_PURPOSE)
    assert [(r["sender"], r["message"], r["token"]) for r in rasa.received][-1] == (f"telegram:{chat_id}", "hej en sidste gang", secret)


# --- concurrency -----------------------------------------------------------------------------
async def test_chats_are_answered_concurrently_each_in_order(telegram: FakeTelegram, rasa: FakeRasa) -> None:
    rasa.echo, rasa.delays = True, {"langsomt spørgsmål": 1.5}
    slow_chat, other_chat = new_chat_id(), new_chat_id()
    async with running(build_application(bridge_config(telegram, rasa.url))):
        for chat_id, text in [(slow_chat, "langsomt spørgsmål"), (slow_chat, "hurtigt spørgsmål"), (other_chat, "hurtigt spørgsmål")]:
            telegram.push(message_update(chat_id, text))
        await telegram.wait_for(lambda: len(telegram.called("sendMessage")) == 3, "three replies")

    order = [(c.params["chat_id"], c.params["text"]) for c in telegram.called("sendMessage")]
    assert order == [(other_chat, "svar: hurtigt spørgsmål"), (slow_chat, "svar: langsomt spørgsmål"), (slow_chat, "svar: hurtigt spørgsmål")]


# --- 6. payloads longer than callback_data allows ------------------------------------------------
def test_payloads_fit_in_callback_data() -> None:
    payloads = Payloads(capacity=2)
    assert payloads.encode("/ask_confidentiality") == "/ask_confidentiality"
    assert payloads.encode("Region Sjælland") == "Region Sjælland"
    long_keys = [payloads.encode(p) for p in (LONG_PAYLOAD, "æ" * 40, "p:looks-like-a-key", "")]
    assert all(key.startswith("p:") and len(key.encode()) <= 64 for key in long_keys)
    assert len(set(long_keys)) == 4
    assert [payloads.decode(key) for key in long_keys] == [None, None, "p:looks-like-a-key", ""]  # capacity 2 keeps the newest
    assert payloads.decode("/signup") == "/signup"


async def test_long_payload_becomes_a_short_key_and_resolves_on_press(telegram: FakeTelegram, rasa: FakeRasa) -> None:
    rasa.replies = [
        {"text": "Mente du en af disse?", "buttons": [{"title": "Vejviser i Region Midtjylland", "payload": LONG_PAYLOAD}, {"title": "Ja", "payload": "ja"}]}
    ]
    chat_id = new_chat_id()
    async with running(build_application(bridge_config(telegram, rasa.url))):
        offer = await say(telegram, chat_id, "vejviser midtjylland", "Mente du")
        long_key, short = (b["callback_data"] for b in keyboard(offer))
        telegram.push(button_update(chat_id, long_key, offer.result["message_id"]))
        await telegram.wait_for(lambda: any(r["message"] == LONG_PAYLOAD for r in rasa.received), "the long payload at Rasa")
        telegram.push(button_update(chat_id, "p:" + "0" * 16, offer.result["message_id"]))
        expired = await telegram.wait_for(lambda: domain_text("utter_telegram_button_expired") in telegram.texts(chat_id), "the expired-button answer")

    assert expired
    assert long_key.startswith("p:") and len(long_key.encode()) <= 64 < len(LONG_PAYLOAD.encode())
    assert short == "ja"
    assert [r["message"] for r in rasa.received] == ["vejviser midtjylland", LONG_PAYLOAD]
    assert len(telegram.called("answerCallbackQuery")) == 2


# --- `python -m bot telegram` -------------------------------------------------------------------
def bridge_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_")}
    return {**env, "PYTHONPATH": str(ROOT), **values}


async def test_command_without_token_explains_and_exits_2() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "telegram", cwd=ROOT, env=bridge_env(), stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(proc.communicate(), 120)

    assert proc.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in err.decode()


async def test_command_polls_answers_and_stops_on_sigterm(bot: Stack, telegram: FakeTelegram) -> None:
    env = bridge_env(TELEGRAM_BOT_TOKEN=telegram.token, TELEGRAM_API_URL=telegram.base_url, RASA_URL=bot.rasa_url, VAR_DIR=str(bot.var_dir))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "telegram", cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    chat_id = new_chat_id()
    try:
        await telegram.wait_for(lambda: telegram.called("getUpdates"), "the first getUpdates", timeout=120)
        await say(telegram, chat_id, "/start", "Frivilligbotten")
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(proc.communicate(), 60)

    assert proc.returncode == 0, output.decode()
    assert telegram.called("deleteWebhook") and not telegram.called("setWebhook")
    assert telegram.token not in output.decode()
