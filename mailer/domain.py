"""Plain data shared between layers: what a recipient is, what a compiled issue is."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "FederationInfo",
    "ImportReport",
    "ListInfo",
    "OrganisationInfo",
    "PersonalLinks",
    "Recipient",
    "RowProblem",
]


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who a message is for, as the renderer needs it (never an ORM row)."""

    email: str
    first_name: str = ""
    last_name: str = ""

    @property
    def display_name(self) -> str:
        return " ".join(x for x in (self.first_name, self.last_name) if x)


@dataclass(frozen=True, slots=True)
class PersonalLinks:
    """The personal links of one message (their tokens are made by the caller)."""

    view_online_url: str
    preferences_url: str
    unsubscribe_url: str


@dataclass(frozen=True, slots=True)
class FederationInfo:
    slug: str
    name: str
    organisations: int
    subscribers: int


@dataclass(frozen=True, slots=True)
class OrganisationInfo:
    slug: str
    name: str
    federation: str
    sector: str
    region: str
    province: str
    arrondissement: str
    size_band: str
    subscribers: int


@dataclass(frozen=True, slots=True)
class ListInfo:
    slug: str
    name: str
    double_opt_in: bool
    confirmed: int
    pending: int
    unsubscribed: int


@dataclass(frozen=True, slots=True)
class RowProblem:
    """A row of an imported file that was not applied, with where and why."""

    line: int
    column: str
    reason: str
    fields: tuple[str, ...]
    rejected: bool = True  # False: a valid row we refused to act on (never re-subscribe)


@dataclass(slots=True)
class ImportReport:
    """What an import did (or, with --dry-run, would do)."""

    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    not_resubscribed: int = 0
    merged_duplicates: int = 0
    created: list[str] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    stored: bool = True
