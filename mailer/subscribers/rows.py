"""One CSV row of a subscriber import, validated into a `SubscriberRow` or a `RowRejected`.

Validation needs no query: federations, organisations and lists come from a `Directory`
loaded once, locations from the reference geography.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailer.subscribers.csvfile import column_key
from mailer.subscribers.directory import Directory, OrganisationRef, slugify
from mailer.subscribers.emails import normalise_email
from mailer.subscribers.geography import Location, LocationError, resolve_location

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = [
    "COLUMNS",
    "SUBSCRIBER_ALIASES",
    "RowParser",
    "RowRejected",
    "SubscriberRow",
    "check_new_name",
    "federation_conflict",
    "row_location",
    "row_values",
    "split_multi",
]

COLUMNS = (
    "email", "first_name", "last_name", "language", "organisation", "federation", "sector",
    "region", "province", "arrondissement", "role", "tags", "lists",
)  # fmt: skip

# Column names as staff write them (already passed through `column_key`).
SUBSCRIBER_ALIASES = {
    "e_mail": "email", "mail": "email", "courriel": "email", "adresse_e_mail": "email",
    "adresse_email": "email", "adresse_mail": "email", "email_address": "email",
    "e_mailadres": "email", "emailadres": "email",
    "prenom": "first_name", "firstname": "first_name", "voornaam": "first_name",
    "given_name": "first_name",
    "nom": "last_name", "nom_de_famille": "last_name", "lastname": "last_name",
    "surname": "last_name", "achternaam": "last_name", "family_name": "last_name",
    "langue": "language", "taal": "language", "lang": "language",
    "organization": "organisation", "organisme": "organisation", "organisatie": "organisation",
    "association": "organisation", "asbl": "organisation", "institution": "organisation",
    "federation_slug": "federation", "federatie": "federation",
    "secteur": "sector", "sektor": "sector",
    "gewest": "region",
    "provincie": "province",
    "fonction": "role", "function": "role", "functie": "role", "role_": "role",
    "etiquettes": "tags", "tag": "tags", "labels": "tags",
    "listes": "lists", "list": "lists", "liste": "lists", "lijsten": "lists",
}  # fmt: skip

_SEPARATORS = re.compile(r"[;,|]")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]{2})?$")
_LIMITS = {"first_name": 100, "last_name": 100, "role": 100, "sector": 100}
_NAME_LIMIT = 200  # federations, organisations and lists created with --create-missing
_TAG_LIMIT = 64
_LANGUAGE_NAMES = {
    "francais": "fr", "french": "fr", "frans": "fr", "nederlands": "nl", "neerlandais": "nl",
    "dutch": "nl", "deutsch": "de", "allemand": "de", "duits": "de", "german": "de",
    "english": "en", "anglais": "en", "engels": "en",
}  # fmt: skip


@dataclass(slots=True)
class SubscriberRow:
    """A valid row, normalised. Empty strings mean "not given" (existing values are kept)."""

    line: int
    email: str
    first_name: str = ""
    last_name: str = ""
    language: str = ""
    organisation_id: int | None = None
    federation_id: int | None = None
    sector: str = ""
    region: str = ""
    province: str = ""
    arrondissement: str = ""
    role: str = ""
    has_location: bool = False  # region, province and arrondissement given: they go together
    tags: set[str] = field(default_factory=set)
    lists: set[int] = field(default_factory=set)
    attributes: dict[str, str] = field(default_factory=dict)
    fields: tuple[str, ...] = ()  # the row as it was in the file, for reports

    def merge(self, later: SubscriberRow) -> None:
        """Fold a later row for the same address into this one (later values win).

        Call `federation_conflict` first: a later federation must not contradict the
        organisation already known for this address."""
        for name in ("first_name", "last_name", "language", "sector", "role"):
            value = getattr(later, name)
            if value:
                setattr(self, name, value)
        if later.has_location:  # a new place replaces the old one as a whole
            self.region, self.province, self.arrondissement = (
                later.region, later.province, later.arrondissement,
            )  # fmt: skip
            self.has_location = True
        if later.organisation_id is not None:
            self.organisation_id = later.organisation_id
        if later.federation_id is not None:
            self.federation_id = later.federation_id
        self.tags |= later.tags
        self.lists |= later.lists
        self.attributes.update({k: v for k, v in later.attributes.items() if v})


def federation_conflict(
    organisation_id: int | None, later: SubscriberRow, directory: Directory
) -> RowRejected | None:
    """A row giving only a federation, for someone whose organisation is in another one."""
    if organisation_id is None or later.organisation_id is not None or later.federation_id is None:
        return None
    org = directory.organisations_by_id.get(organisation_id)
    if org is None or org.federation_id is None or org.federation_id == later.federation_id:
        return None
    expected = directory.federation_slugs.get(org.federation_id, "?")
    given = directory.federation_slugs.get(later.federation_id, "?")
    return RowRejected(
        "federation",
        f"organisation {org.name!r} belongs to federation {expected!r}, not {given!r}",
    )


class RowRejected(ValueError):
    """A row that cannot be imported: the column and the reason."""

    def __init__(self, column: str, reason: str) -> None:
        self.column = column
        self.reason = reason
        super().__init__(f"{column}: {reason}")


def row_values(columns: tuple[str, ...], fields: list[str]) -> dict[str, str]:
    """A record as {column: value}; a record with more or fewer fields than the header is
    rejected, except for the empty cells Excel pads rows with."""
    if len(fields) != len(columns):
        fields = _fit(len(columns), fields)
    return {name: value for name, value in zip(columns, fields, strict=True) if name}


def _fit(width: int, fields: list[str]) -> list[str]:
    if len(fields) > width and not any(f.strip() for f in fields[width:]):
        return fields[:width]
    raise RowRejected("(row)", f"expected {width} columns like the header, found {len(fields)}")


def split_multi(value: str) -> list[str]:
    """`a; b;;c` → ['a', 'b', 'c'] (tags and lists cells; `,` and `|` also accepted)."""
    if not value:
        return []
    if ";" not in value and "," not in value and "|" not in value:  # the usual single value
        value = value.strip()
        return [value] if value else []
    return [part.strip() for part in _SEPARATORS.split(value) if part.strip()]


def check_new_name(column: str, text: str) -> None:
    """A federation, organisation or list about to be created needs a usable name."""
    if len(text) > _NAME_LIMIT:
        raise RowRejected(column, f"a name longer than {_NAME_LIMIT} characters cannot be created")
    if not slugify(text):
        raise RowRejected(column, f"{text!r} has no letter or digit to name it by")


@functools.lru_cache(maxsize=4096)
def row_location(region: str, province: str, arrondissement: str) -> Location:
    """Resolved once per distinct spelling: a member file repeats a few dozen places."""
    try:
        return resolve_location(region, province, arrondissement)
    except LocationError as exc:
        raise RowRejected(exc.field, str(exc)) from None


class RowParser:
    """Validates the rows of one file. What depends only on the header (which columns exist,
    which become attributes) is worked out once: an import parses 100,000 rows."""

    def __init__(
        self,
        columns: tuple[str, ...],
        directory: Directory,
        *,
        extra_lists: Sequence[int] = (),
        create_in: Session | None = None,
    ) -> None:
        self.directory = directory
        self.extra_lists = set(extra_lists)
        self.create_in = create_in
        self.width = len(columns)
        index = {name: i for i, name in enumerate(columns) if name}
        absent = self.width  # the empty cell appended to every row (see `parse`)
        self.at = {name: index.get(name, absent) for name in COLUMNS}
        self.limited = [(name, index[name], limit) for name, limit in _LIMITS.items()
                        if name in index]  # fmt: skip
        self.attribute_columns = [(name, i) for name, i in index.items() if name not in COLUMNS]

    def parse(self, line: int, fields: list[str]) -> SubscriberRow:
        """Validate one row. With `create_in` (--create-missing) an unknown federation,
        organisation or list is created in that session; without it the row is rejected."""
        if len(fields) != self.width:
            fields = _fit(self.width, fields)
        cells = [*fields, ""]
        at = self.at
        directory = self.directory
        raw_email = cells[at["email"]]
        email = normalise_email(raw_email)
        if email is None:
            raw = raw_email.strip()
            raise RowRejected(
                "email", f"invalid e-mail address {raw!r}" if raw else "no e-mail address"
            )
        row = SubscriberRow(line=line, email=email)
        language_text = cells[at["language"]].strip()
        if language_text:
            row.language = _language(language_text)
        for name, i, limit in self.limited:
            value = cells[i]
            if not value:
                continue
            value = value.strip()
            if "  " in value or "\t" in value or "\n" in value:
                value = " ".join(value.split())
            if len(value) > limit:
                raise RowRejected(name, f"longer than {limit} characters")
            setattr(row, name, value)

        federation_text = cells[at["federation"]].strip()
        if federation_text:
            fed = directory.federation(federation_text)
            if fed is None:
                if self.create_in is None:
                    raise RowRejected("federation", f"unknown federation {federation_text!r}")
                check_new_name("federation", federation_text)
                fed = directory.create_federation(self.create_in, federation_text)
            row.federation_id = fed

        organisation_text = cells[at["organisation"]]
        org: OrganisationRef | None = None
        if organisation_text:
            org = self._organisation(" ".join(organisation_text.split()), row, federation_text)
        location = row_location(
            cells[at["region"]].strip(),
            cells[at["province"]].strip(),
            cells[at["arrondissement"]].strip(),
        )
        if location.region or location.province or location.arrondissement:
            row.region = location.region or ""
            row.province = location.province or ""
            row.arrondissement = location.arrondissement or ""
            row.has_location = True
        elif org is not None and (org.region or org.province or org.arrondissement):
            # the organisation's location stands for its staff
            row.region, row.province, row.arrondissement = (
                org.region, org.province, org.arrondissement,
            )  # fmt: skip
            row.has_location = True
        if not row.sector and org is not None:
            row.sector = org.sector

        for tag in split_multi(cells[at["tags"]]):
            tag = tag.lower()
            if len(tag) > _TAG_LIMIT:
                raise RowRejected(
                    "tags", f"tag {tag[:20]!r}… is longer than {_TAG_LIMIT} characters"
                )
            row.tags.add(tag)
        for text in split_multi(cells[at["lists"]]):
            list_id = directory.mailing_list(text)
            if list_id is None:
                if self.create_in is None:
                    raise RowRejected("lists", f"unknown list {text!r}")
                check_new_name("lists", text)
                list_id = directory.create_list(self.create_in, text)
            row.lists.add(list_id)
        if self.extra_lists:
            row.lists |= self.extra_lists
        for name, i in self.attribute_columns:
            value = cells[i].strip()
            if value:
                row.attributes[name] = value
        return row

    def _organisation(
        self, text: str, row: SubscriberRow, federation_text: str
    ) -> OrganisationRef | None:
        if not text:
            return None
        directory = self.directory
        org = directory.organisation(text)
        if org is None:
            if self.create_in is None:
                raise RowRejected("organisation", f"unknown organisation {text!r}")
            check_new_name("organisation", text)
            org = directory.create_organisation(self.create_in, text, row.federation_id)
        row.organisation_id = org.id
        if org.federation_id is not None:
            if row.federation_id is not None and row.federation_id != org.federation_id:
                expected = directory.federation_slugs.get(org.federation_id, "?")
                raise RowRejected(
                    "federation",
                    f"organisation {org.name!r} belongs to federation {expected!r}, "
                    f"not {federation_text!r}",
                )
            row.federation_id = org.federation_id
        return org


@functools.lru_cache(maxsize=1024)
def _language(text: str) -> str:
    """'Français', 'NL', 'fr-BE' → 'fr', 'nl', 'fr-be' (a file repeats a handful of them)."""
    language = _LANGUAGE_NAMES.get(column_key(text), text.lower())
    if not _LANGUAGE.match(language):
        raise RowRejected("language", f"{text!r} is not a language code like fr or nl")
    return language
