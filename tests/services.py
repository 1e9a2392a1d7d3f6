"""Real PostgreSQL, Redis and HAProxy (bot.tooling.processes) on loopback for the scale tests, started from the Debian binaries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.tooling.processes import HAProxy, Postgres, Redis
from stack import Stack

__all__ = ["Cluster", "HAProxy", "Postgres", "Redis"]


@dataclass
class Cluster:
    stack: Stack
    tracker_db: Postgres
    leads_db: Postgres
    redis: Redis
    second: str  # service name of the second Rasa instance
    balancer: HAProxy  # in front of both, as in production: the tests talk to it unless they pick an instance

    @property
    def urls(self) -> list[str]:
        return [self.stack.rasa_url, f"http://localhost:{self.second.removeprefix('rasa-')}"]

    def say(self, sender: str, message: str, url: str | None = None) -> list[dict[str, Any]]:
        """A citizen's message through the load balancer, or straight to the instance at `url`."""
        return self.stack.say(sender, message, url=url or self.balancer.url)
