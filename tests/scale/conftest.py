"""Two Rasa instances behind HAProxy and one action server on a real PostgreSQL and Redis, all on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from services import Cluster, HAProxy, Postgres, Redis
from stack import Stack, free_port


@pytest.fixture(scope="session")
def cluster(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("scale")
    # The tracker store and the lead store on separate PostgreSQL servers, so that the lead
    # database can fail while conversations go on (the production layout in the README allows both).
    tracker_db, leads_db = Postgres("tracker"), Postgres("leads")
    tracker_db.start()
    leads_db.start()
    redis = Redis(root)
    stack = Stack(
        model=model,
        var_dir=root / "var",
        extra_env={
            "TRACKER_DB_URL": tracker_db.create_database("rasa"),
            "LEADS_DB_URL": leads_db.create_database("leads"),
            "REDIS_URL": redis.url,
        },
    )
    second = f"rasa-{free_port()}"
    try:
        with stack.running("actions", "rasa", second):
            balancer = HAProxy(root, [stack.settings.rasa_port, int(second.removeprefix("rasa-"))])
            try:
                yield Cluster(stack, tracker_db, leads_db, redis, second, balancer)
            finally:
                balancer.stop()
    finally:
        redis.stop()
        leads_db.remove()
        tracker_db.remove()
