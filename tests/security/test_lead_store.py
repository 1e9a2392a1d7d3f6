"""No lead is lost to a database error, and no database error carries a citizen's data into the logs (issue 13)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.store import LeadStore
from bot.store.intake import UNREADABLE, LeadDraft

SECRET_NAME, SECRET_EMAIL = "Mette Hemmeligsen", "mette.hemmelig@example.dk"


def draft(conversation: str = "conv-sec", **overrides: object) -> LeadDraft:
    values: dict[str, object] = {
        "name": SECRET_NAME,
        "email": SECRET_EMAIL,
        "phone": "+4520304050",
        "region": "midtjylland",
        "municipality": "Aarhus",
        "interests": ["vejviser"],
        "availability": "hverdage",
        "message": "",
        "consent_at": "2026-11-22T10:00:00",
        "consent_version": "2026-11-1",
        **overrides,
    }
    return LeadDraft("signup", conversation, "rest", **values)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path) -> LeadStore:
    lead_store = LeadStore(f"sqlite:///{tmp_path / 'leads.db'}", spool_dir=tmp_path / "spool")
    lead_store.db.migrate()
    return lead_store


def refuse_inserts(store: LeadStore) -> None:
    """A database error that is no lost connection: the database refuses every new lead."""
    with store.db.engine.begin() as connection:
        connection.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON leads BEGIN SELECT RAISE(ABORT, 'refused'); END"))


def test_a_database_error_during_a_sign_up_keeps_the_lead_and_the_logs_clean(store: LeadStore, caplog: pytest.LogCaptureFixture) -> None:
    refuse_inserts(store)
    caplog.set_level(logging.DEBUG)
    result = store.intake.save(draft())
    assert not result.stored and result.reference.startswith("FRV-")
    assert len(store.intake.spooled()) == 1
    assert SECRET_NAME not in caplog.text and SECRET_EMAIL not in caplog.text and "20304050" not in caplog.text

    with store.db.engine.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER refuse"))
    [(written, saved)] = store.intake.flush_spool()
    assert saved.stored and written["email"] == SECRET_EMAIL and store.intake.spooled() == []


def test_the_database_never_puts_parameters_in_its_errors(store: LeadStore) -> None:
    refuse_inserts(store)
    with pytest.raises(sa.exc.DBAPIError) as raised, store.db.engine.begin() as connection:
        connection.execute(sa.text("INSERT INTO leads (name) VALUES (:name)"), {"name": SECRET_NAME})
    assert SECRET_NAME not in str(raised.value)


def test_two_submissions_with_one_reference_get_two_references(store: LeadStore, monkeypatch: pytest.MonkeyPatch) -> None:
    first = store.intake.save(draft())
    original = LeadDraft.reference

    def clashing(self: LeadDraft, year: int | None = None, attempt: int = 0) -> str:
        return first.reference if attempt == 0 else original(self, year, attempt)

    monkeypatch.setattr(LeadDraft, "reference", clashing)
    second = store.intake.save(draft(conversation="conv-other", email="en.anden@example.dk"))
    assert second.stored and second.created and second.reference != first.reference
    assert sorted(lead["reference"] for lead in store.cases.all_leads()) == sorted([first.reference, second.reference])


def test_an_unreadable_spool_file_is_set_aside_and_the_rest_are_written(store: LeadStore, caplog: pytest.LogCaptureFixture) -> None:
    refuse_inserts(store)
    store.intake.save(draft())
    assert store.intake.spool_dir is not None
    (store.intake.spool_dir / "0000-broken.json").write_text("{ikke json", encoding="utf-8")
    with store.db.engine.begin() as connection:
        connection.execute(sa.text("DROP TRIGGER refuse"))
    written = store.intake.flush_spool()
    assert [d["email"] for d, _ in written] == [SECRET_EMAIL]
    assert (store.intake.spool_dir / UNREADABLE / "0000-broken.json").exists() and store.intake.spooled() == []
    assert "0000-broken.json" in caplog.text


def test_a_lead_names_only_a_known_channel() -> None:
    assert draft().channel == "rest"
    assert LeadDraft("signup", "c", "<script>Kanal: falsk</script>", name="A B").channel == "rest"
    assert LeadDraft("signup", "c", "telegram", name="A B").channel == "telegram"
