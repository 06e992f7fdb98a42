"""Segments: structured filters over subscribers, validated, saved as JSON, compiled to SQL.

A filter is `{"federation": ["fgtb"], "province": ["BE-WNA"], "not_language": ["nl"]}`:
values of one key are ORed, keys are ANDed, `not_<key>` excludes. It is compiled into
SQLAlchemy expressions with bound parameters: no SQL text from users, no string building.
Only active subscribers count; with a `list` key, only their confirmed subscriptions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from mailer.db.models import (
    Federation,
    MailingList,
    Organisation,
    Segment,
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
    Subscription,
    SubscriptionStatus,
)
from mailer.errors import Conflict, FilterError, NotFound
from mailer.subscribers.directory import Directory
from mailer.subscribers.filter_keys import BREAKDOWNS, FILTER_KEYS
from mailer.subscribers.geography import (
    Location,
    describe,
    find_arrondissement,
    find_province,
    find_region,
    resolve_location,
)

__all__ = [
    "BREAKDOWNS",
    "FILTER_KEYS",
    "Breakdown",
    "SegmentInfo",
    "count_segment",
    "create_segment",
    "delete_segment",
    "describe_filter",
    "get_segment",
    "list_segments",
    "normalise_filter",
    "recipients_query",
    "where_clause",
]

_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]{2})?$")


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    name: str
    filter: dict[str, list[str]]
    count: int  # -1 when the segment no longer resolves (see `problem`)
    problem: str = ""


@dataclass(frozen=True, slots=True)
class Breakdown:
    by: str
    total: int
    rows: list[tuple[str, int]]


def normalise_filter(session: Session, raw: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """Validate every value and return the canonical, storable filter (slugs and codes)."""
    directory = Directory.load(session)
    result: dict[str, list[str]] = {}
    for key, values in raw.items():
        base = key.removeprefix("not_")
        if base not in FILTER_KEYS:
            raise FilterError(f"--{key.replace('_', '-')}", "unknown filter")
        flag = f"--{key.replace('_', '-')}"
        canonical: list[str] = []
        for value in values:
            text = value.strip()
            if not text:
                raise FilterError(flag, "empty value")
            for item in _canonical(session, directory, base, text, flag):
                if item not in canonical:
                    canonical.append(item)
        if canonical:
            result[key] = canonical
    return result


def _canonical(session: Session, directory: Directory, key: str, text: str, flag: str) -> list[str]:
    """The stored form(s) of one filter value; sector and role may have several spellings."""
    if key in ("sector", "role"):
        column = Subscriber.sector if key == "sector" else Subscriber.role
        # Compared in Python: SQLite's lower() folds ASCII only ("Éducation").
        stored = session.scalars(select(column).where(column != "").distinct()).all()
        wanted = text.casefold()
        matches = sorted(value for value in stored if value.casefold() == wanted)
        if not matches:
            raise FilterError(flag, f"no subscriber has {key} {text!r}{_known(stored)}")
        return matches
    return [_canonical_one(session, directory, key, text, flag)]


def _canonical_one(session: Session, directory: Directory, key: str, text: str, flag: str) -> str:
    if key == "federation":
        fed = directory.federation(text)
        if fed is None:
            raise FilterError(
                flag, f"unknown federation {text!r}{_known(directory.federation_slugs.values())}"
            )
        return directory.federation_slugs[fed]
    if key == "organisation":
        org = directory.organisation(text)
        if org is None:
            raise FilterError(flag, f"unknown organisation {text!r}")
        return org.slug
    if key == "list":
        list_id = directory.mailing_list(text)
        if list_id is None:
            raise FilterError(flag, f"unknown list {text!r}{_known(directory.list_slugs.values())}")
        return directory.list_slugs[list_id]
    if key in ("region", "province", "arrondissement"):
        finder = {"region": find_region, "province": find_province,
                  "arrondissement": find_arrondissement}[key]  # fmt: skip
        place = finder(text)
        if place is None:
            try:
                resolve_location(**{key: text})
            except ValueError as exc:
                raise FilterError(flag, str(exc)) from None
            raise FilterError(flag, f"unknown {key} {text!r}")
        return place.code
    if key == "language":
        language = text.lower()
        if not _LANGUAGE.match(language):
            raise FilterError(flag, f"{text!r} is not a language code like fr, nl or fr-be")
        return language
    # tags are stored in lower case by the import; a tag must exist to be a valid filter
    tag = text.lower()
    if session.scalar(select(SubscriberTag.tag).where(SubscriberTag.tag == tag).limit(1)) is None:
        known = session.scalars(select(SubscriberTag.tag).distinct().limit(13)).all()
        raise FilterError(flag, f"no subscriber has tag {text!r}{_known(known)}")
    return tag


def _known(values: Any) -> str:
    names = sorted(str(v) for v in values)
    if not names:
        return ""
    return " (known: " + ", ".join(names[:12]) + (", …" if len(names) > 12 else "") + ")"


def _ids(session: Session, model: Any, slugs: list[str]) -> list[int]:
    ids = list(session.scalars(select(model.id).where(model.slug.in_(slugs))))
    if len(ids) != len(slugs):
        found = set(session.scalars(select(model.slug).where(model.slug.in_(slugs))))
        missing = [s for s in slugs if s not in found]
        raise NotFound(
            f"the segment refers to {model.__tablename__} {missing[0]!r}, which no longer exists"
        )
    return ids


def _condition(session: Session, key: str, values: list[str]) -> ColumnElement[bool]:
    if key == "federation":
        return Subscriber.federation_id.in_(_ids(session, Federation, values))
    if key == "organisation":
        return Subscriber.organisation_id.in_(_ids(session, Organisation, values))
    if key == "list":
        list_ids = _ids(session, MailingList, values)
        # Correlated to Subscriber only: a breakdown by list joins Subscription outside.
        return (
            select(Subscription.subscriber_id)
            .where(
                Subscription.subscriber_id == Subscriber.id,
                Subscription.list_id.in_(list_ids),
                Subscription.status == SubscriptionStatus.CONFIRMED,
            )
            .correlate(Subscriber)
            .exists()
        )
    if key == "tag":
        return (
            select(SubscriberTag.subscriber_id)
            .where(SubscriberTag.subscriber_id == Subscriber.id, SubscriberTag.tag.in_(values))
            .correlate(Subscriber)
            .exists()
        )
    column = {
        "sector": Subscriber.sector, "region": Subscriber.region, "province": Subscriber.province,
        "arrondissement": Subscriber.arrondissement, "language": Subscriber.language,
        "role": Subscriber.role,
    }[key]  # fmt: skip
    return column.in_(values)


def where_clause(session: Session, filter_: Mapping[str, list[str]]) -> ColumnElement[bool]:
    """The filter as one boolean expression over `Subscriber` (active subscribers only)."""
    clauses: list[ColumnElement[bool]] = [Subscriber.status == SubscriberStatus.ACTIVE]
    for key, values in filter_.items():
        if not values:
            continue
        base = key.removeprefix("not_")
        condition = _condition(session, base, list(values))
        if key.startswith("not_"):
            if base in ("federation", "organisation"):
                column = (
                    Subscriber.federation_id if base == "federation" else Subscriber.organisation_id
                )
                condition = or_(column.is_(None), ~condition)  # nobody's federation is not excluded
            else:
                condition = ~condition
        clauses.append(condition)
    return and_(*clauses)


def recipients_query(session: Session, filter_: Mapping[str, list[str]]) -> Select[int]:
    """`SELECT subscriber.id` of everyone the filter selects."""
    return select(Subscriber.id).where(where_clause(session, filter_))


def count_segment(
    session: Session, filter_: Mapping[str, list[str]], by: str | None = None
) -> Breakdown:
    """The number of recipients, and optionally a breakdown by one dimension."""
    condition = where_clause(session, filter_)
    total = session.scalar(select(func.count()).select_from(Subscriber).where(condition)) or 0
    if by is None:
        return Breakdown("", total, [])
    if by not in BREAKDOWNS:
        raise FilterError(
            "--by", f"cannot break down by {by!r} (choose from {', '.join(BREAKDOWNS)})"
        )
    return Breakdown(by, total, _breakdown(session, condition, by))


def _breakdown(session: Session, condition: ColumnElement[bool], by: str) -> list[tuple[str, int]]:
    if by == "federation":
        query = (
            select(Federation.name, func.count())
            .select_from(Subscriber)
            .outerjoin(Federation, Federation.id == Subscriber.federation_id)
            .where(condition)
            .group_by(Federation.name)
        )
    elif by == "organisation":
        query = (
            select(Organisation.name, func.count())
            .select_from(Subscriber)
            .outerjoin(Organisation, Organisation.id == Subscriber.organisation_id)
            .where(condition)
            .group_by(Organisation.name)
        )
    elif by == "tag":
        query = (
            select(SubscriberTag.tag, func.count())
            .select_from(Subscriber)
            .join(SubscriberTag, SubscriberTag.subscriber_id == Subscriber.id)
            .where(condition)
            .group_by(SubscriberTag.tag)
        )
    elif by == "list":
        query = (
            select(MailingList.slug, func.count())
            .select_from(Subscriber)
            .join(Subscription, Subscription.subscriber_id == Subscriber.id)
            .join(MailingList, MailingList.id == Subscription.list_id)
            .where(condition, Subscription.status == SubscriptionStatus.CONFIRMED)
            .group_by(MailingList.slug)
        )
    else:
        column = getattr(Subscriber, by)
        query = select(column, func.count()).where(condition).group_by(column)
    rows = [(_label(by, value), count) for value, count in session.execute(query)]
    return sorted(rows, key=lambda item: (-item[1], item[0]))


def _label(by: str, value: Any) -> str:
    if value in (None, ""):
        return "(none)"
    if by in ("region", "province", "arrondissement"):
        names = describe(Location(**{by: str(value)}))
        return names[("region", "province", "arrondissement").index(by)] or str(value)
    return str(value)


def create_segment(session: Session, name: str, filter_: dict[str, list[str]]) -> SegmentInfo:
    name = name.strip()
    if not name or len(name) > 100:
        raise Conflict("a segment needs a name of 1 to 100 characters")
    if session.scalar(select(Segment.id).where(Segment.name == name)) is not None:
        raise Conflict(f"segment {name!r} already exists")
    if not filter_:
        raise FilterError("(filter)", "a segment needs at least one filter flag, e.g. --federation")
    session.add(Segment(name=name, filter=filter_))
    session.flush()
    return SegmentInfo(name, filter_, count_segment(session, filter_).total)


def get_segment(session: Session, name: str) -> SegmentInfo:
    segment = session.scalar(select(Segment).where(Segment.name == name))
    if segment is None:
        segment = session.scalar(select(Segment).where(func.lower(Segment.name) == name.lower()))
    if segment is None:
        raise NotFound(f"no segment {name!r} (see `mailer segments list`)")
    filter_ = {k: list(v) for k, v in segment.filter.items()}
    return SegmentInfo(segment.name, filter_, count_segment(session, filter_).total)


def list_segments(session: Session) -> list[SegmentInfo]:
    """Every saved segment with its count; one that no longer resolves gets its problem."""
    result = []
    for segment in session.scalars(select(Segment).order_by(Segment.name)):
        filter_ = {k: list(v) for k, v in segment.filter.items()}
        try:
            result.append(SegmentInfo(segment.name, filter_, count_segment(session, filter_).total))
        except NotFound as exc:
            result.append(SegmentInfo(segment.name, filter_, -1, problem=str(exc)))
    return result


def delete_segment(session: Session, name: str) -> None:
    segment = session.scalar(select(Segment).where(Segment.name == name))
    if segment is None:
        raise NotFound(f"no segment {name!r} (see `mailer segments list`)")
    session.delete(segment)


def describe_filter(filter_: Mapping[str, list[str]]) -> str:
    """A readable form: 'federation = a, b AND province = Namur AND NOT language = nl'."""
    parts = []
    for key, values in filter_.items():
        base = key.removeprefix("not_")
        shown = ", ".join(_label(base, value) for value in values)
        parts.append(f"{'NOT ' if key.startswith('not_') else ''}{base} = {shown}")
    return " AND ".join(parts) or "(all active subscribers)"
