"""Real PostgreSQL (bot.tooling.processes.Postgres) and Redis servers on loopback for the scale tests, started from the Debian binaries."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bot.tooling.processes import Postgres
from stack import Stack, free_port

__all__ = ["Cluster", "Postgres", "Redis"]


class Redis:
    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server was not found; `make test` installs the Debian package redis-server")
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(root)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        import redis

        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port).ping():
                    return
            except redis.exceptions.ConnectionError:
                time.sleep(0.2)
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/1"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@dataclass
class Cluster:
    stack: Stack
    tracker_db: Postgres
    leads_db: Postgres
    redis: Redis
    second: str  # service name of the second Rasa instance

    @property
    def urls(self) -> list[str]:
        return [self.stack.rasa_url, f"http://localhost:{self.second.removeprefix('rasa-')}"]
