"""`make bench`: concurrent simulated citizens over REST, against this bot and against Rasa's starter bot.

Each run starts the bot on free ports with its own data folder, drives N citizens
(questions and complete sign-ups) for a fixed time, and reports messages per second,
p50/p95/p99 latency, errors and the peak memory of every process. The same load
shape then runs against the bot `rasa init` creates, trained in a temporary folder,
and our throughput is printed as a ratio to it.
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
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.tooling.processes import LocalBot, ProcessGroup, free_port, http, wait_until
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


@dataclass
class Result:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    peak_mb: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies) or [0.0]
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000

    def line(self) -> str:
        memory = ", ".join(f"{k} {v:.0f} MB" for k, v in self.peak_mb.items())
        p50 = statistics.median(self.latencies) * 1000 if self.latencies else 0
        return (
            f"{self.name}: {len(self.latencies)} messages in {self.seconds:.0f} s = {self.throughput:.1f} msg/s · "
            f"p50 {p50:.0f} ms · p95 {self.percentile(0.95):.0f} ms · p99 {self.percentile(0.99):.0f} ms · "
            f"errors {self.errors} · peak memory: {memory}"
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


async def drive(url: str, users: int, seconds: float, script: str) -> Result:
    result = Result(script, seconds)
    stop_at = time.monotonic() + seconds
    timeout = aiohttp.ClientTimeout(total=30)

    async def citizen(i: int) -> None:
        rng = random.Random(i)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while time.monotonic() < stop_at:
                sender = f"bench-{uuid.uuid4().hex[:10]}"
                if script == "starter":
                    messages = rng.sample(STARTER, 4)
                elif rng.random() < 0.3:
                    messages = [m.replace("EMAIL", f"{sender}@example.dk") for m in SIGNUP]
                else:
                    messages = rng.sample(QUESTIONS, 4)
                for message in messages:
                    if time.monotonic() >= stop_at:
                        return
                    started = time.perf_counter()
                    try:
                        async with session.post(f"{url}/webhooks/rest/webhook", json={"sender": sender, "message": message}) as resp:
                            body = await resp.json()
                            ok = resp.status == 200 and bool(body)
                    except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                        ok = False
                    if ok:
                        result.latencies.append(time.perf_counter() - started)
                    else:
                        result.errors += 1

    await asyncio.gather(*(citizen(i) for i in range(users)))
    return result


def bench_ours(users: int, seconds: float, workdir: Path) -> Result:
    bot = LocalBot(ensure_model(), workdir / "var")
    with bot.running("actions", "rasa"):
        result = asyncio.run(drive(bot.rasa_url, users, seconds, "frivilligbotten"))
        result.peak_mb = {name: _peak_mb(proc.pid) for name, proc in bot.group.procs.items()}
        return result


def rasa_starter_command(*args: str) -> list[str]:
    """Plain `rasa`, without our speed-ups: the starter bot is measured as Rasa ships it."""
    return [sys.executable, "-m", "rasa", *args]


def bench_starter(users: int, seconds: float, workdir: Path) -> Result:
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
        result = asyncio.run(drive(url, users, seconds, "starter"))
        result.name = "Rasa starter bot"
        result.peak_mb = {name: _peak_mb(p.pid) for name, p in group.procs.items()}
        return result
    finally:
        group.stop_all(timeout=30)


def main(users: int = 10, seconds: int = 60) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="frivillig-bench-"))
    print(f"Benchmark: {users} concurrent citizens for {seconds} s each (work folder {workdir})", flush=True)
    ours = bench_ours(users, seconds, workdir)
    print(ours.line(), flush=True)
    starter = bench_starter(users, seconds, workdir)
    print(starter.line(), flush=True)
    ratio = ours.throughput / starter.throughput if starter.throughput else 0.0
    print(
        f"bench: {ours.throughput:.1f} msg/s, {ratio:.2f}× the starter bot's throughput · p95 {ours.percentile(0.95):.0f} ms · errors {ours.errors}", flush=True
    )
    return 0 if ours.errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
