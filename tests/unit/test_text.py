"""Matching Danish with and without æ/ø/å and with typos."""

from __future__ import annotations

import pytest

from bot.language.text import fold, phrase_score, within_one_edit, words


@pytest.mark.parametrize(
    ("a", "b"), [("vågekone", "vaagekone"), ("vågekone", "vagekone"), ("Ærø", "aero"), ("Høje-Taastrup", "hoje tastrup"), ("café", "cafe")]
)
def test_spellings_fold_to_the_same(a: str, b: str) -> None:
    assert fold(a) == fold(b)


def test_phrase_score_matches_stems_typos_and_phrases() -> None:
    assert phrase_score(fold("tavshedspligt"), words("hvad med tavshedspligten?")) > 0
    assert phrase_score(fold("tavshedspligt"), words("taushedspligt")) > 0
    assert phrase_score(fold("fire pejlemærker"), words("hvad er de fire pejlemaerker")) > 0
    assert phrase_score(fold("løn"), words("lønning")) == 0  # short words match whole words only
    assert phrase_score(fold("løn"), words("får man løn")) > 0


def test_within_one_edit() -> None:
    assert within_one_edit("frivillig", "frivilig")
    assert within_one_edit("frivillig", "frivlilig")
    assert not within_one_edit("frivillig", "fri")


def test_a_different_first_letter_is_not_a_typo() -> None:
    assert phrase_score(fold("ehospital"), words("et hospital i aarhus")) == 0
    assert phrase_score(fold("hjerteforeningen"), words("hjerteforningen")) > 0
