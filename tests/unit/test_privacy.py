"""CPR numbers are recognised and never kept."""

from __future__ import annotations

import pytest

from bot.language.privacy import MASK, contains_cpr, scrub


@pytest.mark.parametrize("text", ["010190-1234", "0101901234", "mit cpr er 311299 1234", "cpr:150372-2841."])
def test_cpr_is_recognised(text: str) -> None:
    assert contains_cpr(text)


@pytest.mark.parametrize("text", ["20 30 40 50", "+45 20304050", "004520304050", "320190-1234", "011390-1234", "FRV-2026-ABC123", "8000 Aarhus", "12345678901"])
def test_other_numbers_are_not_cpr(text: str) -> None:
    assert not contains_cpr(text)


def test_scrub_masks_nested_values() -> None:
    data = {"text": "mit cpr er 010190-1234", "parse_data": {"entities": [{"value": "0101901234"}]}, "n": 3}
    assert scrub(data) == {"text": f"mit cpr er {MASK}", "parse_data": {"entities": [{"value": MASK}]}, "n": 3}
