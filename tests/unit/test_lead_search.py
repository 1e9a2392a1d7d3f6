"""The dashboard's free-text search: one kept column per lead (leads.search_text), Danish letters in either case."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from bot.store import LeadStore, migrations
from bot.store.casework import LeadFilter, Viewer
from bot.store.database import make_engine
from bot.store.intake import LeadDraft
from bot.store.schema import LEAD_FIELDS

ADMIN = Viewer("admin@example.dk", "admin", ())


@pytest.fixture
def store(tmp_path: Path) -> LeadStore:
    return LeadStore(f"sqlite:///{tmp_path / 'leads.db'}", spool_dir=tmp_path / "spool")


def found(store: LeadStore, text: str) -> list[str]:
    leads, total = store.cases.query(ADMIN, LeadFilter(text=text))
    assert total == len(leads)
    return sorted(lead.name for lead in leads)


def signup(conversation: str, name: str, email: str, **values: str) -> LeadDraft:
    answers = {"name": name, "email": email, "phone": "+4520304050", "region": "sjaelland", **values}
    return LeadDraft("signup", conversation, "rest", consent_at="2026-11-30T10:00:00", consent_version="v1", **answers)


def test_danish_letters_are_found_in_either_case(store: LeadStore) -> None:
    store.intake.save(signup("c1", "Søren Ærø", "soren@example.dk", municipality="Næstved"))
    store.intake.save(signup("c2", "Åse Holm", "aase@example.dk", municipality="Køge"))
    assert found(store, "ærø") == ["Søren Ærø"]
    assert found(store, "SØREN") == ["Søren Ærø"]
    assert found(store, "åse") == ["Åse Holm"]
    assert found(store, "køge") == ["Åse Holm"]
    assert found(store, "example.dk") == ["Søren Ærø", "Åse Holm"]
    assert found(store, "ingen-sådan") == []


def test_wildcards_in_a_search_are_plain_characters(store: LeadStore) -> None:
    store.intake.save(signup("c1", "Bente Jensen", "bente@example.dk", message="100% klar"))
    store.intake.save(signup("c2", "Ole Hansen", "ole_h@example.dk"))
    assert found(store, "%") == ["Bente Jensen"]
    assert found(store, "_") == ["Ole Hansen"]


def test_a_changed_lead_is_found_by_its_new_answers_only(store: LeadStore) -> None:
    store.intake.save(signup("c1", "Bente Jensen", "bente@example.dk", municipality="Næstved"))
    store.intake.save(signup("c2", "Bente Jensen", "bente@example.dk", municipality="Holbæk"))  # the same e-mail: the open sign-up is updated
    assert found(store, "holbæk") == ["Bente Jensen"]
    assert found(store, "næstved") == []


def test_leads_stored_before_the_search_column_are_found_after_the_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(migrations._config(make_engine(url)), "0002")
    values = {f.name: "[]" if f.many else "" for f in LEAD_FIELDS} | {"name": "Ærlige Åge", "municipality": "Ærø"}
    columns = ", ".join(values)
    with make_engine(url).begin() as connection:
        for n in range(3):
            connection.execute(
                sa.text(
                    f"INSERT INTO leads (reference, submission_key, kind, created_at, updated_at, {columns}, channel, conversation_id, status, "
                    f"consent_version, transcript) VALUES (:ref, :key, 'signup', '2026-11-01 10:00:00', '2026-11-01 10:00:00', "
                    f"{', '.join(':' + name for name in values)}, 'rest', :conv, 'ny', '', '[]')"
                ),
                {**values, "ref": f"FRV-OLD-{n}", "key": f"k{n}", "conv": f"c{n}"},
            )
    store = LeadStore(url)  # migrates to the newest revision
    leads, total = store.cases.query(ADMIN, LeadFilter(text="ærlige åge"))
    assert total == 3 and {lead.reference for lead in leads} == {"FRV-OLD-0", "FRV-OLD-1", "FRV-OLD-2"}
    assert store.cases.query(ADMIN, LeadFilter(text="frv-old-1"))[1] == 1
