"""`make bench`: this bot and Rasa's starter bot under the same loads, in the same run, side by side.

Absolute times vary by about a quarter from run to run on the 2-core machines, so every
figure is printed next to the starter bot's (the bot `rasa init` creates, trained in a
temporary folder, run as Rasa ships it) and as a ratio:

- Closed loop (saturation): N citizens send their messages back to back for a fixed time.
  It measures the most messages per second the bot can answer; its latency is N ÷ throughput,
  not what a citizen feels.
- Open loop: citizens arrive at random (Poisson) at a fixed rate, 70 % of the starter bot's
  saturation in messages per second, each writing a conversation with a few seconds of
  thinking between messages. It measures the latency a citizen feels at a realistic load.
- Cost curve: one conversation of 300 messages; the median time of each fifty. A message
  late in a long conversation should cost about what an early one costs.
- Scale-out: two Rasa instances and the action server on PostgreSQL and Redis behind
  HAProxy, against one instance on the same stores behind the same HAProxy (saturation).
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.tooling.processes import HAProxy, LocalBot, Postgres, ProcessGroup, Redis, free_port, http, wait_until
from bot.tooling.training import ensure_model

QUESTIONS = [
    "hej",
    "hvad kan jeg lave som frivillig?",
    "har frivillige tavshedspligt",
    "får man løn",
    "er jeg forsikret",
    "hvad er de fire pejlemærker",
    "hvad laver en vejviser",
    "hvor mange frivillige er der i region sjælland",
    "kan man være frivillig på et hospice",
    "tak for hjælpen",
]
SIGNUP = ["jeg vil gerne være frivillig", "Bente Jensen", "EMAIL", "20 30 40 50", "Aarhus", "vejviser", "weekender", "nej tak", "ja"]
STARTER = ["hello", "I am sad", "no", "great", "bye", "are you a bot?", "hi there", "very good"]
OPEN_LOOP_SHARE = 0.7  # of the starter bot's saturation, in messages per second
THINK_SECONDS = 3.0  # mean pause between a citizen's messages in the open loop
CURVE_MESSAGES = 300
CURVE_WINDOW = 50
# The bench sends 300 messages in one conversation: the per-conversation limit would refuse them.
BENCH_ENV = {"RATE_LIMIT_CONVERSATION": "0"}


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    peak_mb: dict[str, float] = field(default_factory=dict)
    needs_answer: bool = True  # our bot answers every message; the starter bot's stories leave some unanswered
    sent_at: list[float] = field(default_factory=list)  # time.monotonic() of each message sent
    achieved: float = 0.0  # open loop: messages per second sent while citizens arrived

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    def line(self) -> str:
        memory = ", ".join(f"{k} {v:.0f} MB" for k, v in self.peak_mb.items())
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else 0
        return (
            f"{self.name}: {len(self.latencies)} messages in {self.seconds:.0f} s = {self.throughput:.1f} msg/s · "
            f"p50 {p50:.0f} ms · p95 {self.percentile(0.95):.0f} ms · p99 {self.percentile(0.99):.0f} ms · errors {self.errors}"
            + (f" · peak memory: {memory}" if memory else "")
        )


def _peak_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process and its children, from /proc."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def _cpu_seconds(pid: int) -> float:
    """CPU time of a process, its live descendants and the children it has reaped, from /proc."""
    try:
        after_name = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    except OSError:
        return 0.0
    utime, stime, cutime, cstime = (int(x) for x in after_name[11:15])  # fields 14-17 of proc(5)
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK") + sum(_cpu_seconds(c) for c in children)


class CpuUse:
    """Where the CPU went during a run: each process's CPU seconds, against what the machine's cores could give."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.start = {name: _cpu_seconds(pid) for name, pid in pids.items()}
        self.own, self.began = time.process_time(), time.monotonic()

    def line(self, messages: int) -> str:
        wall = time.monotonic() - self.began
        used = {name: _cpu_seconds(pid) - self.start[name] for name, pid in self.pids.items()}
        used["load generator"] = time.process_time() - self.own
        capacity = wall * (os.cpu_count() or 1)
        parts = " · ".join(f"{name} {seconds / max(messages, 1) * 1000:.0f} ms" for name, seconds in used.items())
        return f"CPU per message: {parts} · the {os.cpu_count()} cores {sum(used.values()) / capacity:.0%} busy"


def conversation(script: str, rng: random.Random, sender: str) -> list[str]:
    """One citizen's messages: the starter bot's small talk, or our questions and three sign-ups in ten."""
    if script == "starter":
        return rng.sample(STARTER, 4)
    if rng.random() < 0.3:
        return [m.replace("EMAIL", f"{sender}@example.dk") for m in SIGNUP]
    return rng.sample(QUESTIONS, 4)


def mean_messages(script: str) -> float:
    return 4.0 if script == "starter" else 0.7 * 4 + 0.3 * len(SIGNUP)


async def _send(session: aiohttp.ClientSession, url: str, sender: str, message: str, result: Result) -> None:
    """One message; an error is a failed request, or no answer from our bot (the starter bot's stories leave some messages unanswered)."""
    started = time.perf_counter()
    result.sent_at.append(time.monotonic())
    try:
        async with session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}) as resp:
            body = await resp.json()
            ok = resp.status == 200 and (bool(body) or not result.needs_answer)
    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
        ok = False
    if ok:
        result.latencies.append(time.perf_counter() - started)
    else:
        result.errors += 1


async def closed_loop(url: str, users: int, seconds: float, script: str) -> Result:
    """`users` citizens, each sending its next message as soon as the last was answered."""
    result = Result(f"{script} closed loop", seconds, needs_answer=script != "starter")
    stop_at = time.monotonic() + seconds

    async def citizen(i: int) -> None:
        rng = random.Random(i)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            while time.monotonic() < stop_at:
                sender = f"bench-{uuid.uuid4().hex[:10]}"
                for message in conversation(script, rng, sender):
                    if time.monotonic() >= stop_at:
                        return
                    await _send(session, url, sender, message, result)

    await asyncio.gather(*(citizen(i) for i in range(users)))
    return result


def arrivals(rate: float, seconds: float, rng: random.Random) -> list[float]:
    """Arrival times of a Poisson process with `rate` arrivals per second, over `seconds`."""
    times, t = [], rng.expovariate(rate)
    while t < seconds:
        times.append(t)
        t += rng.expovariate(rate)
    return times


async def open_loop(url: str, messages_per_second: float, seconds: float, script: str, seed: int = 1) -> Result:
    """Citizens arriving at random so that their messages come at `messages_per_second`, each pausing between messages."""
    rng = random.Random(seed)
    result = Result(f"{script} open loop at {messages_per_second:.1f} msg/s", seconds, needs_answer=script != "starter")
    starts = arrivals(messages_per_second / mean_messages(script), seconds, rng)
    senders = [f"open-{uuid.uuid4().hex[:10]}" for _ in starts]
    plans = [(start, sender, conversation(script, rng, sender), rng.random()) for start, sender in zip(starts, senders, strict=True)]
    began = time.monotonic()
    connector = aiohttp.TCPConnector(limit=0)  # no client-side queue: every citizen has its own connection

    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=60)) as session:

        async def citizen(start: float, sender: str, messages: list[str], seed: float) -> None:
            own = random.Random(seed)
            await asyncio.sleep(max(0.0, start - (time.monotonic() - began)))
            for n, message in enumerate(messages):
                if n:
                    await asyncio.sleep(own.expovariate(1 / THINK_SECONDS))
                await _send(session, url, sender, message, result)

        await asyncio.gather(*(citizen(*plan) for plan in plans))
    # Its rate is that of the messages sent while citizens arrived; the last ones finish their conversations after it.
    result.achieved = sum(1 for t in result.sent_at if t - began < seconds) / seconds
    result.seconds = time.monotonic() - began
    return result


@dataclass
class Curve:
    name: str
    latencies: list[float]
    errors: int

    def medians(self) -> list[float]:
        return [statistics.median(self.latencies[i : i + CURVE_WINDOW]) * 1000 for i in range(0, len(self.latencies), CURVE_WINDOW)]

    @property
    def growth(self) -> float:
        """Messages 281-300 against messages 1-20, by their medians: about "message 300 ÷ message 10"."""
        early, late = statistics.median(self.latencies[:20]), statistics.median(self.latencies[-20:])
        return late / early if early else 0.0

    def line(self) -> str:
        windows = " · ".join(f"{i * CURVE_WINDOW + 1}-{(i + 1) * CURVE_WINDOW}: {m:.0f} ms" for i, m in enumerate(self.medians()))
        return f"{self.name} cost curve (median per fifty messages): {windows} · message 300 ÷ message 10: {self.growth:.2f}× · errors {self.errors}"


async def cost_curve(url: str, script: str, messages: int = CURVE_MESSAGES) -> Curve:
    """One conversation of `messages` messages, sent one after the other; the time of each."""
    texts = STARTER if script == "starter" else [q for q in QUESTIONS if q != "tak for hjælpen"]
    result = Result(script, 0, needs_answer=script != "starter")
    sender = f"curve-{uuid.uuid4().hex[:10]}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
        for n in range(messages):
            await _send(session, url, sender, texts[n % len(texts)], result)
    return Curve(script, result.latencies, result.errors)


@dataclass
class Figures:
    closed: Result
    open: Result
    curve: Curve


def measure(name: str, url: str, script: str, users: int, seconds: float, open_rate: Callable[[Result], float], group: ProcessGroup) -> Figures:
    """The closed loop, the open loop at the rate `open_rate` gives for the closed loop's result, and the cost curve."""
    cpu = CpuUse({n: p.pid for n, p in group.procs.items()})
    closed = asyncio.run(closed_loop(url, users, seconds, script))
    closed.name = f"{name}, closed loop ({users} citizens back to back)"
    closed.peak_mb = {n: _peak_mb(p.pid) for n, p in group.procs.items()}
    print(closed.line(), flush=True)
    print(f"  {cpu.line(len(closed.latencies))}", flush=True)
    rate = open_rate(closed)
    opened = asyncio.run(open_loop(url, rate, seconds, script))
    opened.name = f"{name}, open loop ({rate:.1f} msg/s asked, {opened.achieved:.1f} msg/s sent while citizens arrived)"
    print(opened.line(), flush=True)
    curve = asyncio.run(cost_curve(url, script))
    curve.name = name
    print(curve.line(), flush=True)
    return Figures(closed, opened, curve)


def rasa_starter_command(*args: str) -> list[str]:
    """Plain `rasa`, without our speed-ups: the starter bot is measured as Rasa ships it."""
    return [sys.executable, "-m", "rasa", *args]


@contextmanager
def starter_bot(workdir: Path) -> Iterator[tuple[str, ProcessGroup]]:
    starter = workdir / "starter"
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    print("Training Rasa's starter bot (rasa init) in a temporary folder ...", flush=True)
    starter.mkdir(parents=True, exist_ok=True)  # rasa init refuses a folder that does not exist
    subprocess.run(rasa_starter_command("init", "--no-prompt", "--init-dir", str(starter)), cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL)
    url = f"http://localhost:{free_port()}"
    group = ProcessGroup()
    proc = group.start("rasa (starter)", rasa_starter_command("run", "--port", url.rpartition(":")[2]), env, cwd=starter, log=workdir / "starter.log")
    try:
        probe = {"sender": "bench-probe", "message": "hello"}
        wait_until(lambda: bool(http("POST", f"{url}/webhooks/rest/webhook", probe, timeout=30)[1]), 300, "Rasa's starter bot", proc)
        yield url, group
    finally:
        group.stop_all(timeout=30)


def scale_out(model: Path, workdir: Path, users: int, seconds: float) -> tuple[Result, Result]:
    """Saturation of one Rasa instance and of two, each behind HAProxy, on the same PostgreSQL and Redis."""
    print("Scale-out: PostgreSQL, Redis, the action server and two Rasa instances on loopback ...", flush=True)
    database = Postgres("bench")
    database.start()
    redis = Redis(workdir)
    try:
        env = {**BENCH_ENV, "TRACKER_DB_URL": database.create_database("rasa"), "LEADS_DB_URL": database.create_database("leads"), "REDIS_URL": redis.url}
        bot = LocalBot(model, workdir / "scale-var", env)
        second = f"rasa-{free_port()}"
        with bot.running("actions", "rasa", second):
            ports = [bot.settings.rasa_port, int(second.removeprefix("rasa-"))]
            results = []
            postmaster = int((database.datadir / "postmaster.pid").read_text().split()[0])
            for instances in (1, 2):
                balancer = HAProxy(workdir, ports[:instances])
                try:
                    rasas = {f"Rasa {n + 1}": bot.group.procs[name].pid for n, name in enumerate(["rasa", second][:instances])}
                    stores = {"PostgreSQL": postmaster, "Redis": redis.proc.pid, "HAProxy": balancer.proc.pid}
                    cpu = CpuUse({**rasas, "action server": bot.group.procs["actions"].pid, **stores})
                    result = asyncio.run(closed_loop(balancer.url, users, seconds, "frivilligbotten"))
                    result.name = f"{instances} Rasa instance{'s' if instances > 1 else ''} behind HAProxy (PostgreSQL, Redis), closed loop"
                    print(result.line() + f" · served per instance: {balancer.sessions_per_server()}", flush=True)
                    print("  " + cpu.line(len(result.latencies) + result.errors), flush=True)
                    results.append(result)
                finally:
                    balancer.stop()
            return results[0], results[1]
    finally:
        redis.stop()
        database.remove()


PARTS = ("bots", "scale-out")


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def bots(workdir: Path, users: int, seconds: float) -> tuple[list[tuple[str, str, bool]], int]:
    """The starter bot, then ours at the same open-loop rate: the checks of the issue's targets and our errors."""
    with starter_bot(workdir) as (url, group):
        starter = measure("Rasa starter bot", url, "starter", users, seconds, lambda closed: OPEN_LOOP_SHARE * closed.throughput, group)
    rate = OPEN_LOOP_SHARE * starter.closed.throughput
    bot = LocalBot(ensure_model(), workdir / "var", BENCH_ENV)
    with bot.running("actions", "rasa"):
        ours = measure("Frivilligbotten", bot.rasa_url, "frivilligbotten", users, seconds, lambda _: rate, bot.group)
    throughput = ratio(ours.closed.throughput, starter.closed.throughput)
    ours_p95, starter_p95 = ours.open.percentile(0.95), starter.open.percentile(0.95)
    checks = [
        (
            "saturation throughput",
            f"{ours.closed.throughput:.1f} vs {starter.closed.throughput:.1f} msg/s = {throughput:.2f}× (target ≥ 1.3×)",
            throughput >= 1.3,
        ),
        (
            f"open-loop p95 at {rate:.1f} msg/s",
            f"{ours_p95:.0f} vs {starter_p95:.0f} ms = {ratio(ours_p95, starter_p95):.2f}× (target ≤ 1×)",
            ours_p95 <= starter_p95,
        ),
        (
            "cost of message 300 ÷ message 10",
            f"{ours.curve.growth:.2f}× vs the starter bot's {starter.curve.growth:.2f}× (target ≤ 1.5×, or no more than the starter bot's)",
            ours.curve.growth <= max(1.5, starter.curve.growth),
        ),
    ]
    return checks, ours.closed.errors + ours.open.errors + ours.curve.errors


def main(users: int = 10, seconds: int = 60, parts: tuple[str, ...] = PARTS) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="frivillig-bench-"))
    print(f"Benchmark (work folder {workdir}); every figure is this run's, on this machine", flush=True)
    checks: list[tuple[str, str, bool]] = []
    errors = 0
    if "bots" in parts:
        checks, errors = bots(workdir, users, seconds)
    if "scale-out" in parts:
        one, two = scale_out(ensure_model(), workdir, users, seconds)
        scaling = f"{two.throughput:.1f} ÷ {one.throughput:.1f} msg/s = {ratio(two.throughput, one.throughput):.2f}×"
        checks.append(("two instances ÷ one, behind HAProxy", scaling, True))
        errors += one.errors + two.errors
    print("\nbench summary (ours vs Rasa's starter bot, same run):", flush=True)
    for name, figures, met in checks:
        print(f"  {'ok  ' if met else 'MISS'} {name}: {figures}", flush=True)
    print(f"  errors: {errors}", flush=True)
    return 0 if errors == 0 and all(met for _, _, met in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
