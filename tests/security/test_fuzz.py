"""Input fuzzing of the public chat channels (issue 13, done-when): no crash and no 5xx, whatever a client sends.

Hypothesis sends the running Rasa server a few hundred requests per channel: any JSON, wrong types, every kind
of character (lone surrogates too), huge strings, sender ids of other channels, invalid UTF-8; on socket.io any
payload, any number of arguments and any session value, forged tokens included. Every request gets a 2xx or 4xx,
a refusal has a JSON body, every socket.io event is handled to the end (the server acknowledges it), the server's
log has no traceback, and afterwards the bot still answers a normal message. Senders vary, and 127.0.0.1 is exempt
from the per-address limit, so the rate limits answer only senders hypothesis repeats (with a 429, which is fine).
"""

from __future__ import annotations

import asyncio
import json
import operator
import uuid
from datetime import timedelta
from typing import Any

import socketio
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from socketio.packet import EVENT, Packet
from test_channels import socket_says

from stack import Stack, http, texts

FUZZ = settings(max_examples=300, deadline=timedelta(seconds=30), database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# A socket.io event whose handler fails is never acknowledged: each shrinking step would wait for the timeout.
FUZZ_WITHOUT_SHRINKING = settings(FUZZ, phases=[Phase.explicit, Phase.generate])

characters = st.characters(exclude_categories=())  # every code point, lone surrogates included
text = st.text(characters, max_size=40)
huge = st.builds(operator.mul, st.text(characters, min_size=1, max_size=3), st.integers(300, 60_000))
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
# Other channels' senders in several spellings, invisible characters, path and size tricks.
odd_senders = st.sampled_from(
    [
        "telegram:1",
        "Telegram:42",
        "TELEGRAM:-100",
        "web:" + "a" * 32,
        "WEB:x",
        "telegram\u200b:1",
        "\u202etelegram:1",
        " ",
        "\x00",
        "x" * 201,
        "../x",
        "🙂" * 60,
    ]
)
# Intents typed directly, with broken or odd entities.
odd_messages = st.sampled_from(
    ["/greet", "/delete_data", "/restart", "/session_start", '/signup{"email": "x@y.dk"', '/inform{"x": [1, {}]}', "/" + "a" * 900, "ja", "\x00"]
)
# A strategy named twice is drawn twice as often: many requests should get as far as the dialogue.
fuzz_senders = text.map(lambda s: f"fuzz-{s}")
senders = st.one_of(fuzz_senders, fuzz_senders, fuzz_senders, text, odd_senders, huge)
messages = st.one_of(text, text, odd_messages, huge)
extras = {"metadata": st.one_of(json_values, st.dictionaries(text, json_values, max_size=3)), "input_channel": json_values}
typed = st.fixed_dictionaries({"sender": senders, "message": messages}, optional=extras)
ill_typed = st.fixed_dictionaries({"sender": st.one_of(senders, json_values), "message": st.one_of(messages, json_values)}, optional=extras)
bodies = st.one_of(typed, typed, typed, ill_typed, json_values)
raw_bodies = st.one_of(
    bodies.map(lambda body: json.dumps(body).encode()),  # lone surrogates as \ud800 escapes
    bodies.map(lambda body: json.dumps(body).encode()),
    bodies.map(lambda body: json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")),  # and as invalid UTF-8
    st.binary(max_size=300),
)


def rasa_log(bot: Stack) -> str:
    return bot.logs["rasa"].read_text(errors="replace")


def still_answers(bot: Stack) -> None:
    replies = bot.say(f"fuzz-after-{uuid.uuid4().hex[:8]}", "hvad kan jeg lave som frivillig?")
    assert "frivillig" in texts(replies).lower()


def test_the_rest_channel_answers_anything_with_2xx_or_a_4xx_in_json(bot: Stack) -> None:
    logged = len(rasa_log(bot))

    @FUZZ
    @example(body=json.dumps({"sender": "fuzz-\udcd9", "message": "hej"}).encode(), query="", content_type="application/json")  # found by fuzzing:
    @example(body=json.dumps({"sender": "fuzz-x", "message": "hej \udcd9"}).encode(), query="", content_type="application/json")  # NLU failed
    @given(body=raw_bodies, query=st.sampled_from(["", "?stream=true", "?stream=false"]), content_type=st.sampled_from(["application/json", "text/plain", ""]))
    def post(body: bytes, query: str, content_type: str) -> None:
        status, reply = http("POST", f"{bot.rasa_url}/webhooks/rest/webhook{query}", body, timeout=60, headers={"Content-Type": content_type})
        assert status < 500, (status, reply)
        if status >= 400:
            assert isinstance(reply, (dict, list)), f"{status} without a JSON body: {reply!r}"
        elif not query.startswith("?stream=true"):  # streamed replies are one JSON object per line
            assert isinstance(reply, list), reply

    post()
    assert "Traceback" not in rasa_log(bot)[logged:]
    still_answers(bot)


class Socket:
    """The fuzzing client's socket.io connection, on an event loop of its own, opened again when the server closed it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.client = socketio.AsyncClient(reconnection=False)
        self.issued: list[str] = []

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def connect(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.client.on("session_confirm", self.issued.append)
        self.run(self.client.connect(self.url, transports=["websocket"]))

    async def exchange(self, events: list[tuple[str, tuple[Any, ...]]]) -> None:
        """Emit the first event as it is, then each of the others waiting until the server acknowledges that its handler ran to the end."""
        (first, arguments), *acknowledged = events
        await self.client.emit(first, arguments)
        for name, arguments in acknowledged:
            await self.client.call(name, arguments, timeout=20)

    def close(self) -> None:
        self.run(self.client.disconnect())
        self.loop.close()


def oversized(name: str, arguments: tuple[Any, ...]) -> bool:
    """Whether the event makes a packet over python-engineio's max_http_buffer_size (1 MB): the server then closes the connection."""
    encoded = Packet(EVENT, data=[name, *arguments]).encode()
    return any(len(piece) >= 1_000_000 for piece in (encoded if isinstance(encoded, list) else [encoded]))


def test_the_socketio_channel_handles_any_event_to_the_end(bot: Stack) -> None:
    socket = Socket(bot.rasa_url)
    socket.connect()
    socket.run(socket.client.call("session_request", {"session_id": None}, timeout=30))
    issued = socket.issued[-1]
    session, _, signature = issued.partition(".")
    sessions = st.one_of(
        st.sampled_from([issued, issued.upper(), issued[:-1], f"{session}.{'0' * 64}", f"{uuid.uuid4().hex}.{signature}", f"{issued}.", f" {issued}", "", "."]),
        text,
        huge,
        json_values,
    )
    payloads = st.one_of(
        json_values,
        st.binary(max_size=200),
        st.fixed_dictionaries({"message": messages}, optional={"session_id": sessions, "customData": st.one_of(json_values, text)}),
    )
    arguments = st.one_of(payloads.map(lambda p: (p,)), st.lists(payloads, max_size=3).map(tuple))
    logged = len(rasa_log(bot))

    @FUZZ_WITHOUT_SHRINKING
    @example(asked={"session_id": None}, said=({"message": "hej \udcd9"},), other="message", extra=())  # found by fuzzing: NLU failed
    @given(
        asked=st.one_of(st.fixed_dictionaries({"session_id": sessions}), payloads),
        said=arguments,
        other=st.sampled_from(["connect", "disconnect", "session_confirm", "bot_uttered", "message", "user_uttered"]),  # unexpected ones too
        extra=arguments,
    )
    def send(asked: Any, said: tuple[Any, ...], other: str, extra: tuple[Any, ...]) -> None:
        events = [(other, extra), ("session_request", (asked,)), ("user_uttered", said)]
        try:
            socket.run(socket.exchange(events))
        except (socketio.exceptions.BadNamespaceError, socketio.exceptions.TimeoutError):
            if not any(oversized(name, arguments) for name, arguments in events):
                raise
            socket.connect()  # the server closed the connection on a packet over 1 MB, as it should

    try:
        send()
        assert socket.client.connected
    finally:
        socket.close()
    assert "Traceback" not in rasa_log(bot)[logged:]
    _, heard = asyncio.run(socket_says(bot, None, "hvad kan jeg lave som frivillig?"))
    assert any("frivillig" in h.lower() for h in heard)
    still_answers(bot)
