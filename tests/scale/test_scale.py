"""Several Rasa instances behind HAProxy, sharing PostgreSQL and Redis: conversations survive instances, load and faults."""

from __future__ import annotations

import asyncio
import re
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from itertools import cycle
from typing import Any

import httpx
import socketio

from bot.conventions import LIVE_PURPOSE, LIVE_TOKEN_HEADER
from services import Cluster
from stack import texts

STEPS = ["jeg vil gerne melde mig som frivillig", "Ida Kjær Hansen", None, "20 30 40 50", "Aarhus", "vejviser", "weekender", "nej tak", "ja"]


def steps(email: str) -> list[str]:
    return [email if step is None else step for step in STEPS]


def leads_with(cluster: Cluster, email: str) -> list[dict[str, Any]]:
    return [lead for lead in cluster.stack.store().cases.all_leads() if lead["email"] == email]


def test_one_conversation_alternating_between_instances(cluster: Cluster) -> None:
    sender, email = f"alt-{uuid.uuid4().hex[:8]}", f"alt.{uuid.uuid4().hex[:8]}@example.dk"
    urls = cycle(cluster.urls)
    last: list[dict[str, Any]] = []
    for step in steps(email):
        last = cluster.say(sender, step, url=next(urls))
        assert last, f"no answer to {step!r}"
    assert re.search(r"FRV-\d{4}-", texts(last)), texts(last)
    [lead] = leads_with(cluster, email)
    assert (lead["name"], lead["phone"], lead["region"], lead["interests"]) == ("Ida Kjær Hansen", "+4520304050", "midtjylland", ["vejviser"])


class Citizen:
    """The widget's socket.io connection to one Rasa instance: what the citizen is shown, in order."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.shown: list[dict[str, Any]] = []
        self.session = ""
        self.client.on("session_confirm", self._confirm)
        self.client.on("bot_uttered", self.shown.append)

    async def _confirm(self, token: str) -> None:
        self.session = token

    async def connect(self, url: str) -> None:
        await self.client.connect(url, transports=["websocket"], socketio_path="/socket.io")
        await self.client.emit("session_request", {"session_id": None})
        await self.wait(lambda: self.session, "the session")

    async def say(self, text: str) -> None:
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session})

    async def wait(self, check: Any, what: str, timeout: float = 30) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := check():
                return found
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; shown: {self.shown}")

    def saw(self, text: str) -> list[dict[str, Any]]:
        return [m for m in self.shown if text in str(m.get("text", ""))]


async def test_a_live_chat_reaches_the_citizen_on_one_instance_from_the_other(cluster: Cluster) -> None:
    """The citizen's websocket is held by the first instance; the dashboard's calls land on the second (Redis carries the emits)."""
    first, second = cluster.urls
    citizen = Citizen()
    await citizen.connect(first)
    sender = "web:" + citizen.session.split(".")[0]
    headers = {LIVE_TOKEN_HEADER: cluster.stack.settings.derived_secret(LIVE_PURPOSE)}

    async def live(operation: str, **body: str) -> int:
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.post(f"{second}/webhooks/live/{operation}", json={"sender": sender, **body}, headers=headers)
            return answer.status_code

    try:
        await citizen.say("hej")
        await citizen.wait(lambda: citizen.saw("Frivilligbotten"), "the greeting")
        assert await live("join", coordinator="Mette", region="Region Midtjylland") == 200
        await citizen.wait(lambda: citizen.saw("Du skriver nu med Mette, frivilligkoordinator i Region Midtjylland."), "the join")
        assert await live("say", coordinator="Mette", text="Hej! Hvad kan jeg hjælpe med?") == 200
        [said] = await citizen.wait(lambda: citizen.saw("Hej! Hvad kan jeg hjælpe med?"), "the coordinator's message")
        assert said["metadata"]["live"]["event"] == "say" and said["metadata"]["live"]["coordinator"] == "Mette"
        shown = len(citizen.shown)
        await citizen.say("har frivillige tavshedspligt?")
        await asyncio.sleep(2)
        assert len(citizen.shown) == shown  # the bot is silent on both instances while the coordinator is there
        assert await live("leave", coordinator="Mette") == 200
        await citizen.wait(lambda: citizen.saw("Mette har givet samtalen tilbage til mig"), "the hand-back")
        await citizen.say("har frivillige tavshedspligt?")
        await citizen.wait(lambda: citizen.saw("De frivillige har tavshedspligt"), "the bot's answer again")
        assert await live("say", coordinator="Mette", text="for sent") == 409  # no longer live
        assert await live("join", coordinator="Mette", region="x") == 200 and await live("leave", coordinator="Mette") == 200
    finally:
        await citizen.client.disconnect()


def test_fifty_concurrent_signups_through_the_load_balancer(cluster: Cluster) -> None:
    run = uuid.uuid4().hex[:6]
    before = cluster.balancer.sessions_per_server()

    def citizen(i: int) -> tuple[str, int]:
        sender, email = f"load-{run}-{i}", f"load.{run}.{i}@example.dk"
        answered = 0
        for step in steps(email):
            answered += bool(cluster.say(sender, step))
        return email, answered

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(citizen, range(50)))
    assert all(answered == len(STEPS) for _, answered in results), "some messages got no answer"
    emails = {email for email, _ in results}
    stored = [lead for lead in cluster.stack.store().cases.all_leads() if lead["email"] in emails]
    assert len(stored) == 50 and len({lead["reference"] for lead in stored}) == 50
    served = {name: count - before.get(name, 0) for name, count in cluster.balancer.sessions_per_server().items()}
    assert len(served) == 2 and all(count >= 100 for count in served.values()), f"HAProxy did not spread the 450 messages: {served}"


def test_action_server_killed_mid_form_and_restarted(cluster: Cluster) -> None:
    sender, email = f"kill-{uuid.uuid4().hex[:8]}", f"kill.{uuid.uuid4().hex[:8]}@example.dk"
    flow = steps(email)
    for step in flow[:5]:
        cluster.say(sender, step)
    cluster.stack.stop("actions", sig=signal.SIGKILL)
    cluster.stack.start("actions")
    replies: list[dict[str, Any]] = []
    for step in flow[5:]:
        replies = cluster.say(sender, step)
    assert re.search(r"FRV-\d{4}-", texts(replies)), texts(replies)
    assert len(leads_with(cluster, email)) == 1


def test_lead_database_down_during_submission_is_spooled_then_written(cluster: Cluster) -> None:
    sender, email = f"pgdown-{uuid.uuid4().hex[:8]}", f"pgdown.{uuid.uuid4().hex[:8]}@example.dk"
    flow = steps(email)
    for step in flow[:-1]:
        cluster.say(sender, step)
    cluster.leads_db.stop()
    try:
        answer = texts(cluster.say(sender, flow[-1]))
        assert re.search("ikke gemme din tilmelding i vores system lige nu", answer) and re.search("ligger i kø", answer)
        reference = re.search(r"FRV-\d{4}-[A-Z0-9]{6}", answer)
        assert reference
        assert list(cluster.stack.settings.spool_dir.glob("*.json")), "the lead is not in the local retry queue"
    finally:
        cluster.leads_db.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not leads_with(cluster, email):
        time.sleep(1)
    [lead] = leads_with(cluster, email)
    assert lead["reference"] == reference.group(0)
    assert not list(cluster.stack.settings.spool_dir.glob("*.json"))


def test_a_killed_rasa_instance_leaves_the_other_to_carry_on(cluster: Cluster) -> None:
    """The citizen keeps writing to the same address; HAProxy sends every message to the instance that is alive."""
    sender, email = f"rasakill-{uuid.uuid4().hex[:8]}", f"rasakill.{uuid.uuid4().hex[:8]}@example.dk"
    flow = steps(email)
    for step in flow[:4]:
        cluster.say(sender, step)
    cluster.stack.stop(cluster.second, sig=signal.SIGKILL)
    try:
        replies: list[dict[str, Any]] = []
        for step in flow[4:]:
            replies = cluster.say(sender, step)
            assert replies, f"no answer to {step!r} with one instance dead"
        assert re.search(r"FRV-\d{4}-", texts(replies)), texts(replies)
        assert len(leads_with(cluster, email)) == 1
        deadline = time.monotonic() + 15  # its health checks: two failures a second apart
        while time.monotonic() < deadline and cluster.balancer.servers_up() != ["rasa1"]:
            time.sleep(0.5)
        assert cluster.balancer.servers_up() == ["rasa1"], "HAProxy did not take the dead instance out of the rotation"
    finally:
        cluster.stack.start(cluster.second)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(cluster.balancer.servers_up()) < 2:
        time.sleep(0.5)
    assert len(cluster.balancer.servers_up()) == 2, "the restarted instance did not come back into the balancer"
