"""Federations, member organisations and mailing lists: create, look up, list.

`Directory` caches the small reference tables for one import or one segment, so that resolving
a federation or organisation written in a CSV row costs a dictionary look-up, not a query.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailer.db.models import (
    Federation,
    MailingList,
    Organisation,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from mailer.domain import FederationInfo, ListInfo, OrganisationInfo
from mailer.errors import Conflict, NotFound

__all__ = [
    "Directory",
    "add_federation",
    "create_list",
    "list_federations",
    "list_lists",
    "list_organisations",
    "name_key",
    "slugify",
    "validate_slug",
]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def slugify(text: str) -> str:
    """'Fédération des CPAS' → 'federation-des-cpas': how names typed by staff are matched."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@functools.lru_cache(maxsize=16384)  # a member file names the same organisations again and again
def name_key(text: str, limit: int = 63) -> str:
    """The slug a name is looked up and created by (cut to the column's length)."""
    return slugify(text)[:limit].strip("-")


def validate_slug(slug: str, what: str) -> str:
    if not _SLUG.match(slug):
        raise Conflict(
            f"{what} slug {slug!r} must be lower-case letters, digits and '-' (at most 63), "
            f"e.g. {slugify(slug)[:63] or 'my-slug'!r}"
        )
    return slug


def add_federation(session: Session, slug: str, name: str) -> FederationInfo:
    validate_slug(slug, "federation")
    name = name.strip()
    if not name:
        raise Conflict("a federation needs a name")
    if session.scalar(select(Federation.id).where(Federation.slug == slug)) is not None:
        raise Conflict(f"federation {slug!r} already exists")
    session.add(Federation(slug=slug, name=name))
    session.flush()
    return FederationInfo(slug=slug, name=name, organisations=0, subscribers=0)


def _active_subscribers_by(session: Session, column: Any) -> dict[int | None, int]:
    """Active subscribers counted per value of `column` (a federation or organisation id)."""
    query = (
        select(column, func.count())
        .where(Subscriber.status == SubscriberStatus.ACTIVE)
        .group_by(column)
    )
    return dict(session.execute(query).all())


def list_federations(session: Session) -> list[FederationInfo]:
    organisations = dict(
        session.execute(
            select(Organisation.federation_id, func.count()).group_by(Organisation.federation_id)
        ).all()
    )
    subscribers = _active_subscribers_by(session, Subscriber.federation_id)
    return [
        FederationInfo(f.slug, f.name, organisations.get(f.id, 0), subscribers.get(f.id, 0))
        for f in session.scalars(select(Federation).order_by(Federation.slug))
    ]


def list_organisations(session: Session, federation: str | None = None) -> list[OrganisationInfo]:
    query = (
        select(Organisation, Federation.slug)
        .outerjoin(Federation, Federation.id == Organisation.federation_id)
        .order_by(Organisation.name)
    )
    if federation:
        fed = Directory.load(session).federation(federation)
        if fed is None:
            raise NotFound(f"no federation {federation!r} (see `mailer federations list`)")
        query = query.where(Organisation.federation_id == fed)
    counts = _active_subscribers_by(session, Subscriber.organisation_id)
    return [
        OrganisationInfo(
            slug=org.slug,
            name=org.name,
            federation=fed_slug or "",
            sector=org.sector,
            region=org.region,
            province=org.province,
            arrondissement=org.arrondissement,
            size_band=org.size_band,
            subscribers=counts.get(org.id, 0),
        )
        for org, fed_slug in session.execute(query)
    ]


def create_list(session: Session, slug: str, name: str, *, double_opt_in: bool) -> ListInfo:
    validate_slug(slug, "list")
    name = name.strip()
    if not name:
        raise Conflict("a list needs a name")
    if session.scalar(select(MailingList.id).where(MailingList.slug == slug)) is not None:
        raise Conflict(f"list {slug!r} already exists")
    session.add(MailingList(slug=slug, name=name, double_opt_in=double_opt_in))
    session.flush()
    return ListInfo(slug, name, double_opt_in, 0, 0, 0)


def list_lists(session: Session) -> list[ListInfo]:
    counts: dict[tuple[int, str], int] = {
        (list_id, str(status)): n
        for list_id, status, n in session.execute(
            select(Subscription.list_id, Subscription.status, func.count()).group_by(
                Subscription.list_id, Subscription.status
            )
        )
    }
    return [
        ListInfo(
            slug=item.slug,
            name=item.name,
            double_opt_in=item.double_opt_in,
            confirmed=counts.get((item.id, SubscriptionStatus.CONFIRMED.value), 0),
            pending=counts.get((item.id, SubscriptionStatus.PENDING.value), 0),
            unsubscribed=counts.get((item.id, SubscriptionStatus.UNSUBSCRIBED.value), 0),
        )
        for item in session.scalars(select(MailingList).order_by(MailingList.slug))
    ]


@dataclass(slots=True)
class OrganisationRef:
    id: int
    slug: str
    name: str
    federation_id: int | None
    sector: str
    region: str
    province: str
    arrondissement: str


@dataclass
class Directory:
    """Federations, organisations and lists by slug (and by slugified name), for look-ups."""

    federations: dict[str, int] = field(default_factory=dict)
    federation_slugs: dict[int, str] = field(default_factory=dict)
    organisations: dict[str, OrganisationRef] = field(default_factory=dict)
    organisations_by_id: dict[int, OrganisationRef] = field(default_factory=dict)
    lists: dict[str, int] = field(default_factory=dict)
    list_slugs: dict[int, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, session: Session) -> Directory:
        directory = cls()
        for fed_id, slug, name in session.execute(
            select(Federation.id, Federation.slug, Federation.name)
        ):
            directory.federations.setdefault(name_key(name), fed_id)
            directory.federations[slug] = fed_id  # a slug wins over another one's name
            directory.federation_slugs[fed_id] = slug
        for org in session.scalars(select(Organisation)):
            directory.remember_organisation(org)
        for list_id, slug in session.execute(select(MailingList.id, MailingList.slug)):
            directory.lists[slug] = list_id
            directory.list_slugs[list_id] = slug
        return directory

    def remember_organisation(self, org: Organisation) -> OrganisationRef:
        ref = OrganisationRef(
            org.id, org.slug, org.name, org.federation_id, org.sector, org.region, org.province,
            org.arrondissement,
        )  # fmt: skip
        self.organisations[org.slug] = ref
        self.organisations_by_id[org.id] = ref
        return ref

    def federation(self, text: str) -> int | None:
        return self.federations.get(name_key(text))

    def organisation(self, text: str) -> OrganisationRef | None:
        return self.organisations.get(name_key(text, 200))

    def mailing_list(self, text: str) -> int | None:
        return self.lists.get(text.strip().lower()) or self.lists.get(name_key(text))

    def create_federation(self, session: Session, text: str) -> int:
        slug = name_key(text)
        fed = Federation(slug=slug, name=text.strip()[:200])
        session.add(fed)
        session.flush()
        self.federations[slug] = fed.id
        self.federation_slugs[fed.id] = slug
        self.created.append(f"federation {slug!r} ({text.strip()})")
        return fed.id

    def create_organisation(
        self, session: Session, text: str, federation_id: int | None
    ) -> OrganisationRef:
        org = Organisation(
            slug=name_key(text, 200), name=text.strip()[:200], federation_id=federation_id
        )
        session.add(org)
        session.flush()
        self.created.append(f"organisation {text.strip()!r}")
        return self.remember_organisation(org)

    def create_list(self, session: Session, text: str) -> int:
        slug = name_key(text)
        item = MailingList(slug=slug, name=text.strip()[:200], double_opt_in=False)
        session.add(item)
        session.flush()
        self.lists[slug] = item.id
        self.list_slugs[item.id] = slug
        self.created.append(f"list {slug!r}")
        return item.id
