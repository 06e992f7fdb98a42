"""`mailer subscribers export`: the selected subscribers in the import's own columns, so that
exporting and importing again changes nothing."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailer.db.models import Subscriber, SubscriberTag, Subscription, SubscriptionStatus
from mailer.subscribers.directory import Directory
from mailer.subscribers.geography import Location, describe
from mailer.subscribers.rows import COLUMNS
from mailer.subscribers.segments import where_clause

__all__ = ["export_subscribers"]

_CHUNK = 1000


def export_subscribers(
    session: Session,
    filter_: Mapping[str, list[str]],
    out: TextIO,
    *,
    delimiter: str = ",",
    on_progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Write the subscribers selected by `filter_` to `out`; return how many were written."""
    directory = Directory.load(session)
    condition = where_clause(session, filter_)
    ids = select(Subscriber.id).where(condition).order_by(Subscriber.id)
    attribute_names: set[str] = set()
    for attributes in session.scalars(select(Subscriber.attributes).where(condition)):
        attribute_names.update((attributes or {}).keys())
    extra = sorted(a for a in attribute_names if a not in COLUMNS)
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    writer.writerow([*COLUMNS, *extra])
    selected = list(session.scalars(ids))  # ids only: the rows are read a chunk at a time
    written = 0
    for chunk in _chunks(selected):
        for row in _rows(session, directory, chunk, extra):
            writer.writerow(row)
            written += 1
        on_progress(written, len(selected))
    return written


def _chunks(ids: Iterable[int]) -> Iterator[list[int]]:
    chunk: list[int] = []
    for subscriber_id in ids:
        chunk.append(subscriber_id)
        if len(chunk) >= _CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rows(
    session: Session, directory: Directory, ids: list[int], extra: list[str]
) -> Iterator[list[str]]:
    tags: dict[int, list[str]] = {}
    for subscriber_id, tag in session.execute(
        select(SubscriberTag.subscriber_id, SubscriberTag.tag)
        .where(SubscriberTag.subscriber_id.in_(ids))
        .order_by(SubscriberTag.tag)
    ):
        tags.setdefault(subscriber_id, []).append(tag)
    lists: dict[int, list[str]] = {}
    for subscriber_id, list_id in session.execute(
        select(Subscription.subscriber_id, Subscription.list_id).where(
            Subscription.subscriber_id.in_(ids),
            Subscription.status == SubscriptionStatus.CONFIRMED,
        )
    ):
        lists.setdefault(subscriber_id, []).append(directory.list_slugs[list_id])
    organisations = {ref.id: ref.name for ref in directory.organisations.values()}
    for person in session.scalars(
        select(Subscriber).where(Subscriber.id.in_(ids)).order_by(Subscriber.id)
    ):
        region, province, arrondissement = describe(
            Location(person.region or None, person.province or None, person.arrondissement or None)
        )
        attributes = person.attributes or {}
        yield [
            person.email,
            person.first_name,
            person.last_name,
            person.language,
            organisations.get(person.organisation_id or 0, ""),
            directory.federation_slugs.get(person.federation_id or 0, ""),
            person.sector,
            region,
            province,
            arrondissement,
            person.role,
            ";".join(tags.get(person.id, [])),
            ";".join(sorted(lists.get(person.id, []))),
            *(str(attributes.get(name, "")) for name in extra),
        ]
