"""CPR numbers are never stored, whatever separates their digits: chat messages, lead fields and notes alike (issue 13)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.language.privacy import MASK, contains_cpr, scrub
from bot.store import LeadStore
from bot.store.casework import Viewer
from bot.store.intake import LeadDraft

WRITTEN = ["311299-1234", "311299–1234", "3112-99-1234", "31.12.99-1234", "311299/1234", "31 12 99 1234", "3112991234"]


@pytest.mark.parametrize("cpr", WRITTEN)
def test_every_way_of_writing_a_cpr_number_is_caught(cpr: str) -> None:
    assert contains_cpr(f"mit cpr er {cpr} tak") and cpr not in scrub({"text": f"mit cpr er {cpr}"})["text"]


@pytest.mark.parametrize("other", ["20 30 40 50", "+45 20304050", "d. 30.11.2026 kl. 1415", "postnummer 8000", "2026-11-30"])
def test_phone_numbers_and_dates_are_no_cpr_numbers(other: str) -> None:
    assert not contains_cpr(other)


def test_a_cpr_number_in_a_lead_or_a_note_is_masked_before_it_is_stored(tmp_path: Path) -> None:
    store = LeadStore(f"sqlite:///{tmp_path / 'leads.db'}", spool_dir=tmp_path / "spool")
    store.db.migrate()
    draft = LeadDraft("signup", "conv-cpr", "rest", name="Ida Jensen", email="ida@example.dk", region="midtjylland", availability="3112-99-1234 er mit cpr")
    reference = store.intake.save(draft).reference
    admin = Viewer(email="admin@example.dk", role="admin", regions=())
    assert store.cases.add_note(admin, reference, "Hun oplyste 31.12.99-1234 i telefonen")
    lead = store.cases.get(admin, reference)
    assert lead is not None
    stored = " ".join([str(lead.availability), *(note.text for note in store.cases.notes(lead))])
    assert "1234" not in stored and stored.count(MASK) == 2
