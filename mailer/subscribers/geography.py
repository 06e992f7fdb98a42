"""Belgium's administrative geography: regions, provinces and administrative arrondissements.

This module owns the reference data (public facts, current since the 2019 merger of the
arrondissements of Tournai and Mouscron: 3 regions, 10 provinces, 43 arrondissements) and the
rules for recognising a place typed by a person: by ISO 3166-2 code, NIS code, or any name or
usual alias in French, Dutch, German or English, ignoring case, accents, spaces, hyphens and
apostrophes. `resolve_location` turns the free-text fields of a subscriber into a consistent
`Location` of codes (deriving the missing parents); `describe` turns it back into names.

The French name is the canonical display and export name (`.name`); `label(language)` gives the
others. Brussels-Capital is a region and an arrondissement, but belongs to no province.
Pure data and functions: no I/O, and the lookup tables are built on first use.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Generic, Literal, TypeVar

from mailer.errors import MailerError

__all__ = [
    "ARRONDISSEMENTS",
    "LANGUAGES",
    "PROVINCES",
    "REGIONS",
    "Arrondissement",
    "Location",
    "LocationError",
    "LocationField",
    "Province",
    "Region",
    "describe",
    "find_arrondissement",
    "find_province",
    "find_region",
    "resolve_location",
]

LANGUAGES = ("fr", "nl", "de", "en")
"""The languages every place has a name in; French first, as the canonical one."""

LocationField = Literal["region", "province", "arrondissement"]


class LocationError(MailerError, ValueError):
    """A region, province or arrondissement is unknown, or does not fit with the others."""

    def __init__(self, field: LocationField, message: str) -> None:
        self.field: LocationField = field
        self.message = message
        super().__init__(message)


class _Named:
    """Names in the four languages, shared by the three kinds of place."""

    __slots__ = ()

    code: str
    name_fr: str
    name_nl: str
    name_de: str
    name_en: str
    aliases: tuple[str, ...]

    @property
    def name(self) -> str:
        """The French name: the canonical display and export name."""
        return self.name_fr

    def label(self, language: str) -> str:
        """The name in `language` ("fr", "nl", "de" or "en")."""
        match language:
            case "fr":
                return self.name_fr
            case "nl":
                return self.name_nl
            case "de":
                return self.name_de
            case "en":
                return self.name_en
        raise ValueError(f"unknown language {language!r} (expected one of {', '.join(LANGUAGES)})")

    def names(self) -> tuple[str, ...]:
        """Every name and alias this place is recognised by (duplicates removed, in order)."""
        return tuple(
            dict.fromkeys((self.name_fr, self.name_nl, self.name_de, self.name_en, *self.aliases))
        )

    def codes(self) -> tuple[str, ...]:
        """Every code this place is recognised by."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Region(_Named):
    """A region; `code` is its ISO 3166-2 code ("BE-WAL"), `nis` its NIS code ("03000")."""

    code: str
    name_fr: str
    name_nl: str
    name_de: str
    name_en: str
    nis: str
    aliases: tuple[str, ...] = ()

    def codes(self) -> tuple[str, ...]:
        return (self.code, self.code.removeprefix("BE-"), self.nis)


@dataclass(frozen=True, slots=True)
class Province(_Named):
    """A province; `code` is its ISO 3166-2 code ("BE-WNA"), `region` its region's code."""

    code: str
    region: str
    name_fr: str
    name_nl: str
    name_de: str
    name_en: str
    nis: str
    aliases: tuple[str, ...] = ()

    def codes(self) -> tuple[str, ...]:
        return (self.code, self.code.removeprefix("BE-"), self.nis)


@dataclass(frozen=True, slots=True)
class Arrondissement(_Named):
    """An administrative arrondissement; `code` is its two-digit NIS code ("92").

    `province` is the province's ISO code, or None for Brussels-Capital (in no province).
    """

    code: str
    province: str | None
    region: str
    name_fr: str
    name_nl: str
    name_de: str
    name_en: str
    aliases: tuple[str, ...] = ()
    legacy_codes: tuple[str, ...] = ()

    @property
    def nis(self) -> str:
        """The five-digit NIS code ("92000")."""
        return f"{self.code}000"

    def codes(self) -> tuple[str, ...]:
        legacy = (form for old in self.legacy_codes for form in (old, f"{old}000"))
        return (self.code, self.nis, *legacy)


# fmt: off
REGIONS: tuple[Region, ...] = (
    Region("BE-WAL", "Région wallonne", "Waals Gewest", "Wallonische Region", "Walloon Region",
           "03000", ("Wallonie", "Wallonië", "Wallonien", "Wallonia")),
    Region("BE-BRU", "Région de Bruxelles-Capitale", "Brussels Hoofdstedelijk Gewest",
           "Region Brüssel-Hauptstadt", "Brussels-Capital Region", "04000",
           ("Bruxelles", "Brussel", "Brüssel", "Brussels", "Bruxelles-Capitale",
            "Brussel-Hoofdstad", "Brüssel-Hauptstadt", "Brussels-Capital", "Région bruxelloise",
            "Brussels Gewest")),
    Region("BE-VLG", "Région flamande", "Vlaams Gewest", "Flämische Region", "Flemish Region",
           "02000", ("Flandre", "Vlaanderen", "Flandern", "Flanders")),
)

PROVINCES: tuple[Province, ...] = (
    Province("BE-WBR", "BE-WAL", "Brabant wallon", "Waals-Brabant", "Wallonisch-Brabant",
             "Walloon Brabant", "20002"),
    Province("BE-WHT", "BE-WAL", "Hainaut", "Henegouwen", "Hennegau", "Hainaut", "50000"),
    Province("BE-WLG", "BE-WAL", "Liège", "Luik", "Lüttich", "Liège", "60000"),
    Province("BE-WLX", "BE-WAL", "Luxembourg", "Luxemburg", "Luxemburg", "Luxembourg", "80000",
             ("Luxembourg belge", "Belgisch-Luxemburg", "Belgian Luxembourg")),
    Province("BE-WNA", "BE-WAL", "Namur", "Namen", "Namur", "Namur", "90000", ("Namür",)),
    Province("BE-VAN", "BE-VLG", "Anvers", "Antwerpen", "Antwerpen", "Antwerp", "10000"),
    Province("BE-VLI", "BE-VLG", "Limbourg", "Limburg", "Limburg", "Limburg", "70000"),
    Province("BE-VOV", "BE-VLG", "Flandre orientale", "Oost-Vlaanderen", "Ostflandern",
             "East Flanders", "40000"),
    Province("BE-VBR", "BE-VLG", "Brabant flamand", "Vlaams-Brabant", "Flämisch-Brabant",
             "Flemish Brabant", "20001"),
    Province("BE-VWV", "BE-VLG", "Flandre occidentale", "West-Vlaanderen", "Westflandern",
             "West Flanders", "30000"),
)

ARRONDISSEMENTS: tuple[Arrondissement, ...] = (
    # Province of Antwerp
    Arrondissement("11", "BE-VAN", "BE-VLG", "Anvers", "Antwerpen", "Antwerpen", "Antwerp"),
    Arrondissement("12", "BE-VAN", "BE-VLG", "Malines", "Mechelen", "Mecheln", "Mechelen"),
    Arrondissement("13", "BE-VAN", "BE-VLG", "Turnhout", "Turnhout", "Turnhout", "Turnhout"),
    # Brussels-Capital: in no province
    Arrondissement("21", None, "BE-BRU", "Bruxelles-Capitale", "Brussel-Hoofdstad",
                   "Brüssel-Hauptstadt", "Brussels-Capital",
                   ("Bruxelles", "Brussel", "Brüssel", "Brussels")),
    # Flemish Brabant
    Arrondissement("23", "BE-VBR", "BE-VLG", "Hal-Vilvorde", "Halle-Vilvoorde",
                   "Halle-Vilvoorde", "Halle-Vilvoorde"),
    Arrondissement("24", "BE-VBR", "BE-VLG", "Louvain", "Leuven", "Löwen", "Leuven"),
    # Walloon Brabant
    Arrondissement("25", "BE-WBR", "BE-WAL", "Nivelles", "Nijvel", "Nivelles", "Nivelles"),
    # West Flanders
    Arrondissement("31", "BE-VWV", "BE-VLG", "Bruges", "Brugge", "Brügge", "Bruges"),
    Arrondissement("32", "BE-VWV", "BE-VLG", "Dixmude", "Diksmuide", "Diksmuide", "Diksmuide"),
    Arrondissement("33", "BE-VWV", "BE-VLG", "Ypres", "Ieper", "Ypern", "Ypres"),
    Arrondissement("34", "BE-VWV", "BE-VLG", "Courtrai", "Kortrijk", "Kortrijk", "Kortrijk"),
    Arrondissement("35", "BE-VWV", "BE-VLG", "Ostende", "Oostende", "Ostende", "Ostend"),
    Arrondissement("36", "BE-VWV", "BE-VLG", "Roulers", "Roeselare", "Roeselare", "Roeselare"),
    Arrondissement("37", "BE-VWV", "BE-VLG", "Tielt", "Tielt", "Tielt", "Tielt"),
    Arrondissement("38", "BE-VWV", "BE-VLG", "Furnes", "Veurne", "Veurne", "Veurne"),
    # East Flanders
    Arrondissement("41", "BE-VOV", "BE-VLG", "Alost", "Aalst", "Aalst", "Aalst"),
    Arrondissement("42", "BE-VOV", "BE-VLG", "Termonde", "Dendermonde", "Dendermonde",
                   "Dendermonde"),
    Arrondissement("43", "BE-VOV", "BE-VLG", "Eeklo", "Eeklo", "Eeklo", "Eeklo"),
    Arrondissement("44", "BE-VOV", "BE-VLG", "Gand", "Gent", "Gent", "Ghent"),
    Arrondissement("45", "BE-VOV", "BE-VLG", "Audenarde", "Oudenaarde", "Oudenaarde",
                   "Oudenaarde"),
    Arrondissement("46", "BE-VOV", "BE-VLG", "Saint-Nicolas", "Sint-Niklaas", "Sint-Niklaas",
                   "Sint-Niklaas"),
    # Hainaut (54 Mouscron was merged into 57 Tournai-Mouscron in 2019)
    Arrondissement("51", "BE-WHT", "BE-WAL", "Ath", "Aat", "Ath", "Ath"),
    Arrondissement("52", "BE-WHT", "BE-WAL", "Charleroi", "Charleroi", "Charleroi", "Charleroi"),
    Arrondissement("53", "BE-WHT", "BE-WAL", "Mons", "Bergen", "Mons", "Mons"),
    Arrondissement("55", "BE-WHT", "BE-WAL", "Soignies", "Zinnik", "Soignies", "Soignies"),
    Arrondissement("56", "BE-WHT", "BE-WAL", "Thuin", "Thuin", "Thuin", "Thuin"),
    Arrondissement("57", "BE-WHT", "BE-WAL", "Tournai-Mouscron", "Doornik-Moeskroen",
                   "Tournai-Mouscron", "Tournai-Mouscron",
                   ("Tournai", "Doornik", "Mouscron", "Moeskroen"), ("54",)),
    Arrondissement("58", "BE-WHT", "BE-WAL", "La Louvière", "La Louvière", "La Louvière",
                   "La Louvière"),
    # Liège
    Arrondissement("61", "BE-WLG", "BE-WAL", "Huy", "Hoei", "Huy", "Huy"),
    Arrondissement("62", "BE-WLG", "BE-WAL", "Liège", "Luik", "Lüttich", "Liège"),
    Arrondissement("63", "BE-WLG", "BE-WAL", "Verviers", "Verviers", "Verviers", "Verviers"),
    Arrondissement("64", "BE-WLG", "BE-WAL", "Waremme", "Borgworm", "Waremme", "Waremme"),
    # Limburg
    Arrondissement("71", "BE-VLI", "BE-VLG", "Hasselt", "Hasselt", "Hasselt", "Hasselt"),
    Arrondissement("72", "BE-VLI", "BE-VLG", "Maaseik", "Maaseik", "Maaseik", "Maaseik"),
    Arrondissement("73", "BE-VLI", "BE-VLG", "Tongres", "Tongeren", "Tongern", "Tongeren"),
    # Luxembourg
    Arrondissement("81", "BE-WLX", "BE-WAL", "Arlon", "Aarlen", "Arel", "Arlon"),
    Arrondissement("82", "BE-WLX", "BE-WAL", "Bastogne", "Bastenaken", "Bastnach", "Bastogne"),
    Arrondissement("83", "BE-WLX", "BE-WAL", "Marche-en-Famenne", "Marche-en-Famenne",
                   "Marche-en-Famenne", "Marche-en-Famenne"),
    Arrondissement("84", "BE-WLX", "BE-WAL", "Neufchâteau", "Neufchâteau", "Neufchâteau",
                   "Neufchâteau"),
    Arrondissement("85", "BE-WLX", "BE-WAL", "Virton", "Virton", "Virton", "Virton"),
    # Namur
    Arrondissement("91", "BE-WNA", "BE-WAL", "Dinant", "Dinant", "Dinant", "Dinant"),
    Arrondissement("92", "BE-WNA", "BE-WAL", "Namur", "Namen", "Namur", "Namur"),
    Arrondissement("93", "BE-WNA", "BE-WAL", "Philippeville", "Philippeville",
                   "Philippeville", "Philippeville"),
)
# fmt: on


# --- lookup -------------------------------------------------------------------------------------

_P = TypeVar("_P", bound=_Named)


def _key(text: str) -> str:
    """Fold `text` for comparison: no case, accents, spaces, hyphens, apostrophes or dots."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if ch.isalnum())


@dataclass(frozen=True)
class _Index(Generic[_P]):
    by_key: Mapping[str, _P]
    by_code: Mapping[str, _P]
    spellings: Mapping[str, str]  # folded name or alias -> the name as written, for suggestions


def _build(places: Iterable[_P]) -> _Index[_P]:
    by_key: dict[str, _P] = {}
    by_code: dict[str, _P] = {}
    spellings: dict[str, str] = {}
    for place in places:
        by_code[place.code] = place
        names = place.names()
        for text in (*place.codes(), *names):
            key = _key(text)
            if by_key.setdefault(key, place) != place:
                raise RuntimeError(f"{text!r} names both {by_key[key].code} and {place.code}")
        for text in names:
            spellings.setdefault(_key(text), text)
    return _Index(by_key, by_code, spellings)


@cache
def _regions() -> _Index[Region]:
    return _build(REGIONS)


@cache
def _provinces() -> _Index[Province]:
    return _build(PROVINCES)


@cache
def _arrondissements() -> _Index[Arrondissement]:
    return _build(ARRONDISSEMENTS)


def find_region(text: str) -> Region | None:
    """The region `text` names (ISO code, NIS code, name or alias in any language), or None."""
    return _regions().by_key.get(_key(text))


def find_province(text: str) -> Province | None:
    """The province `text` names (ISO code, NIS code, name or alias in any language), or None."""
    return _provinces().by_key.get(_key(text))


def find_arrondissement(text: str) -> Arrondissement | None:
    """The arrondissement `text` names (NIS code, name or alias in any language), or None."""
    return _arrondissements().by_key.get(_key(text))


# --- locations ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    """Where a subscriber is, as codes (ISO for region and province, NIS for arrondissement)."""

    region: str | None = None
    province: str | None = None
    arrondissement: str | None = None


def _kinds_named(text: str) -> list[LocationField]:
    """The kinds of place `text` names (a name can be, say, both a province and a region)."""
    kinds: list[LocationField] = []
    if find_region(text) is not None:
        kinds.append("region")
    if find_province(text) is not None:
        kinds.append("province")
    if find_arrondissement(text) is not None:
        kinds.append("arrondissement")
    return kinds


def _a(kind: LocationField) -> str:
    return f"an {kind}" if kind == "arrondissement" else f"a {kind}"


def _unknown(field: LocationField, text: str, index: _Index[_P]) -> LocationError:
    """The error for a `field` value that names nothing of its kind, with the best hint found."""
    message = f"unknown {field} {text!r}"
    close = difflib.get_close_matches(_key(text), index.spellings, n=1, cutoff=0.75)
    other_kinds = [kind for kind in _kinds_named(text) if kind != field]
    if close:
        message += f" (did you mean {index.spellings[close[0]]!r}?)"
    elif other_kinds:
        kinds = " and ".join(_a(kind) for kind in other_kinds)
        message += f" (that is {kinds}, not {_a(field)})"
    return LocationError(field, message)


def _found(field: LocationField, text: str, index: _Index[_P]) -> _P | None:
    text = text.strip()
    if not text:
        return None
    place = index.by_key.get(_key(text))
    if place is None:
        raise _unknown(field, text, index)
    return place


def _region_name(code: str) -> str:
    return _regions().by_code[code].name


def _province_name(code: str | None) -> str:
    return "no province" if code is None else f"province {_provinces().by_code[code].name!r}"


def resolve_location(region: str = "", province: str = "", arrondissement: str = "") -> Location:
    """Recognise the given fields (empty means "not given") and derive the missing parents.

    An arrondissement gives its province and region, a province its region. Raises
    `LocationError` naming the field at fault when a value is unknown or contradicts another.
    """
    found_region = _found("region", region, _regions())
    found_province = _found("province", province, _provinces())
    found_arrondissement = _found("arrondissement", arrondissement, _arrondissements())

    if found_arrondissement is not None:
        if found_province is not None and found_arrondissement.province != found_province.code:
            raise LocationError(
                "arrondissement",
                f"arrondissement {found_arrondissement.name!r} is in "
                f"{_province_name(found_arrondissement.province)}, "
                f"not {found_province.name!r}",
            )
        if found_region is not None and found_arrondissement.region != found_region.code:
            raise LocationError(
                "arrondissement",
                f"arrondissement {found_arrondissement.name!r} is in region "
                f"{_region_name(found_arrondissement.region)!r}, not {found_region.name!r}",
            )
        return Location(
            found_arrondissement.region, found_arrondissement.province, found_arrondissement.code
        )
    if found_province is not None:
        if found_region is not None and found_province.region != found_region.code:
            raise LocationError(
                "province",
                f"province {found_province.name!r} is in region "
                f"{_region_name(found_province.region)!r}, not {found_region.name!r}",
            )
        return Location(found_province.region, found_province.code, None)
    return Location(found_region.code if found_region is not None else None, None, None)


def _label(field: LocationField, code: str | None, index: _Index[_P], language: str) -> str:
    if code is None:
        return ""
    place = index.by_code.get(code)
    if place is None:
        raise LocationError(field, f"unknown {field} code {code!r}")
    return place.label(language)


def describe(location: Location, language: str = "fr") -> tuple[str, str, str]:
    """The (region, province, arrondissement) names of `location` in `language`; "" if absent."""
    return (
        _label("region", location.region, _regions(), language),
        _label("province", location.province, _provinces(), language),
        _label("arrondissement", location.arrondissement, _arrondissements(), language),
    )
