"""Belgium's administrative geography: the reference data, the lookups and `resolve_location`."""

from __future__ import annotations

from collections import Counter

import pytest

from mailer.subscribers.geography import (
    ARRONDISSEMENTS,
    LANGUAGES,
    PROVINCES,
    REGIONS,
    Arrondissement,
    Location,
    LocationError,
    Province,
    Region,
    describe,
    find_arrondissement,
    find_province,
    find_region,
    resolve_location,
)

# --- the data -----------------------------------------------------------------------------------


def test_counts() -> None:
    assert (len(REGIONS), len(PROVINCES), len(ARRONDISSEMENTS)) == (3, 10, 43)


def test_arrondissements_per_region() -> None:
    per_region = Counter(arrondissement.region for arrondissement in ARRONDISSEMENTS)
    assert per_region == {"BE-WAL": 20, "BE-BRU": 1, "BE-VLG": 22}


def test_provinces_per_region() -> None:
    per_region = Counter(province.region for province in PROVINCES)
    assert per_region == {"BE-WAL": 5, "BE-VLG": 5}


@pytest.mark.parametrize(
    ("province", "count"),
    [
        ("BE-VAN", 3), ("BE-VBR", 2), ("BE-VWV", 8), ("BE-VOV", 6), ("BE-VLI", 3),
        ("BE-WBR", 1), ("BE-WHT", 7), ("BE-WLG", 4), ("BE-WLX", 5), ("BE-WNA", 3),
    ],
)  # fmt: skip
def test_arrondissements_per_province(province: str, count: int) -> None:
    assert sum(a.province == province for a in ARRONDISSEMENTS) == count


@pytest.mark.parametrize("arrondissement", ARRONDISSEMENTS, ids=lambda a: a.code)
def test_arrondissement_province_is_in_its_region(arrondissement: Arrondissement) -> None:
    assert arrondissement.region in {region.code for region in REGIONS}
    if arrondissement.province is None:
        assert arrondissement.region == "BE-BRU"
    else:
        province = find_province(arrondissement.province)
        assert province is not None
        assert province.region == arrondissement.region


@pytest.mark.parametrize("province", PROVINCES, ids=lambda p: p.code)
def test_province_region_exists(province: Province) -> None:
    assert province.region in {region.code for region in REGIONS}


@pytest.mark.parametrize("places", [REGIONS, PROVINCES, ARRONDISSEMENTS])
def test_codes_are_unique(places: tuple[Region | Province | Arrondissement, ...]) -> None:
    codes = [place.code for place in places]
    nis = [place.nis for place in places]
    assert len(set(codes)) == len(codes)
    assert len(set(nis)) == len(nis)


def test_code_formats() -> None:
    assert all(r.code.startswith("BE-") and len(r.code) == 6 for r in REGIONS)
    assert all(p.code.startswith("BE-") and len(p.code) == 6 for p in PROVINCES)
    assert all(a.code.isdigit() and len(a.code) == 2 for a in ARRONDISSEMENTS)
    assert "54" not in {a.code for a in ARRONDISSEMENTS}  # merged into 57 in 2019


def test_brussels_has_no_province() -> None:
    brussels = [a for a in ARRONDISSEMENTS if a.region == "BE-BRU"]
    assert [(a.code, a.province) for a in brussels] == [("21", None)]
    assert not any(p.region == "BE-BRU" for p in PROVINCES)


def test_name_is_french_and_label_gives_each_language() -> None:
    province = find_province("BE-WLG")
    assert province is not None
    assert province.name == "Liège"
    labels = [province.label(language) for language in LANGUAGES]
    assert labels == ["Liège", "Luik", "Lüttich", "Liège"]


def test_label_rejects_an_unknown_language() -> None:
    with pytest.raises(ValueError, match="unknown language 'it'"):
        REGIONS[0].label("it")


def test_places_are_frozen() -> None:
    with pytest.raises(AttributeError):
        REGIONS[0].code = "BE-XXX"  # type: ignore[misc]


# --- the lookups --------------------------------------------------------------------------------


@pytest.mark.parametrize("place", REGIONS, ids=lambda p: p.code)
def test_every_region_name_and_code_finds_it(place: Region) -> None:
    for text in (*place.names(), *place.codes()):
        assert find_region(text) is place, text


@pytest.mark.parametrize("place", PROVINCES, ids=lambda p: p.code)
def test_every_province_name_and_code_finds_it(place: Province) -> None:
    for text in (*place.names(), *place.codes()):
        assert find_province(text) is place, text


@pytest.mark.parametrize("place", ARRONDISSEMENTS, ids=lambda p: p.code)
def test_every_arrondissement_name_and_code_finds_it(place: Arrondissement) -> None:
    for text in (*place.names(), *place.codes()):
        assert find_arrondissement(text) is place, text


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("BE-WAL", "BE-WAL"),
        ("be-bru", "BE-BRU"),
        ("vlg", "BE-VLG"),
        ("03000", "BE-WAL"),
        ("Région wallonne", "BE-WAL"),
        ("Région Wallonne", "BE-WAL"),
        ("REGION WALLONNE", "BE-WAL"),
        ("Waals Gewest", "BE-WAL"),
        ("Wallonische Region", "BE-WAL"),
        ("Walloon Region", "BE-WAL"),
        ("Wallonie", "BE-WAL"),
        ("Wallonia", "BE-WAL"),
        ("Région de Bruxelles-Capitale", "BE-BRU"),
        ("region de bruxelles capitale", "BE-BRU"),
        ("Brussels Hoofdstedelijk Gewest", "BE-BRU"),
        ("Region Brüssel-Hauptstadt", "BE-BRU"),
        ("Brussels-Capital Region", "BE-BRU"),
        ("Bruxelles", "BE-BRU"),
        ("Brussel", "BE-BRU"),
        ("Brussels", "BE-BRU"),
        ("Région flamande", "BE-VLG"),
        ("Vlaams Gewest", "BE-VLG"),
        ("Flämische Region", "BE-VLG"),
        ("Flemish Region", "BE-VLG"),
        ("Flandre", "BE-VLG"),
        ("Vlaanderen", "BE-VLG"),
        ("Flanders", "BE-VLG"),
        ("  flanders  ", "BE-VLG"),
    ],
)
def test_find_region(text: str, code: str) -> None:
    region = find_region(text)
    assert region is not None
    assert region.code == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("BE-WNA", "BE-WNA"),
        ("wna", "BE-WNA"),
        ("be wna", "BE-WNA"),
        ("90000", "BE-WNA"),
        ("Brabant wallon", "BE-WBR"),
        ("brabant-wallon", "BE-WBR"),
        ("BRABANT WALLON", "BE-WBR"),
        ("Waals-Brabant", "BE-WBR"),
        ("waals brabant", "BE-WBR"),
        ("Wallonisch-Brabant", "BE-WBR"),
        ("Walloon Brabant", "BE-WBR"),
        ("Hainaut", "BE-WHT"),
        ("Henegouwen", "BE-WHT"),
        ("Hennegau", "BE-WHT"),
        ("Liège", "BE-WLG"),
        ("Liege", "BE-WLG"),
        ("LIÈGE", "BE-WLG"),
        ("Luik", "BE-WLG"),
        ("Lüttich", "BE-WLG"),
        ("Luttich", "BE-WLG"),
        ("Luxembourg", "BE-WLX"),
        ("Luxemburg", "BE-WLX"),
        ("Namur", "BE-WNA"),
        ("Namen", "BE-WNA"),
        ("Namür", "BE-WNA"),
        ("Anvers", "BE-VAN"),
        ("Antwerpen", "BE-VAN"),
        ("Antwerp", "BE-VAN"),
        ("Limbourg", "BE-VLI"),
        ("Limburg", "BE-VLI"),
        ("Flandre orientale", "BE-VOV"),
        ("Oost-Vlaanderen", "BE-VOV"),
        ("oostvlaanderen", "BE-VOV"),
        ("Ostflandern", "BE-VOV"),
        ("East Flanders", "BE-VOV"),
        ("Brabant flamand", "BE-VBR"),
        ("Vlaams-Brabant", "BE-VBR"),
        ("Flämisch-Brabant", "BE-VBR"),
        ("Flemish Brabant", "BE-VBR"),
        ("Flandre occidentale", "BE-VWV"),
        ("West-Vlaanderen", "BE-VWV"),
        ("Westflandern", "BE-VWV"),
        ("West Flanders", "BE-VWV"),
    ],
)
def test_find_province(text: str, code: str) -> None:
    province = find_province(text)
    assert province is not None
    assert province.code == code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("92", "92"),
        ("92000", "92"),
        ("Namur", "92"),
        ("Namen", "92"),
        ("Anvers", "11"),
        ("Antwerpen", "11"),
        ("Malines", "12"),
        ("Mechelen", "12"),
        ("Bruxelles-Capitale", "21"),
        ("Brussel-Hoofdstad", "21"),
        ("Brüssel-Hauptstadt", "21"),
        ("Brussels-Capital", "21"),
        ("Bruxelles", "21"),
        ("Halle-Vilvoorde", "23"),
        ("Hal-Vilvorde", "23"),
        ("Nivelles", "25"),
        ("Nijvel", "25"),
        ("Brugge", "31"),
        ("Bruges", "31"),
        ("Diksmuide", "32"),
        ("Dixmude", "32"),
        ("Ieper", "33"),
        ("Ypres", "33"),
        ("Kortrijk", "34"),
        ("Courtrai", "34"),
        ("Oostende", "35"),
        ("Ostende", "35"),
        ("Roeselare", "36"),
        ("Roulers", "36"),
        ("Veurne", "38"),
        ("Furnes", "38"),
        ("Aalst", "41"),
        ("Alost", "41"),
        ("Dendermonde", "42"),
        ("Termonde", "42"),
        ("Gent", "44"),
        ("Gand", "44"),
        ("Ghent", "44"),
        ("Oudenaarde", "45"),
        ("Audenarde", "45"),
        ("Sint-Niklaas", "46"),
        ("Saint-Nicolas", "46"),
        ("saint nicolas", "46"),
        ("Ath", "51"),
        ("Aat", "51"),
        ("Mons", "53"),
        ("Bergen", "53"),
        ("Soignies", "55"),
        ("Zinnik", "55"),
        ("Tournai-Mouscron", "57"),
        ("Doornik-Moeskroen", "57"),
        ("Tournai", "57"),
        ("Mouscron", "57"),
        ("54", "57"),
        ("La Louvière", "58"),
        ("la louviere", "58"),
        ("LaLouvière", "58"),
        ("Huy", "61"),
        ("Hoei", "61"),
        ("Liège", "62"),
        ("Luik", "62"),
        ("Waremme", "64"),
        ("Borgworm", "64"),
        ("Tongeren", "73"),
        ("Tongres", "73"),
        ("Arlon", "81"),
        ("Aarlen", "81"),
        ("Bastogne", "82"),
        ("Bastenaken", "82"),
        ("Marche en Famenne", "83"),
        ("Neufchateau", "84"),
        ("Philippeville", "93"),
    ],
)
def test_find_arrondissement(text: str, code: str) -> None:
    arrondissement = find_arrondissement(text)
    assert arrondissement is not None
    assert arrondissement.code == code


@pytest.mark.parametrize("text", ["Hai'naut", "Hainaut’", "Hai-naut", "h a i n a u t"])
def test_apostrophes_spaces_and_hyphens_are_ignored(text: str) -> None:
    assert find_province(text) is find_province("Hainaut")


@pytest.mark.parametrize(
    ("finder", "text"),
    [
        (find_region, ""),
        (find_region, "Namur"),
        (find_region, "BE-WNA"),
        (find_province, "Bruxelles"),
        (find_province, "Wallonie"),
        (find_province, "Dinant"),
        (find_province, "92"),
        (find_arrondissement, "Luxembourg"),
        (find_arrondissement, "Limburg"),
        (find_arrondissement, "BE-WNA"),
        (find_arrondissement, "99"),
    ],
)
def test_each_finder_only_knows_its_own_kind(finder: object, text: str) -> None:
    assert callable(finder)
    assert finder(text) is None


# --- resolve_location ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({}, Location(None, None, None)),
        ({"region": "Wallonie"}, Location("BE-WAL", None, None)),
        ({"province": "Namur"}, Location("BE-WAL", "BE-WNA", None)),
        ({"province": "Limburg"}, Location("BE-VLG", "BE-VLI", None)),
        ({"arrondissement": "Dinant"}, Location("BE-WAL", "BE-WNA", "91")),
        ({"arrondissement": "Gent"}, Location("BE-VLG", "BE-VOV", "44")),
        ({"arrondissement": "Mouscron"}, Location("BE-WAL", "BE-WHT", "57")),
        ({"arrondissement": "Bruxelles"}, Location("BE-BRU", None, "21")),
        (
            {"region": "Région wallonne", "province": "namur", "arrondissement": "Dinant"},
            Location("BE-WAL", "BE-WNA", "91"),
        ),
        ({"region": "Vlaanderen", "arrondissement": "Leuven"}, Location("BE-VLG", "BE-VBR", "24")),
        ({"province": "Luik", "arrondissement": "Verviers"}, Location("BE-WAL", "BE-WLG", "63")),
        (
            {"region": "Bruxelles", "arrondissement": "Bruxelles-Capitale"},
            Location("BE-BRU", None, "21"),
        ),
        ({"region": "Brussels"}, Location("BE-BRU", None, None)),
        ({"region": "  ", "province": " Hainaut "}, Location("BE-WAL", "BE-WHT", None)),
    ],
)
def test_resolve_location_derives_parents(given: dict[str, str], expected: Location) -> None:
    assert resolve_location(**given) == expected


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        ({"province": "Namurr"}, "province", "unknown province 'Namurr' (did you mean 'Namur'?)"),
        ({"region": "Walonie"}, "region", "unknown region 'Walonie' (did you mean 'Wallonie'?)"),
        (
            {"arrondissement": "Antwerpn"},
            "arrondissement",
            "unknown arrondissement 'Antwerpn' (did you mean 'Antwerpen'?)",
        ),
        ({"region": "Atlantis"}, "region", "unknown region 'Atlantis'"),
        (
            {"province": "Bruxelles"},
            "province",
            "unknown province 'Bruxelles' (that is a region and an arrondissement, not a province)",
        ),
        (
            {"arrondissement": "Luxembourg"},
            "arrondissement",
            "unknown arrondissement 'Luxembourg' (that is a province, not an arrondissement)",
        ),
        (
            {"region": "Wallonie", "province": "Nope", "arrondissement": "Dinant"},
            "province",
            "unknown province 'Nope'",
        ),
    ],
)
def test_resolve_location_rejects_unknown_values(
    given: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(LocationError) as caught:
        resolve_location(**given)
    assert caught.value.field == field
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("given", "field", "message"),
    [
        (
            {"province": "Liège", "arrondissement": "Dinant"},
            "arrondissement",
            "arrondissement 'Dinant' is in province 'Namur', not 'Liège'",
        ),
        (
            {"region": "Vlaanderen", "arrondissement": "Dinant"},
            "arrondissement",
            "arrondissement 'Dinant' is in region 'Région wallonne', not 'Région flamande'",
        ),
        (
            {"region": "Flandre", "province": "Namur"},
            "province",
            "province 'Namur' is in region 'Région wallonne', not 'Région flamande'",
        ),
        (
            {"region": "Bruxelles", "province": "Brabant flamand"},
            "province",
            "province 'Brabant flamand' is in region 'Région flamande', "
            "not 'Région de Bruxelles-Capitale'",
        ),
        (
            {"province": "Vlaams-Brabant", "arrondissement": "Brussel"},
            "arrondissement",
            "arrondissement 'Bruxelles-Capitale' is in no province, not 'Brabant flamand'",
        ),
        (
            {"region": "Wallonie", "arrondissement": "Bruxelles"},
            "arrondissement",
            "arrondissement 'Bruxelles-Capitale' is in region 'Région de Bruxelles-Capitale', "
            "not 'Région wallonne'",
        ),
    ],
)
def test_resolve_location_rejects_inconsistent_values(
    given: dict[str, str], field: str, message: str
) -> None:
    with pytest.raises(LocationError) as caught:
        resolve_location(**given)
    assert caught.value.field == field
    assert str(caught.value) == message


def test_location_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown region"):
        resolve_location(region="Atlantis")


# --- describe -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("fr", ("Région wallonne", "Hainaut", "Tournai-Mouscron")),
        ("nl", ("Waals Gewest", "Henegouwen", "Doornik-Moeskroen")),
        ("de", ("Wallonische Region", "Hennegau", "Tournai-Mouscron")),
        ("en", ("Walloon Region", "Hainaut", "Tournai-Mouscron")),
    ],
)
def test_describe(language: str, expected: tuple[str, str, str]) -> None:
    location = resolve_location(arrondissement="Mouscron")
    assert describe(location, language) == expected


def test_describe_defaults_to_french_and_leaves_missing_parts_empty() -> None:
    assert describe(resolve_location(arrondissement="Brussel")) == (
        "Région de Bruxelles-Capitale",
        "",
        "Bruxelles-Capitale",
    )
    assert describe(Location(None, None, None)) == ("", "", "")
    antwerp = resolve_location(province="Antwerpen")
    assert describe(antwerp, "nl") == ("Vlaams Gewest", "Antwerpen", "")


def test_describe_rejects_an_unknown_code() -> None:
    with pytest.raises(LocationError) as caught:
        describe(Location("BE-WAL", "BE-XXX", None))
    assert caught.value.field == "province"
