"""Retention covers every copy: open leads nobody works on, the audit log, the outbox and the spool (issue 13).

Before, only closed leads, conversations without consent and login attempts were ever deleted.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from citizen_data import ActionServer, action_server, age, draft, outbox_mail, spool

from bot.settings import ROOT, Settings
from bot.store.retention import purge
from bot.store.schema import AuditEntry, Lead, Note, utcnow

LIMITS = {"OPEN_LEAD_MAX_DAYS": "100", "AUDIT_RETENTION_DAYS": "200", "OUTBOX_RETENTION_DAYS": "10", "SPOOL_RETENTION_DAYS": "20"}


@pytest.fixture
def server(tmp_path: Path) -> ActionServer:
    return action_server(tmp_path)


def configured(server: ActionServer) -> Settings:
    return Settings.from_env({"VAR_DIR": str(server.config.var_dir), "LEADS_DB_URL": server.config.leads_url, **LIMITS})


def lead(server: ActionServer, conversation: str, untouched_days: float, status: str = "ny") -> str:
    reference = server.store.intake.save(draft(conversation, email=f"{conversation}@example.dk")).reference
    with server.store.db.session() as session:
        session.execute(sa.update(Lead).where(Lead.reference == reference).values(status=status, updated_at=utcnow() - dt.timedelta(days=untouched_days)))
        session.commit()
    return reference


def references(server: ActionServer) -> set[str]:
    return {row["reference"] for row in server.store.cases.all_leads()}


def test_open_leads_nobody_works_on_go_after_the_maximum_age(server: ActionServer) -> None:
    forgotten = lead(server, "c-forgotten", untouched_days=101)
    worked_on = lead(server, "c-worked-on", untouched_days=30, status="kontaktet")
    noted = lead(server, "c-noted", untouched_days=150)
    with server.store.db.session() as session:
        lead_id = session.execute(sa.select(Lead.id).where(Lead.reference == noted)).scalar_one()
        session.add(Note(lead_id=lead_id, author="k@rm.dk", text="ringet, vender tilbage", created_at=utcnow() - dt.timedelta(days=5)))
        session.commit()

    report = purge(config=configured(server), store=server.store)

    assert references(server) == {worked_on, noted} and report["open_leads_purged"] == 1
    [(actor, detail)] = [(e.actor, e.detail) for e in server.store.audit.entries() if e.action == "lead_purged"]
    assert actor == "system:retention" and detail["closed_at"] is None and detail["updated_at"]
    assert forgotten not in references(server)


def test_the_audit_log_is_kept_only_as_long_as_configured(server: ActionServer) -> None:
    with server.store.db.session() as session:
        session.add_all(
            [
                AuditEntry(actor="k@rm.dk", action="lead_viewed", lead_reference="FRV-2026-GAMMEL", detail={}, at=utcnow() - dt.timedelta(days=201)),
                AuditEntry(actor="k@rm.dk", action="lead_viewed", lead_reference="FRV-2026-NYERE1", detail={}, at=utcnow() - dt.timedelta(days=199)),
            ]
        )
        session.commit()
    report = purge(config=configured(server), store=server.store)
    kept = {e.lead_reference for e in server.store.audit.entries() if e.action == "lead_viewed"}
    assert kept == {"FRV-2026-NYERE1"} and report["audit_entries_deleted"] == 1


def test_old_outbox_and_spool_files_are_deleted_and_new_ones_kept(server: ActionServer) -> None:
    old_mail, new_mail = outbox_mail(server, "FRV-2026-GAMMEL"), outbox_mail(server, "FRV-2026-NYERE1")
    age(old_mail, 11)
    age(new_mail, 9)
    old_lead, new_lead = spool(server, draft("c-old")), spool(server, draft("c-new"))
    age(old_lead, 21)
    aside = server.config.spool_dir / "unreadable" / "broken.json"
    aside.parent.mkdir()
    aside.write_text('{"name": "Mette', encoding="utf-8")
    age(aside, 30)

    report = purge(config=configured(server), store=server.store)

    assert (old_mail.exists(), new_mail.exists(), old_lead.exists(), new_lead.exists(), aside.exists()) == (False, True, False, True, False)
    assert (report["outbox_files_deleted"], report["spool_files_deleted"]) == (1, 2)
    [run] = [e.detail for e in server.store.audit.entries() if e.action == "retention_run"]
    assert run["counts"]["outbox_files_deleted"] == 1 and run["counts"]["spool_files_deleted"] == 2


def test_the_purge_command_reports_each_count(server: ActionServer) -> None:
    lead(server, "c-forgotten", untouched_days=400)
    env = {**os.environ, "VAR_DIR": str(server.config.var_dir), "LEADS_DB_URL": server.config.leads_url, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-m", "bot", "purge"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=True)
    counts = dict(line.split() for line in result.stdout.splitlines())
    for name in ("leads_purged", "open_leads_purged", "audit_entries_deleted", "outbox_files_deleted", "spool_files_deleted", "conversations_without_consent"):
        assert name in counts, result.stdout
    assert counts["open_leads_purged"] == "1"
