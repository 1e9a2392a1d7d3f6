"""The lead store: idempotent, never losing a lead, exporting for Danish Excel."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.settings import ROOT
from bot.store import LeadStore, migrations
from bot.store.casework import Viewer
from bot.store.export import to_csv
from bot.store.intake import LeadDraft, SaveResult


def draft(**overrides: object) -> LeadDraft:
    values: dict[str, object] = {
        "kind": "signup",
        "conversation_id": "conv-1",
        "channel": "rest",
        "name": "Mette Lund Jensen",
        "email": "mette@example.dk",
        "phone": "+4520304050",
        "region": "midtjylland",
        "municipality": "Aarhus",
        "interests": ["vejviser"],
        "availability": "hverdage efter kl. 16",
        "message": "",
        "consent_at": "2026-11-22T10:00:00",
        "consent_version": "2026-11-1",
        "transcript": [{"who": "borger", "text": "hej"}],
    }
    values.update(overrides)
    return LeadDraft(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> LeadStore:
    return LeadStore(f"sqlite:///{tmp_path / 'leads.db'}", spool_dir=tmp_path / "spool")


def test_migrations_create_the_schema(store: LeadStore) -> None:
    store.db.migrate()
    assert migrations.current(store.db.engine) == migrations.head()
    tables = set(sa.inspect(store.db.engine).get_table_names())
    assert {"leads", "notes", "coordinators", "audit_log", "login_attempts", "alembic_version"} <= tables


def test_saving_the_same_submission_twice_gives_one_lead(store: LeadStore) -> None:
    first = store.intake.save(draft())
    again = store.intake.save(draft())
    assert first.stored and first.created
    assert again.reference == first.reference and not again.created
    assert len(list(store.cases.all_leads())) == 1
    assert first.reference.startswith("FRV-")


def test_concurrent_retries_still_give_one_lead(store: LeadStore) -> None:
    store.db.migrate()
    with ThreadPoolExecutor(max_workers=8) as pool:
        references = set(pool.map(lambda _: store.intake.save(draft()).reference, range(16)))
    assert len(references) == 1
    assert len(list(store.cases.all_leads())) == 1


def test_the_first_submissions_after_a_start_may_arrive_together(tmp_path: Path) -> None:
    """The action server saves in worker threads; the first saves on a fresh database all migrate it."""
    for attempt in range(3):
        store = LeadStore(f"sqlite:///{tmp_path / f'fresh-{attempt}.db'}", spool_dir=tmp_path / "spool")
        start = threading.Barrier(8)

        def submit(i: int, store: LeadStore = store, start: threading.Barrier = start) -> SaveResult:
            start.wait()
            return store.intake.save(draft(name=f"Person {i} Hansen", email=f"person{i}@example.dk"))

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(submit, range(8)))
        assert all(r.stored and r.created for r in results)
        assert len(list(store.cases.all_leads())) == 8


def test_different_answers_are_different_leads(store: LeadStore) -> None:
    store.intake.save(draft())
    store.intake.save(draft(availability="weekender", conversation_id="conv-2", email="en.anden@example.dk"))
    assert len(list(store.cases.all_leads())) == 2


def test_a_cpr_number_never_reaches_the_store(store: LeadStore) -> None:
    store.intake.save(draft(message="mit cpr er 010190-1234", transcript=[{"who": "borger", "text": "0101901234"}]))
    stored = json.dumps(list(store.cases.all_leads()), ensure_ascii=False)
    assert "010190" not in stored
    with store.db.session() as session:
        transcript = session.execute(sa.text("SELECT transcript FROM leads")).scalar()
    assert "0101901234" not in str(transcript)


def test_an_unreachable_database_spools_the_lead_and_flush_writes_it_later(tmp_path: Path) -> None:
    database = tmp_path / "leads.db"
    database.mkdir()  # a folder where the database file should be: SQLite cannot open it, even as root
    store = LeadStore(f"sqlite:///{database}", spool_dir=tmp_path / "spool")
    result = store.intake.save(draft())
    database.rmdir()  # the database is back
    assert not result.stored
    assert len(store.intake.spooled()) == 1
    written = store.intake.flush_spool()
    assert [r.reference for _, r in written] == [result.reference]
    assert store.intake.spooled() == []
    assert [lead["reference"] for lead in store.cases.all_leads()] == [result.reference]


def test_erasure_deletes_the_conversations_leads_and_is_audited(store: LeadStore) -> None:
    store.intake.save(draft())
    store.intake.save(draft(conversation_id="someone-else", email="someone@example.dk"))
    assert [kind for kind, _ in store.citizens.erase_conversation("conv-1").leads] == ["signup"]
    assert [lead["conversation_id"] for lead in store.cases.all_leads()] == ["someone-else"]
    assert any(entry.action == "lead_deleted" for entry in store.audit.entries())


def test_coordinators_see_only_their_regions(store: LeadStore) -> None:
    mid = store.intake.save(draft()).reference
    store.intake.save(draft(conversation_id="c2", region="nordjylland"))
    coordinator = Viewer("k@rm.dk", "coordinator", ("nordjylland",))
    admin = Viewer("a@x.dk", "admin", ())
    assert store.cases.get(coordinator, mid) is None
    assert store.cases.get(admin, mid) is not None
    assert not store.cases.set_status(coordinator, mid, "kontaktet")


def test_status_workflow_only_allows_the_next_steps(store: LeadStore) -> None:
    reference = store.intake.save(draft()).reference
    admin = Viewer("a@x.dk", "admin", ())
    assert not store.cases.set_status(admin, reference, "aktiv")
    assert store.cases.set_status(admin, reference, "kontaktet")
    assert store.cases.set_status(admin, reference, "aftalt")
    assert store.cases.set_status(admin, reference, "aktiv")
    lead = store.cases.get(admin, reference)
    assert lead is not None and lead.status == "aktiv" and lead.closed_at is None


def test_csv_is_for_danish_excel() -> None:
    content = to_csv([{"reference": "FRV-2026-AAAAAA", "name": "Åse Ærø", "interests": ["vejviser", "cafe"], "consent_at": None}])
    assert content.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(content.lstrip("\ufeff")), delimiter=";"))
    assert rows[0]["name"] == "Åse Ærø" and rows[0]["interests"] == "vejviser, cafe" and rows[0]["consent_at"] == ""


def test_export_command_follows_the_contract(tmp_path: Path) -> None:
    env = {"VAR_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    LeadStore(f"sqlite:///{tmp_path / 'leads.db'}").intake.save(draft())
    out = subprocess.run([sys.executable, "-m", "bot", "leads", "export", "--format", "json"], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    leads = json.loads(out.stdout)
    assert len(leads) == 1
    assert {"reference", "created_at", "name", "email", "phone", "region", "interests", "availability", "channel", "status", "consent_at"} <= set(leads[0])
    assert leads[0]["phone"] == "+4520304050" and leads[0]["status"] == "ny"
    csv_out = subprocess.run([sys.executable, "-m", "bot", "leads", "export", "--format", "csv"], cwd=ROOT, env=env, capture_output=True, check=True)
    assert csv_out.stdout.startswith("\ufeff".encode()) and b";" in csv_out.stdout.splitlines()[0]
