"""Plain data shared between layers: what a recipient is, what a compiled issue is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = [
    "CampaignInfo",
    "DeliveryToSend",
    "FederationInfo",
    "ImportReport",
    "ListInfo",
    "OrganisationInfo",
    "Outcome",
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


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """A campaign as `campaign status` and `campaign list` show it."""

    id: int
    subject: str
    issue_file: str
    list_slug: str
    segment_name: str
    status: str
    scheduled_at: dt.datetime | None
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    pause_reason: str
    deliveries: dict[str, int]  # by delivery status; empty before the send starts
    bounces: dict[str, int]  # by kind: hard, soft, complaint
    # federation slug ("" for none) → recipients, sent, hard, soft, complaint
    by_federation: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.deliveries.values())


@dataclass(frozen=True, slots=True)
class DeliveryToSend:
    """A claimed delivery, with what its message needs."""

    id: int
    subscriber_id: int
    email: str
    first_name: str
    last_name: str
    attempts: int


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one delivery, to be written back with its batch."""

    delivery_id: int
    status: str  # a DeliveryStatus value; "queued" puts it back without counting an attempt
    smtp_code: int | None = None
    smtp_response: str = ""
    message_id: str = ""
    attempted: bool = True  # counts towards max_attempts
    next_attempt_at: dt.datetime | None = None
    bounce: str = ""  # "hard" or "soft": recorded as a bounce event
    bounce_status: str = ""  # the enhanced status code (5.1.1), when the reply gave one
