"""Tests for bot.knowledge.geo: the municipality/region data and resolve()."""

from __future__ import annotations

from collections import Counter

import pytest

from bot.knowledge import geo, kb
from bot.knowledge.geo import Place, fold, resolve

REGIONS = ("hovedstaden", "sjaelland", "syddanmark", "midtjylland", "nordjylland")


def _regions_of(text: str) -> set[str]:
    return {p.region for p in resolve(text)}


def municipalities(region: str | None = None) -> list[str]:
    """Municipality names in the data file's order, optionally of one region (KeyError for an unknown one)."""
    if region is not None and region not in kb().regions:
        raise KeyError(region)
    return [m["name"] for m in geo._data()["municipalities"] if region is None or m["region"] == region]


def region_name(code: str) -> str:
    return kb().regions[code].name


# --------------------------------------------------------------------- data


def test_exactly_98_municipalities() -> None:
    assert len(municipalities()) == 98


@pytest.mark.parametrize(
    ("region", "count"),
    [
        ("hovedstaden", 29),
        ("sjaelland", 17),
        ("syddanmark", 22),
        ("midtjylland", 19),
        ("nordjylland", 11),
    ],
)
def test_municipalities_per_region(region: str, count: int) -> None:
    assert len(municipalities(region)) == count


def test_municipality_names_unique() -> None:
    names = municipalities()
    assert len(set(names)) == len(names)
    assert len({fold(n) for n in names}) == len(names)


def test_region_names_and_codes() -> None:
    assert {code: region_name(code) for code in REGIONS} == {
        "hovedstaden": "Region Hovedstaden",
        "sjaelland": "Region Sjælland",
        "syddanmark": "Region Syddanmark",
        "midtjylland": "Region Midtjylland",
        "nordjylland": "Region Nordjylland",
    }
    with pytest.raises(KeyError):
        region_name("fyn")
    with pytest.raises(KeyError):
        municipalities("fyn")


def test_every_municipality_has_a_known_region() -> None:
    for muni in geo._data()["municipalities"]:
        assert muni["region"] in REGIONS, muni["name"]


def test_no_alias_points_to_two_municipalities() -> None:
    owner: dict[str, str] = {}
    for muni in geo._data()["municipalities"]:
        for alias in [muni["name"], *muni.get("aliases", [])]:
            key = fold(str(alias))
            assert owner.setdefault(key, muni["name"]) == muni["name"], (
                alias,
                owner[key],
                muni["name"],
            )


def test_ambiguous_aliases_are_not_also_plain_aliases() -> None:
    plain = {fold(str(a)) for m in geo._data()["municipalities"] for a in [m["name"], *m.get("aliases", [])]} | {
        fold(str(a)) for r in geo._data()["regions"] for a in [r["name"], *r.get("aliases", [])]
    }
    names = set(municipalities())
    for group in geo._data()["ambiguous_aliases"]:
        assert set(group.get("municipalities", [])) <= names
        assert set(group.get("regions", [])) <= set(REGIONS)
        for alias in group["aliases"]:
            assert fold(str(alias)) not in plain, alias


def test_no_alias_is_both_municipality_and_region() -> None:
    muni_keys = {fold(str(a)) for m in geo._data()["municipalities"] for a in [m["name"], *m.get("aliases", [])]}
    region_keys = {fold(str(a)) for r in geo._data()["regions"] for a in [r["name"], *r.get("aliases", [])]}
    assert not muni_keys & region_keys


def test_no_postcode_in_two_municipalities() -> None:
    owner: dict[int, str] = {}
    for muni in geo._data()["municipalities"]:
        for spec in muni.get("postcodes", []):
            for code in geo._postcode_span(spec):
                assert 1000 <= code <= 9999
                assert owner.setdefault(code, muni["name"]) == muni["name"], code
    split = {int(c) for c in geo._data()["split_postcodes"]}
    assert not split & set(owner), "a split postcode is also listed under a municipality"


def test_split_postcodes_straddle_two_regions() -> None:
    region_of = {m["name"]: m["region"] for m in geo._data()["municipalities"]}
    for code, names in geo._data()["split_postcodes"].items():
        assert len({region_of[n] for n in names}) == 2, code


def test_every_municipality_has_postcodes() -> None:
    for muni in geo._data()["municipalities"]:
        assert muni.get("postcodes"), muni["name"]


def test_municipalities_per_region_sum_to_all() -> None:
    per_region = Counter(m["region"] for m in geo._data()["municipalities"])
    assert sum(per_region.values()) == 98
    assert sorted(n for r in REGIONS for n in municipalities(r)) == sorted(municipalities())


# The assignments most often got wrong, checked one by one.
@pytest.mark.parametrize(
    ("region", "names"),
    [
        ("sjaelland", ["Odsherred", "Kalundborg", "Greve", "Solrød", "Køge", "Stevns", "Faxe", "Roskilde", "Lejre", "Holbæk"]),
        ("hovedstaden", ["Bornholm", "Høje-Taastrup", "Halsnæs", "Frederikssund", "Egedal"]),
        (
            "syddanmark",
            ["Fredericia", "Vejle", "Kolding", "Billund", "Vejen", "Esbjerg", "Varde", "Fanø"]
            + ["Haderslev", "Aabenraa", "Sønderborg", "Tønder", "Middelfart", "Ærø", "Langeland"],
        ),
        (
            "midtjylland",
            ["Horsens", "Hedensted", "Skanderborg", "Herning", "Ringkøbing-Skjern", "Lemvig", "Struer", "Holstebro", "Skive"]
            + ["Viborg", "Silkeborg", "Ikast-Brande", "Samsø", "Norddjurs", "Syddjurs", "Favrskov", "Odder", "Randers", "Aarhus"],
        ),
        (
            "nordjylland",
            ["Morsø", "Thisted", "Jammerbugt", "Vesthimmerland", "Rebild", "Mariagerfjord"] + ["Aalborg", "Brønderslev", "Hjørring", "Frederikshavn", "Læsø"],
        ),
    ],
)
def test_known_region_assignments(region: str, names: list[str]) -> None:
    assert set(names) <= set(municipalities(region))


# ------------------------------------------------------------------ resolve


@pytest.mark.parametrize(
    ("text", "municipality", "region"),
    [
        ("Aarhus", "Aarhus", "midtjylland"),
        ("Århus", "Aarhus", "midtjylland"),
        ("aarhus", "Aarhus", "midtjylland"),
        ("AARHUS", "Aarhus", "midtjylland"),
        ("8000", "Aarhus", "midtjylland"),
        ("8000 Aarhus C", "Aarhus", "midtjylland"),
        ("i aarhus c", "Aarhus", "midtjylland"),
        ("jeg bor i Aarhus", "Aarhus", "midtjylland"),
        ("Viby J", "Aarhus", "midtjylland"),
        ("8260 Viby J", "Aarhus", "midtjylland"),
        ("Kbh", "København", "hovedstaden"),
        ("Kbh.", "København", "hovedstaden"),
        ("KBH", "København", "hovedstaden"),
        ("Cph", "København", "hovedstaden"),
        ("Copenhagen", "København", "hovedstaden"),
        ("København", "København", "hovedstaden"),
        ("Koebenhavn", "København", "hovedstaden"),
        ("Københavns Kommune", "København", "hovedstaden"),
        ("2100", "København", "hovedstaden"),
        ("2100 København Ø", "København", "hovedstaden"),
        ("Frederiksberg", "Frederiksberg", "hovedstaden"),
        ("2000 Frederiksberg", "Frederiksberg", "hovedstaden"),
        ("Lyngby", "Lyngby-Taarbæk", "hovedstaden"),
        ("Kgs. Lyngby", "Lyngby-Taarbæk", "hovedstaden"),
        ("Høje-Taastrup", "Høje-Taastrup", "hovedstaden"),
        ("Hoje Taastrup", "Høje-Taastrup", "hovedstaden"),
        ("Hoeje-Taastrup", "Høje-Taastrup", "hovedstaden"),
        ("Høje Tåstrup", "Høje-Taastrup", "hovedstaden"),
        ("Bornholm", "Bornholm", "hovedstaden"),
        ("Rønne", "Bornholm", "hovedstaden"),
        ("Ronne", "Bornholm", "hovedstaden"),
        ("3700 Rønne", "Bornholm", "hovedstaden"),
        ("Roskilde", "Roskilde", "sjaelland"),
        ("4000", "Roskilde", "sjaelland"),
        ("Næstved", "Næstved", "sjaelland"),
        ("Naestved", "Næstved", "sjaelland"),
        ("Nastved", "Næstved", "sjaelland"),
        ("Greve", "Greve", "sjaelland"),
        ("Solrød", "Solrød", "sjaelland"),
        ("Solrod Strand", "Solrød", "sjaelland"),
        ("Nykøbing Falster", "Guldborgsund", "sjaelland"),
        ("Nakskov", "Lolland", "sjaelland"),
        ("Ringsted", "Ringsted", "sjaelland"),
        ("Odense", "Odense", "syddanmark"),
        ("5000", "Odense", "syddanmark"),
        ("5000 Odense C", "Odense", "syddanmark"),
        ("Esbjerg", "Esbjerg", "syddanmark"),
        ("Sønderborg", "Sønderborg", "syddanmark"),
        ("Sonderborg", "Sønderborg", "syddanmark"),
        ("Soenderborg", "Sønderborg", "syddanmark"),
        ("Grindsted", "Billund", "syddanmark"),
        ("Fanø", "Fanø", "syddanmark"),
        ("Ærø", "Ærø", "syddanmark"),
        ("Aabenraa", "Aabenraa", "syddanmark"),
        ("Åbenrå", "Aabenraa", "syddanmark"),
        ("Herning", "Herning", "midtjylland"),
        ("Herninng", "Herning", "midtjylland"),
        ("Hernig", "Herning", "midtjylland"),
        ("Skive", "Skive", "midtjylland"),
        ("jeg bor i Skive", "Skive", "midtjylland"),
        ("Rønde", "Syddjurs", "midtjylland"),
        ("Hammel", "Favrskov", "midtjylland"),
        ("Skanderborg", "Skanderborg", "midtjylland"),
        ("Brædstrup", "Horsens", "midtjylland"),
        ("jeg bor i Horsens", "Horsens", "midtjylland"),
        ("Samsø", "Samsø", "midtjylland"),
        ("Aalborg", "Aalborg", "nordjylland"),
        ("Ålborg", "Aalborg", "nordjylland"),
        ("9000", "Aalborg", "nordjylland"),
        ("9000 Aalborg", "Aalborg", "nordjylland"),
        ("Hjørring", "Hjørring", "nordjylland"),
        ("Hjorring", "Hjørring", "nordjylland"),
        ("Thisted", "Thisted", "nordjylland"),
        ("Brønderslev", "Brønderslev", "nordjylland"),
        ("Læsø", "Læsø", "nordjylland"),
        ("Morsø", "Morsø", "nordjylland"),
        ("Vejen", "Vejen", "syddanmark"),
        ("Vejen Kommune", "Vejen", "syddanmark"),
        ("jeg er fra Give", "Vejle", "syddanmark"),
        ("jeg bor på Møn", "Vordingborg", "sjaelland"),
        ("Tønder", "Tønder", "syddanmark"),
        ("2640 Hedehusene", "Høje-Taastrup", "hovedstaden"),
        ("Region Sjælland 2640", "Roskilde", "sjaelland"),
        ("Aarhus, Region Midtjylland", "Aarhus", "midtjylland"),
    ],
)
def test_resolve_single_municipality(text: str, municipality: str, region: str) -> None:
    assert resolve(text) == [Place(region, municipality)]


@pytest.mark.parametrize(
    ("text", "region"),
    [
        ("Region Sjælland", "sjaelland"),
        ("sjaelland", "sjaelland"),
        ("Midtjylland", "midtjylland"),
        ("region midt", "midtjylland"),
        ("nordjylland", "nordjylland"),
        ("Region Nordjylland", "nordjylland"),
        ("Hovedstaden", "hovedstaden"),
        ("Syddanmark", "syddanmark"),
        ("jeg bor i Region Syddanmark", "syddanmark"),
        ("Midtjyland", "midtjylland"),
    ],
)
def test_resolve_region_only(text: str, region: str) -> None:
    assert resolve(text) == [Place(region, None)]


def test_municipality_wins_over_region() -> None:
    assert resolve("Region Sjælland, Roskilde") == [Place("sjaelland", "Roskilde")]
    # Even a contradictory region does not override a named municipality.
    assert resolve("Odense i Region Midtjylland") == [Place("syddanmark", "Odense")]


def test_oestdanmark_is_ambiguous() -> None:
    expected = [Place("hovedstaden", None), Place("sjaelland", None)]
    assert resolve("Østdanmark") == expected
    assert resolve("Region Østdanmark") == expected
    assert resolve("oestdanmark") == expected
    # A municipality settles it.
    assert resolve("Østdanmark, Næstved") == [Place("sjaelland", "Næstved")]


def test_ambiguous_town_names_give_all_candidates() -> None:
    assert resolve("Nykøbing") == [
        Place("sjaelland", "Guldborgsund"),
        Place("sjaelland", "Odsherred"),
        Place("nordjylland", "Morsø"),
    ]
    assert resolve("Viby") == [Place("sjaelland", "Roskilde"), Place("midtjylland", "Aarhus")]
    # The fuller name or a postcode picks one.
    assert resolve("Nykøbing F") == [Place("sjaelland", "Guldborgsund")]
    assert resolve("8260 Viby") == [Place("midtjylland", "Aarhus")]


def test_postcode_split_between_regions_gives_both() -> None:
    assert resolve("2640") == [
        Place("hovedstaden", "Høje-Taastrup"),
        Place("sjaelland", "Roskilde"),
    ]
    assert _regions_of("9632") == {"midtjylland", "nordjylland"}


def test_postcode_and_name_that_agree_give_one() -> None:
    assert resolve("7400 Herning") == [Place("midtjylland", "Herning")]
    assert resolve("7330 Brande") == [Place("midtjylland", "Ikast-Brande")]


def test_conflicting_postcode_and_name_give_both() -> None:
    assert resolve("8000 Odense") == [
        Place("syddanmark", "Odense"),
        Place("midtjylland", "Aarhus"),
    ]


def test_typo_never_overrides_postcode() -> None:
    assert resolve("5000 Herninng") == [Place("syddanmark", "Odense")]


def test_several_places_named() -> None:
    assert resolve("Aarhus eller Aalborg") == [
        Place("midtjylland", "Aarhus"),
        Place("nordjylland", "Aalborg"),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "asdf",
        "12",
        "0800",
        "1990",
        "hej",
        "jeg ved det ikke",
        "Fyn",
        "Christiansø",
        "12345678",
        # Everyday words that look like places.
        "jeg vil gerne give en hånd",
        "for enden af vejen",
        "jeg vil skrive til jer",
        "klokken er mange",
        "det er gammel",
        "en skive brød",
        "midt i det hele",
        "mon det",
        "fem tønder øl",
        "der er brande i skoven",
    ],
)
def test_nonsense_gives_nothing(text: str) -> None:
    assert resolve(text) == []


def test_results_are_places_with_codes() -> None:
    for place in resolve("Herning") + resolve("Østdanmark"):
        assert isinstance(place, Place)
        assert place.region in REGIONS


def test_municipalities_order_is_stable() -> None:
    assert municipalities() == municipalities()
    assert municipalities("nordjylland")[0] == "Brønderslev"


def test_fold() -> None:
    assert fold("Høje-Taastrup") == fold("Hoeje Taastrup") == fold("hoje tåstrup")
    assert fold("Kbh.") == "kbh"
    assert fold("Ærø") == fold("Aeroe") == fold("aro")
