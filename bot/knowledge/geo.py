"""Map what a citizen writes as their home to one of Denmark's five regions.

The volunteer programmes are organised per region, so the bot needs a region
code; the municipality is kept when it is known because it is what the citizen
actually named.  All place data lives in ``knowledge/municipalities.yml`` and
``knowledge/regions.yml`` so it can be corrected without touching code, and this
module returns codes and names only: wording towards the citizen belongs to the
dialogue layer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bot.language.text import fold, within_one_edit

HERE = Path(__file__).resolve().parent
DATA_FILE = HERE / "municipalities.yml"
REGIONS_FILE = HERE / "regions.yml"

# Typo tolerance is limited to one edit on names this long or longer; shorter
# names are too close to ordinary words to guess at.
FUZZY_MIN_LENGTH = 5

_POSTCODE = re.compile(r"^\d{4}$")


@dataclass(frozen=True)
class Place:
    """One candidate home: a region code and, when known, the municipality."""

    region: str
    municipality: str | None


@dataclass(frozen=True)
class _Index:
    """Lookup tables derived once from the knowledge file."""

    keys: dict[str, frozenset[Place]]
    postcodes: dict[int, frozenset[Place]]
    homonyms: frozenset[str]
    homonym_before: frozenset[str]
    homonym_after: frozenset[str]
    filler: frozenset[str]
    not_places: frozenset[str]
    max_words: int
    fuzzy_keys: dict[int, tuple[str, ...]]


@cache
def _data() -> dict[str, Any]:
    """Read the knowledge files once; they are static for the life of the process."""
    with DATA_FILE.open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.safe_load(fh)
    with REGIONS_FILE.open(encoding="utf-8") as fh:
        data["regions"] = yaml.safe_load(fh)["regions"]
    return data


@cache
def region_order() -> tuple[str, ...]:
    """Region codes in the order of regions.yml, so results and listings are deterministic."""
    return tuple(region["code"] for region in _data()["regions"])


def _postcode_span(spec: str | int) -> range:
    text = str(spec)
    low, _, high = text.partition("-")
    return range(int(low), int(high or low) + 1)


@cache
def _index() -> _Index:
    """Build the lookup tables; cached because every resolve() needs them."""
    data = _data()
    keys: dict[str, set[Place]] = {}
    postcodes: dict[int, set[Place]] = {}
    by_name: dict[str, Place] = {}

    def add(alias: str, place: Place) -> None:
        key = fold(alias)
        if key:
            keys.setdefault(key, set()).add(place)

    for muni in data["municipalities"]:
        place = Place(muni["region"], muni["name"])
        by_name[muni["name"]] = place
        for alias in [muni["name"], *muni.get("aliases", [])]:
            add(str(alias), place)
        for spec in muni.get("postcodes", []):
            for code in _postcode_span(spec):
                postcodes.setdefault(code, set()).add(place)

    for region in data["regions"]:
        for alias in [region["name"], *region.get("aliases", [])]:
            add(str(alias), Place(region["code"], None))

    for group in data.get("ambiguous_aliases", []):
        for alias in group["aliases"]:
            for code in group.get("regions", []):
                add(str(alias), Place(code, None))
            for name in group.get("municipalities", []):
                add(str(alias), by_name[name])

    for code, names in data.get("split_postcodes", {}).items():
        for name in names:
            postcodes.setdefault(int(code), set()).add(by_name[name])

    homonyms = frozenset(fold(str(w)) for w in data.get("homonyms", []))
    context = data.get("homonym_context", {})
    fuzzy: dict[int, list[str]] = {}
    for key in keys:
        if len(key.replace(" ", "")) >= FUZZY_MIN_LENGTH and key not in homonyms:
            fuzzy.setdefault(key.count(" ") + 1, []).append(key)

    return _Index(
        keys={k: frozenset(v) for k, v in keys.items()},
        postcodes={k: frozenset(v) for k, v in postcodes.items()},
        homonyms=homonyms,
        homonym_before=frozenset(fold(str(w)) for w in context.get("before", [])),
        homonym_after=frozenset(fold(str(w)) for w in context.get("after", [])),
        filler=frozenset(fold(str(w)) for w in data.get("filler_words", [])),
        not_places=frozenset(fold(str(w)) for w in data.get("not_places", [])),
        max_words=max(k.count(" ") + 1 for k in keys),
        fuzzy_keys={n: tuple(sorted(v)) for n, v in fuzzy.items()},
    )


def _exact(tokens: list[str], idx: _Index) -> tuple[list[Place], set[int]]:
    """Longest-first match of known names, so "Viby J" beats a bare "Viby"."""
    spans: list[tuple[int, int, str]] = []
    i = 0
    while i < len(tokens):
        for n in range(min(idx.max_words, len(tokens) - i), 0, -1):
            key = " ".join(tokens[i : i + n])
            if key in idx.keys:
                spans.append((i, i + n, key))
                i += n
                break
        else:
            i += 1

    covered = {j for start, end, _ in spans for j in range(start, end)}
    places: list[Place] = []
    for start, end, key in spans:
        if key in idx.homonyms and not _homonym_in_context(tokens, start, end, covered, idx):
            continue
        places.extend(idx.keys[key])
    return places, covered


def _homonym_in_context(tokens: list[str], start: int, end: int, covered: set[int], idx: _Index) -> bool:
    """Decide whether a name that is also an everyday word is meant as a place.

    "vejen" is a town and also "the road", "mon" is Møn and "I wonder": only
    trust such a name when the reply is nothing but places and postcodes, or
    when the rest is small talk and the name sits in a place slot ("i Vejen",
    "Vejen Kommune").
    """
    others = [j for j in range(len(tokens)) if not start <= j < end]
    if all(j in covered or tokens[j].isdigit() for j in others):
        return True
    loose = [tokens[j] for j in others if j not in covered and not tokens[j].isdigit()]
    if not all(token in idx.filler for token in loose):
        return False
    before = tokens[start - 1] if start > 0 else ""
    after = tokens[end] if end < len(tokens) else ""
    return before in idx.homonym_before or after in idx.homonym_after


def _fuzzy(tokens: list[str], covered: set[int], idx: _Index) -> list[Place]:
    """Guess at one-typo names; only used when nothing matched exactly."""
    places: list[Place] = []
    for n, candidates in idx.fuzzy_keys.items():
        for i in range(len(tokens) - n + 1):
            window = tokens[i : i + n]
            if any(i + j in covered for j in range(n)):
                continue
            if any(not t.isalpha() or t in idx.filler or t in idx.not_places for t in window):
                continue
            phrase = " ".join(window)
            if len(phrase.replace(" ", "")) < FUZZY_MIN_LENGTH:
                continue
            for key in candidates:
                if within_one_edit(phrase, key):
                    places.extend(idx.keys[key])
    return places


def _sort_key(place: Place) -> tuple[int, str]:
    return region_order().index(place.region), place.municipality or ""


def resolve(text: str) -> list[Place]:
    """Return every place the text could mean; empty when nothing fits.

    Several candidates mean the bot should ask which one: the text named more
    than one place, a postcode straddles a region border, or an alias such as
    "Østdanmark" covers two regions.
    """
    idx = _index()
    tokens = fold(text).split()
    if not tokens:
        return []

    by_postcode: set[Place] = set()
    for token in tokens:
        if _POSTCODE.match(token):
            by_postcode |= idx.postcodes.get(int(token), frozenset())

    found, covered = _exact(tokens, idx)
    weak = False
    if not found:
        found = _fuzzy(tokens, covered, idx)
        weak = True

    named = {p for p in found if p.municipality is not None}
    regions = {p.region for p in found if p.municipality is None}

    if named and by_postcode:
        agreed = named & by_postcode
        # A typo guess never overrides a postcode; two exact but conflicting
        # answers are both kept so the bot can ask.
        munis = agreed or (by_postcode if weak else named | by_postcode)
    else:
        munis = named or by_postcode

    if munis:
        if regions:
            # "Region Sjælland, 2640" narrows a split postcode to one side.
            narrowed = {p for p in munis if p.region in regions}
            munis = narrowed or munis
        return sorted(munis, key=_sort_key)
    return sorted((Place(code, None) for code in regions), key=_sort_key)
