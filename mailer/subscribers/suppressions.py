"""Staff's view of the suppression list: list, add by hand, remove (a mistake, a fixed mailbox).

Adding goes through `privacy.suppress`, like bounces and complaints. Removing deletes the
suppression (found by the address's hash) and sets a blocklisted subscriber back to active, but
re-subscribes them to nothing: the lists they were unsubscribed from stay so.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mailer.db.models import Subscriber, SubscriberStatus, Suppression
from mailer.errors import MailerError, NotFound
from mailer.subscribers.emails import email_hash, normalise_email
from mailer.subscribers.privacy import suppress

__all__ = ["SuppressionInfo", "add_suppression", "list_suppressions", "remove_suppression"]


@dataclass(frozen=True, slots=True)
class SuppressionInfo:
    email: str  # "(erased)" once the person was forgotten: only the hash is kept
    reason: str
    detail: str
    since: dt.datetime | None


def _address(text: str) -> str:
    address = normalise_email(text)
    if address is None:
        raise MailerError(f"{text!r} is not a valid e-mail address")
    return address


def list_suppressions(session: Session, *, limit: int | None = None) -> list[SuppressionInfo]:
    query = select(Suppression).order_by(Suppression.created_at.desc(), Suppression.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [
        SuppressionInfo(row.email or "(erased)", row.reason, row.detail, row.created_at)
        for row in session.scalars(query)
    ]


def add_suppression(session: Session, text: str, reason: str = "staff", detail: str = "") -> bool:
    """Suppress an address; False when it already was (its reason is kept)."""
    address = _address(text)
    known = session.scalar(
        select(Suppression.id).where(Suppression.email_hash == email_hash(address))
    )
    suppress(session, address, reason[:32] or "staff", detail or "added by staff")
    return known is None


def remove_suppression(session: Session, text: str) -> bool:
    """Remove the suppression of an address; return whether a blocklisted subscriber became
    active again. `NotFound` when the address is not suppressed."""
    address = _address(text)
    gone = session.execute(delete(Suppression).where(Suppression.email_hash == email_hash(address)))
    if not getattr(gone, "rowcount", 0):
        raise NotFound(f"{address} is not suppressed")
    result = session.execute(
        update(Subscriber)
        .where(Subscriber.email == address, Subscriber.status == SubscriberStatus.BLOCKLISTED)
        .values(status=SubscriberStatus.ACTIVE, updated_at=dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
