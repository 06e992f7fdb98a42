"""`mailer subscribers import`: a member file into subscribers and subscriptions, in batches.

Per batch: rows validated without queries, duplicates folded, four look-ups (subscribers,
their tags, their subscriptions, suppressions), then bulk inserts and updates. Staff imports
count as confirmed consent with the file as source. Nobody who unsubscribed, bounced hard or
complained is ever re-subscribed: they are reported instead.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailer.db.bulk import bulk_insert, one_of
from mailer.db.models import (
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from mailer.domain import ImportReport, RowProblem
from mailer.errors import NotFound
from mailer.subscribers.csvfile import CsvSource, open_csv
from mailer.subscribers.directory import Directory
from mailer.subscribers.emails import email_hash
from mailer.subscribers.rows import (
    SUBSCRIBER_ALIASES,
    RowParser,
    RowRejected,
    SubscriberRow,
    federation_conflict,
)

__all__ = ["ImportOptions", "import_subscribers", "read_subscriber_file"]

BATCH = 5000
# The tables themselves, for Core statements (see `_store`).
subscriber_table = cast(Table, Subscriber.__table__)
tag_table = cast(Table, SubscriberTag.__table__)
subscription_table = cast(Table, Subscription.__table__)
_PROFILE = (
    "first_name", "last_name", "language", "organisation_id", "federation_id", "sector",
    "region", "province", "arrondissement", "role",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ImportOptions:
    list_slug: str | None = None
    strict: bool = False
    dry_run: bool = False
    create_missing: bool = False
    batch_size: int = BATCH


def read_subscriber_file(path: Path) -> CsvSource:
    return open_csv(path, aliases=SUBSCRIBER_ALIASES, required=("email",))


def import_subscribers(
    sessions: sessionmaker[Session],
    source: CsvSource,
    options: ImportOptions,
    *,
    on_problem: Callable[[RowProblem], None] = lambda _: None,
    on_progress: Callable[[int], None] = lambda _: None,
    now: dt.datetime | None = None,
) -> ImportReport:
    """Import `source`. Without --strict each batch commits on its own; with --strict or
    --dry-run the whole import is one transaction, rolled back on a rejected row or at the end."""
    report = ImportReport()
    moment = now or dt.datetime.now(dt.UTC)
    consent_source = f"import:{source.path.name}"[:200]
    one_transaction = options.strict or options.dry_run
    session = sessions()
    try:
        directory = Directory.load(session)
        extra_lists: list[int] = []
        if options.list_slug:
            list_id = directory.mailing_list(options.list_slug)
            if list_id is None:
                raise NotFound(f"--list: no list {options.list_slug!r} (see `mailer lists list`)")
            extra_lists.append(list_id)
        create = session if options.create_missing else None
        batches = _batches(
            source, directory, extra_lists, create, report, on_problem, options.batch_size
        )
        for batch in batches:
            if not (options.strict and report.rejected):
                _store(session, directory, batch, report, on_problem, moment, consent_source)
                if not one_transaction:
                    session.commit()
            on_progress(report.rows)
        report.created = list(directory.created)
        if options.dry_run or (options.strict and report.rejected):
            session.rollback()
            report.stored = False
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    return report


def _batches(
    source: CsvSource,
    directory: Directory,
    extra_lists: list[int],
    create: Session | None,
    report: ImportReport,
    on_problem: Callable[[RowProblem], None],
    size: int,
) -> Iterator[list[SubscriberRow]]:
    """Valid rows in batches, duplicates within a batch folded into the first occurrence."""
    batch: dict[str, SubscriberRow] = {}
    parser = RowParser(source.columns, directory, extra_lists=extra_lists, create_in=create)
    for line, fields in source.records():
        report.rows += 1
        try:
            row = parser.parse(line, fields)
        except RowRejected as exc:
            report.rejected += 1
            on_problem(RowProblem(line, exc.column, exc.reason, tuple(fields)))
            continue
        row.fields = tuple(fields)
        earlier = batch.get(row.email)
        if earlier is not None:
            conflict = federation_conflict(earlier.organisation_id, row, directory)
            if conflict is not None:
                report.rejected += 1
                on_problem(RowProblem(line, conflict.column, conflict.reason, tuple(fields)))
                continue
            earlier.merge(row)
            report.merged_duplicates += 1
        else:
            batch[row.email] = row
        if len(batch) >= size:
            yield list(batch.values())
            batch = {}
    if batch:
        yield list(batch.values())


def _store(
    session: Session,
    directory: Directory,
    rows: list[SubscriberRow],
    report: ImportReport,
    on_problem: Callable[[RowProblem], None],
    moment: dt.datetime,
    consent_source: str,
) -> None:
    connection = session.connection()
    emails = [row.email for row in rows]
    existing = {
        record.email: record
        for record in session.execute(
            select(
                Subscriber.id, Subscriber.email, Subscriber.status, Subscriber.attributes,
                *(getattr(Subscriber, name) for name in _PROFILE),
            ).where(one_of(connection, Subscriber.email, emails))
        )
    }  # fmt: skip
    ids = [record.id for record in existing.values()]
    tags: dict[int, set[str]] = {}
    subscriptions: dict[int, dict[int, str]] = {}
    if ids:
        for subscriber_id, tag in session.execute(
            select(SubscriberTag.subscriber_id, SubscriberTag.tag).where(
                one_of(connection, SubscriberTag.subscriber_id, ids)
            )
        ):
            tags.setdefault(subscriber_id, set()).add(tag)
        for subscriber_id, list_id, status in session.execute(
            select(Subscription.subscriber_id, Subscription.list_id, Subscription.status).where(
                one_of(connection, Subscription.subscriber_id, ids)
            )
        ):
            subscriptions.setdefault(subscriber_id, {})[list_id] = str(status)
    hashes = {email_hash(email): email for email in emails}
    suppressed = {
        hashes[h]
        for h in session.scalars(
            select(Suppression.email_hash).where(
                one_of(connection, Suppression.email_hash, list(hashes))
            )
        )
    }

    new_rows: list[SubscriberRow] = []
    updates: list[dict[str, object]] = []
    new_tags: list[tuple[int, str]] = []
    new_subscriptions: list[tuple[object, ...]] = []
    confirmations: list[dict[str, object]] = []
    for row in rows:
        record = existing.get(row.email)
        if record is None:
            if row.email in suppressed:
                _refuse(row, "the address is suppressed (bounced, complained or was erased)",
                        report, on_problem)  # fmt: skip
            else:
                new_rows.append(row)
            continue
        conflict = federation_conflict(record.organisation_id, row, directory)
        if conflict is not None:
            report.rejected += 1
            on_problem(RowProblem(row.line, conflict.column, conflict.reason, row.fields))
            continue
        changes = _changes(record, row)
        added_tags = row.tags - tags.get(record.id, set())
        if changes or added_tags:
            report.updated += 1
            if changes:
                updates.append({"b_id": record.id, **_profile(record, changes)})
            new_tags.extend((record.id, tag) for tag in sorted(added_tags))
        if record.status != SubscriberStatus.ACTIVE or row.email in suppressed:
            if row.lists:
                _refuse(row, f"the subscriber is {record.status}: not re-subscribed", report,
                        on_problem)  # fmt: skip
            elif not (changes or added_tags):
                report.unchanged += 1
            continue
        current = subscriptions.get(record.id, {})
        refused = [lid for lid in row.lists if current.get(lid) == SubscriptionStatus.UNSUBSCRIBED]
        for list_id in sorted(row.lists):
            state = current.get(list_id)
            if state is None:
                new_subscriptions.append(_subscription(record.id, list_id, moment, consent_source))
            elif state == SubscriptionStatus.PENDING:
                confirmations.append({"b_sub": record.id, "b_list": list_id})
        if refused:
            _refuse(row, "unsubscribed from a list in this row: not re-subscribed to it", report,
                    on_problem)  # fmt: skip
        elif not (changes or added_tags):
            if any(current.get(lid) is None or current.get(lid) == SubscriptionStatus.PENDING
                   for lid in row.lists):  # fmt: skip
                report.updated += 1
            else:
                report.unchanged += 1

    # Core statements and bulk inserts on the session's connection: the ORM's bulk path (and
    # RETURNING, which SQLite honours only row by row) costs more than the rest of the import.
    if new_rows:
        new_rows.sort(key=lambda row: row.email)  # index pages filled in order
        bulk_insert(
            connection,
            subscriber_table,
            _NEW_SUBSCRIBER_COLUMNS,
            [_new_subscriber(row) for row in new_rows],
        )
        new_ids = dict(
            connection.execute(
                select(Subscriber.email, Subscriber.id).where(
                    one_of(connection, Subscriber.email, [row.email for row in new_rows])
                )
            ).all()
        )
        for row in new_rows:
            subscriber_id = new_ids[row.email]
            for tag in row.tags:
                new_tags.append((subscriber_id, tag))
            for list_id in row.lists:
                new_subscriptions.append(
                    (subscriber_id, list_id, _CONFIRMED, moment, consent_source, "")
                )
        report.inserted += len(new_rows)
    if updates:
        table = subscriber_table
        connection.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values({name: bindparam(name) for name in (*_PROFILE, "attributes")})
            .values(updated_at=moment),
            updates,
        )
    bulk_insert(connection, tag_table, ("subscriber_id", "tag"), new_tags)
    bulk_insert(connection, subscription_table, _SUBSCRIPTION_COLUMNS, new_subscriptions)
    if confirmations:
        table = subscription_table
        connection.execute(
            update(table)
            .where(table.c.subscriber_id == bindparam("b_sub"))
            .where(table.c.list_id == bindparam("b_list"))
            .values(
                status=SubscriptionStatus.CONFIRMED.value,
                consent_at=moment,
                consent_source=consent_source,
                updated_at=moment,
            ),
            confirmations,
        )


_LOCATION = ("region", "province", "arrondissement")


def _refuse(
    row: SubscriberRow, reason: str, report: ImportReport, on_problem: Callable[[RowProblem], None]
) -> None:
    report.not_resubscribed += 1
    on_problem(RowProblem(row.line, "email", reason, row.fields, rejected=False))


def _changes(record: object, row: SubscriberRow) -> dict[str, object]:
    changes: dict[str, object] = {}
    for name in _PROFILE:
        if name in _LOCATION:
            continue
        value = getattr(row, name)
        if value not in ("", None) and value != getattr(record, name):
            changes[name] = value
    if row.has_location:  # a new place replaces the stored one as a whole
        for name in _LOCATION:
            if getattr(row, name) != getattr(record, name):
                changes.update({n: getattr(row, n) for n in _LOCATION})
                break
    attributes = dict(getattr(record, "attributes") or {})  # noqa: B009
    merged = {**attributes, **row.attributes}
    if merged != attributes:
        changes["attributes"] = merged
    return changes


def _profile(record: object, changes: dict[str, object]) -> dict[str, object]:
    profile = {name: getattr(record, name) for name in _PROFILE}
    profile["attributes"] = getattr(record, "attributes") or {}  # noqa: B009
    profile.update(changes)
    return profile


_ACTIVE = SubscriberStatus.ACTIVE.value
_CONFIRMED = SubscriptionStatus.CONFIRMED.value
_NEW_SUBSCRIBER_COLUMNS = (*_PROFILE, "email", "attributes", "status")
_SUBSCRIPTION_COLUMNS = (
    "subscriber_id", "list_id", "status", "consent_at", "consent_source", "consent_ip",
)  # fmt: skip


_NO_ATTRIBUTES: dict[str, str] = {}  # one object for all: bulk_insert converts it once


def _new_subscriber(row: SubscriberRow) -> tuple[object, ...]:
    # In _NEW_SUBSCRIBER_COLUMNS order; created_at / updated_at come from the server default.
    return (
        row.first_name, row.last_name, row.language, row.organisation_id, row.federation_id,
        row.sector, row.region, row.province, row.arrondissement, row.role, row.email,
        row.attributes or _NO_ATTRIBUTES, _ACTIVE,
    )  # fmt: skip


def _subscription(
    subscriber_id: int, list_id: int, moment: dt.datetime, source: str
) -> tuple[object, ...]:
    return (subscriber_id, list_id, _CONFIRMED, moment, source, "")
