"""`make bench-dashboard`: the coordinators' dashboard and the lead store at a region's scale.

For SQLite and then PostgreSQL (a throwaway cluster on loopback, bot.tooling.processes.Postgres)
it fills a migrated lead store with N leads (100,000 by default, `BENCH_LEADS` or `--leads`
for a quick run) with notes and audit rows, and measures through Flask's test client, as an
admin and as a coordinator of one region: the lead list with each filter and a free-text
search, a lead's page, the overview, the CSV export (time to the last byte, and the peak of
Python's allocations against an export a tenth the size) and finally the retention purge of
every lead, closed long ago. Each figure is printed beside the target of issue 16.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from flask.testing import FlaskClient

from bot.knowledge import kb
from bot.settings import Settings
from bot.store import LeadStore
from bot.store.retention import purge
from bot.store.schema import CLOSED, HANDOFF, SIGNUP, STATUSES, AuditEntry, Note, leads_table, search_text, utcnow
from bot.tooling.processes import Postgres
from bot.web.app import create_app

PAGE_P95_MS = 300.0
CSV_SECONDS = 10.0
CSV_MEMORY_RATIO = 2.0  # memory that grew with the leads would be ten times the tenth's; allow twice
PURGE_SECONDS = 30.0
PASSWORD = "bench-kode-123456"
ADMIN = "admin@bench.example"
COORDINATOR = "koordinator@bench.example"
COORDINATOR_REGION = "midtjylland"
CHUNK = 5000
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

FIRST = ("Karen", "Mette", "Anne", "Hanne", "Lise", "Jens", "Peter", "Lars", "Søren", "Niels", "Ida", "Freja", "Mads", "Emil", "Aisha", "Ole")
LAST = ("Jensen", "Nielsen", "Hansen", "Pedersen", "Andersen", "Christensen", "Larsen", "Sørensen", "Rasmussen", "Poulsen", "Madsen", "Østergaard")
REGION_WEIGHTS = {"hovedstaden": 32, "sjaelland": 15, "syddanmark": 21, "midtjylland": 22, "nordjylland": 10}
MUNICIPALITIES = {
    "hovedstaden": ("København", "Frederiksberg", "Gentofte", "Hillerød", "Bornholm"),
    "sjaelland": ("Roskilde", "Næstved", "Holbæk", "Slagelse"),
    "syddanmark": ("Odense", "Esbjerg", "Vejle", "Kolding", "Sønderborg"),
    "midtjylland": ("Aarhus", "Viborg", "Herning", "Randers", "Silkeborg"),
    "nordjylland": ("Aalborg", "Hjørring", "Thisted", "Frederikshavn"),
}
AVAILABILITY = ("Hverdage efter kl. 16", "Weekender", "Et par timer om ugen", "Tirsdag formiddag", "Når det passer")
MESSAGES = ("", "", "Jeg har erfaring fra ældreplejen.", "Jeg er pensioneret sygeplejerske.", "Vil gerne hjælpe på hospice.")
QUESTIONS = ("Kan jeg tale med en koordinator?", "Hvordan bliver jeg vejviser?", "Min mor har brug for en besøgsven.")
CHANNELS = ("socketio", "telegram", "rest")
NOTES = ("Ringet op, aftalt møde.", "Sendt mail med information.", "Ønsker at starte efter sommerferien.", "Har spurgt om børneattest.")


def lead_count(argv_count: int | None = None) -> int:
    return argv_count or int(os.environ.get("BENCH_LEADS") or 100_000)


# --------------------------------------------------------------------------- the data


def _lead(i: int, rng: random.Random, now: dt.datetime, interests: list[str]) -> dict[str, Any]:
    """One lead as the chat saves it: created within two years, older ones more often worked on and closed."""
    region = rng.choices(list(REGION_WEIGHTS), weights=list(REGION_WEIGHTS.values()))[0]
    kind = SIGNUP if rng.random() < 0.8 else HANDOFF
    created = now - dt.timedelta(seconds=rng.randrange(730 * 86400))
    age = (now - created).days / 730
    status = rng.choices(STATUSES, weights=(1.2 - age, 1, 0.6, 0.8, 1.5 * age + 0.1, age / 2 + 0.05))[0]
    updated = created + dt.timedelta(days=rng.random() * min(60, (now - created).days))
    first, last = rng.choice(FIRST), rng.choice(LAST)
    lead = {
        "reference": f"FRV-B-{i:07d}",
        "submission_key": f"bench-{i}",
        "kind": kind,
        "created_at": created,
        "updated_at": updated,
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{i}@eksempel.dk",
        "phone": f"+45 {rng.randrange(20_000_000, 99_999_999)}",
        "region": region,
        "municipality": rng.choice(MUNICIPALITIES[region]),
        "interests": rng.sample(interests, rng.choice((1, 1, 2, 3))) if kind == SIGNUP else [],
        "availability": rng.choice(AVAILABILITY) if kind == SIGNUP else "",
        "message": rng.choice(MESSAGES) if kind == SIGNUP else "",
        "question": rng.choice(QUESTIONS) if kind == HANDOFF else "",
        "channel": rng.choice(CHANNELS),
        "conversation_id": f"bench-{i:07d}",
        "status": status,
        "consent_at": created,
        "consent_version": "2024-1",
        "transcript": [{"who": "borger", "text": "Jeg vil gerne være frivillig", "at": created.timestamp()}],
        "assigned_to": None,
        "closed_at": updated if status in CLOSED else None,
    }
    return {**lead, "search_text": search_text(lead)}  # as the ORM keeps it (bot.store.schema)


def _insert(connection: sa.engine.Connection, table: sa.Table, rows: Iterator[dict[str, Any]], total: int, what: str) -> None:
    """Bulk insert in chunks (executemany), with a progress line now and then."""
    chunk: list[dict[str, Any]] = []
    done = 0
    step = max(CHUNK, total // 5)
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            connection.execute(table.insert(), chunk)
            done += len(chunk)
            chunk = []
            if done % step < CHUNK:
                print(f"  {done} of {total} {what} ...", flush=True)
    if chunk:
        connection.execute(table.insert(), chunk)


def fill(store: LeadStore, leads: int, seed: int = 16) -> None:
    """Accounts, `leads` leads, notes on a fifth of them and their audit trail (created, viewed, status changes, exports)."""
    rng = random.Random(seed)
    store.accounts.add(ADMIN, "Bench Admin", "admin", [], PASSWORD)
    store.accounts.add(COORDINATOR, "Bench Koordinator", "coordinator", [COORDINATOR_REGION], PASSWORD)
    interests = [i.code for i in kb().interests]
    now = utcnow()
    store.db.migrate()
    with store.db.engine.begin() as connection:
        _insert(connection, leads_table, (_lead(i, rng, now, interests) for i in range(leads)), leads, "leads")
        worked = connection.execute(sa.select(leads_table.c.id, leads_table.c.reference, leads_table.c.updated_at, leads_table.c.status)).all()
        noted = [row for row in worked if rng.random() < 0.2]
        notes = [
            {"lead_id": r.id, "author": COORDINATOR, "created_at": r.updated_at, "text": rng.choice(NOTES)} for r in noted for _ in range(rng.randint(1, 3))
        ]
        _insert(connection, Note.__table__, iter(notes), len(notes), "notes")
        audit = [
            entry
            for r in worked
            for entry in (
                {"at": r.updated_at, "actor": f"borger:bench-{r.id}", "action": "lead_created", "lead_reference": r.reference, "detail": {"kind": SIGNUP}},
                {"at": r.updated_at, "actor": COORDINATOR, "action": "lead_viewed", "lead_reference": r.reference, "detail": {}},
                {"at": r.updated_at, "actor": COORDINATOR, "action": "status_changed", "lead_reference": r.reference, "detail": {"from": "ny", "to": r.status}},
            )[: 1 if r.status == "ny" else 3]
        ]
        _insert(connection, AuditEntry.__table__, iter(audit), len(audit), "audit rows")
    print(f"  {leads} leads, {len(notes)} notes on {len(noted)} of them, {len(audit)} audit rows", flush=True)


# --------------------------------------------------------------------------- the measurements


@dataclass
class Figure:
    """One measured figure beside its target."""

    what: str
    value: str
    target: str
    ok: bool

    def row(self) -> str:
        return f"  {self.what:<60} {self.value:>24}   {self.target:<28} {'PASS' if self.ok else 'FAIL'}"


def _percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round((len(ordered) - 1) * p))]


def timed(action: Callable[[], object], repeat: int, budget: float) -> list[float]:
    """Milliseconds of each run: `repeat` runs, fewer when they take longer than `budget` seconds (at least three)."""
    samples: list[float] = []
    started = time.perf_counter()
    while len(samples) < repeat and (len(samples) < 3 or time.perf_counter() - started < budget):
        t = time.perf_counter()
        action()
        samples.append((time.perf_counter() - t) * 1000)
    return samples


def login(client: FlaskClient, email: str) -> None:
    token = TOKEN.search(client.get("/dashboard/login").get_data(as_text=True))
    assert token, "no CSRF token on the login page"
    response = client.post("/dashboard/login", data={"email": email, "password": PASSWORD, "next": "", "csrf_token": token.group(1)})
    assert response.status_code == 303, f"login of {email} failed: {response.status_code}"


def fetch(client: FlaskClient, url: str) -> int:
    """GET a page to its last byte; the number of bytes."""
    response = client.get(url, buffered=False)
    assert response.status_code == 200, f"{url}: {response.status_code}"
    size = sum(len(chunk) for chunk in response.iter_encoded())
    response.close()
    return size


def pages(store: LeadStore, region: str) -> dict[str, str]:
    """The dashboard's pages with every filter the list offers (bot.web.filters.FIELDS), a search and a deep page."""
    with store.db.engine.connect() as connection:
        noted = connection.execute(
            sa.select(leads_table.c.reference).join(Note.__table__, Note.__table__.c.lead_id == leads_table.c.id).where(leads_table.c.region == region).limit(1)
        ).scalar()
    month_ago = (utcnow() - dt.timedelta(days=30)).date()
    return {
        "overview": "/dashboard/",
        "list, unfiltered": "/dashboard/leads",
        "list, page 200": "/dashboard/leads?page=200",
        f"list, region={region}": f"/dashboard/leads?region={region}",
        "list, status=kontaktet": "/dashboard/leads?status=kontaktet",
        "list, interest=hospice": "/dashboard/leads?interest=hospice",
        "list, kind=handoff": "/dashboard/leads?kind=handoff",
        "list, from/to last 30 days": f"/dashboard/leads?from={month_ago}&to={utcnow().date()}",
        "list, all filters": f"/dashboard/leads?region={region}&status=ny&interest=vejviser&kind=signup&from={month_ago}",
        "list, search q=jensen": "/dashboard/leads?q=jensen",
        "list, search q=eksempel.dk (all)": "/dashboard/leads?q=eksempel.dk",
        "lead with notes": f"/dashboard/leads/{noted}",
    }


def measure_pages(client: FlaskClient, urls: dict[str, str], who: str, repeat: int) -> list[Figure]:
    figures = []
    for name, url in urls.items():
        samples = timed(partial(fetch, client, url), repeat, budget=20)
        p50, p95 = statistics.median(samples), _percentile(samples, 0.95)
        figures.append(Figure(f"{who}: {name}", f"p50 {p50:.0f} / p95 {p95:.0f} ms", f"p95 < {PAGE_P95_MS:.0f} ms", p95 < PAGE_P95_MS))
        print(f"    {who}: {name}: p50 {p50:.0f} ms, p95 {p95:.0f} ms ({len(samples)} runs)", flush=True)
    return figures


def csv_peak(client: FlaskClient, url: str) -> tuple[float, int]:
    """The export's time to the last byte (untraced) and the peak of Python's allocations while it ran (traced)."""
    started = time.perf_counter()
    fetch(client, url)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fetch(client, url)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return seconds, peak


def measure_csv(client: FlaskClient, leads: int) -> list[Figure]:
    """All leads against the most recent tenth (a date filter): memory that grows with the leads shows as a ratio near ten."""
    with_tenth = f"/dashboard/leads.csv?from={(utcnow() - dt.timedelta(days=73)).date()}"
    tenth_seconds, tenth_peak = csv_peak(client, with_tenth)
    all_seconds, all_peak = csv_peak(client, "/dashboard/leads.csv")
    ratio = all_peak / max(tenth_peak, 1)
    print(
        f"    CSV: all in {all_seconds:.1f} s, peak {all_peak / 2**20:.0f} MB; a tenth in {tenth_seconds:.1f} s, peak {tenth_peak / 2**20:.0f} MB", flush=True
    )
    return [
        Figure(f"CSV export of all {leads} leads", f"{all_seconds:.1f} s", f"< {CSV_SECONDS:.0f} s", all_seconds < CSV_SECONDS),
        Figure(
            "CSV memory peak: all / most recent tenth",
            f"{all_peak / 2**20:.0f} / {tenth_peak / 2**20:.0f} MB (×{ratio:.1f})",
            f"not growing (× < {CSV_MEMORY_RATIO:.0f})",
            ratio < CSV_MEMORY_RATIO,
        ),
    ]


def measure_purge(config: Settings, store: LeadStore, leads: int) -> Figure:
    """Every lead closed a year ago, then one retention run: the last measurement, since it empties the store."""
    long_ago = utcnow() - dt.timedelta(days=config.retention_days + 200)
    with store.db.engine.begin() as connection:
        connection.execute(sa.update(leads_table).values(status=CLOSED[0], closed_at=long_ago, updated_at=long_ago))
    started = time.perf_counter()
    report = purge(config=config, store=store)
    seconds = time.perf_counter() - started
    print(f"    purge: {report['leads_purged']} leads in {seconds:.1f} s", flush=True)
    assert report["leads_purged"] == leads, report
    return Figure(f"retention purge of {leads} closed leads", f"{seconds:.1f} s", f"< {PURGE_SECONDS:.0f} s", seconds < PURGE_SECONDS)


def bench(name: str, url: str, var_dir: Path, leads: int, repeat: int) -> list[Figure]:
    print(f"{name}: filling the lead store with {leads} leads ...", flush=True)
    config = Settings.from_env({"VAR_DIR": str(var_dir), "LEADS_DB_URL": url, "COOKIE_SECURE": "false"})
    store = LeadStore(url)
    started = time.perf_counter()
    fill(store, leads)
    print(f"  filled in {time.perf_counter() - started:.0f} s; measuring ...", flush=True)
    app = create_app(config)
    figures: list[Figure] = []
    for who, email in (("admin", ADMIN), (f"coordinator ({COORDINATOR_REGION})", COORDINATOR)):
        client = app.test_client()
        login(client, email)
        region = COORDINATOR_REGION if email == COORDINATOR else "nordjylland"
        figures += measure_pages(client, pages(store, region), who, repeat)
        if email == ADMIN:
            figures += measure_csv(client, leads)
    figures.append(measure_purge(config, store, leads))
    app.extensions.clear()
    store.db.engine.dispose()
    return figures


def table(name: str, figures: list[Figure]) -> str:
    failed = sum(not f.ok for f in figures)
    lines = [f"\n{name}: {len(figures) - failed} of {len(figures)} targets met", *(f.row() for f in figures)]
    return "\n".join(lines)


def main(leads: int | None = None, databases: tuple[str, ...] = ("sqlite", "postgresql"), repeat: int = 20) -> int:
    count = lead_count(leads)
    workdir = Path(tempfile.mkdtemp(prefix="frivillig-bench-dashboard-"))
    print(f"Dashboard benchmark: {count} leads, each page up to {repeat} times (work folder {workdir})", flush=True)
    results: dict[str, list[Figure]] = {}
    try:
        if "sqlite" in databases:
            results["SQLite"] = bench("SQLite", f"sqlite:///{workdir / 'leads.db'}", workdir / "sqlite", count, repeat)
        if "postgresql" in databases:
            server = Postgres("bench")
            server.start()
            try:
                url = server.create_database("leads")
                results["PostgreSQL"] = bench("PostgreSQL", url, workdir / "postgresql", count, repeat)
            finally:
                server.remove()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for name, figures in results.items():
        print(table(f"{name}, {count} leads", figures), flush=True)  # together at the end, after the progress lines
    return 0 if all(f.ok for figures in results.values() for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
