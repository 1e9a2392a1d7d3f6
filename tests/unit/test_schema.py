"""A lead's fields are defined once (bot.store.schema.LEAD_FIELDS): the migrations, the labels,
the forms, the export and the search all follow that definition."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot import conventions
from bot.settings import ROOT
from bot.store import LeadStore
from bot.store.casework import LeadFilter, Viewer
from bot.store.export import EXPORT_FIELDS, to_csv
from bot.store.intake import LeadDraft
from bot.store.schema import KINDS, LEAD_FIELDS, STATUSES, TRANSITIONS, Base, fields_of
from bot.web.app import create_app

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))
ADMIN = Viewer("admin@example.dk", "admin", ())


@pytest.fixture
def store(tmp_path: Path) -> LeadStore:
    return LeadStore(f"sqlite:///{tmp_path / 'leads.db'}", spool_dir=tmp_path / "spool")


def test_the_migrations_build_exactly_the_tables_the_code_defines(store: LeadStore) -> None:
    store.db.migrate()
    with store.db.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == [], "write a migration in bot/store/migrations/versions for this change of bot/store/schema.py"


def _labels(tmp_path: Path) -> object:
    from bot.settings import Settings

    app = create_app(Settings.from_env({"VAR_DIR": str(tmp_path)}))
    return app.jinja_env.get_template("_labels.html").module


def test_every_field_status_kind_channel_and_speaker_has_its_danish_label(tmp_path: Path) -> None:
    labels = _labels(tmp_path)
    for field in LEAD_FIELDS:
        assert field.name in labels.field, f"the dashboard's label of {field.name} (bot/web/templates/_labels.html)"  # type: ignore[attr-defined]
        assert f"utter_summary_{field.name}" in DOMAIN["responses"], f"utter_summary_{field.name}: how the chat shows {field.name} before consent"
    assert set(labels.status) == set(STATUSES) == set(TRANSITIONS)  # type: ignore[attr-defined]
    assert set(labels.kind) == set(KINDS)  # type: ignore[attr-defined]
    assert set(labels.channel) == set(conventions.CHANNELS)  # type: ignore[attr-defined]
    assert set(labels.speaker) == {conventions.CITIZEN, conventions.BOT}  # type: ignore[attr-defined]


def test_each_form_asks_for_its_kinds_fields() -> None:
    """Every field of a kind is asked by that kind's form, except the region, which the municipality gives."""
    forms = {"signup": "signup_form", "handoff": "handoff_form"}
    for kind, form in forms.items():
        asked = set(DOMAIN["forms"][form]["required_slots"])
        assert {f.name for f in fields_of(kind)} - {"region"} <= asked
        assert all(f.name in DOMAIN["slots"] for f in fields_of(kind))


def _full_draft() -> LeadDraft:
    values = {f.name: [f"{f.name}-kode"] if f.many else f"{f.name}-svar" for f in LEAD_FIELDS}
    return LeadDraft("signup", "web-1", "socketio", consent_at="2026-11-30T10:00:00", consent_version="v1", **values)


def test_every_field_reaches_the_json_and_csv_export(store: LeadStore) -> None:
    store.intake.save(_full_draft())
    [lead] = list(store.cases.all_leads())
    for field in LEAD_FIELDS:
        assert lead[field.name] == ([f"{field.name}-kode"] if field.many else f"{field.name}-svar")
    rows = list(csv.DictReader(io.StringIO(to_csv([lead]).lstrip("\ufeff")), delimiter=";"))
    assert set(EXPORT_FIELDS) == set(rows[0]) and all(f"{f.name}-" in rows[0][f.name] for f in LEAD_FIELDS)


def test_every_searchable_field_is_found_by_the_dashboards_search(store: LeadStore) -> None:
    store.intake.save(_full_draft())
    for field in LEAD_FIELDS:
        found, _ = store.cases.query(ADMIN, LeadFilter(text=f"{field.name}-svar"))
        assert bool(found) == field.searchable, field.name


def test_every_field_survives_the_spool(tmp_path: Path) -> None:
    draft = _full_draft()
    spooled = LeadStore("sqlite:////nonexistent/folder/leads.db", spool_dir=tmp_path / "spool").intake
    spooled._spool(draft)
    [path] = spooled.spooled()
    assert spooled.read_spooled(path) == draft
    assert set(json.loads(path.read_text(encoding="utf-8"))) >= {f.name for f in LEAD_FIELDS}


def test_a_draft_refuses_a_field_a_lead_does_not_have() -> None:
    with pytest.raises(TypeError, match="shoe_size"):
        LeadDraft("signup", "web-1", "rest", shoe_size="44")
