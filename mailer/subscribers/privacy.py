"""Personal data: everything stored about a person (`show`), and erasure (`forget`) that keeps
only a hash so that the address is never mailed again."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from mailer.db.models import (
    Bounce,
    Delivery,
    Federation,
    MailingList,
    Organisation,
    Subscriber,
    SubscriberStatus,
    SubscriberTag,
    Subscription,
    Suppression,
)
from mailer.errors import NotFound
from mailer.subscribers.emails import email_hash, normalise_email

__all__ = ["forget_subscriber", "show_subscriber", "suppress"]


def _iso(moment: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC (the columns read back aware datetimes: `db.models.UtcDateTime`)."""
    if moment is None:
        return None
    return moment.astimezone(dt.UTC).isoformat()


def _address(text: str) -> str:
    address = normalise_email(text)
    if address is None:
        raise NotFound(f"{text!r} is not a valid e-mail address")
    return address


def show_subscriber(session: Session, text: str) -> dict[str, Any]:
    """Everything stored about one person, as JSON-ready data."""
    address = _address(text)
    person = session.scalar(select(Subscriber).where(Subscriber.email == address))
    suppression = session.scalar(
        select(Suppression).where(Suppression.email_hash == email_hash(address))
    )
    if person is None and suppression is None:
        raise NotFound(f"nothing is stored about {address}")
    data: dict[str, Any] = {"email": address}
    if person is not None:
        organisation = (
            session.get(Organisation, person.organisation_id) if person.organisation_id else None
        )
        federation = session.get(Federation, person.federation_id) if person.federation_id else None
        data["subscriber"] = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "language": person.language,
            "organisation": organisation.name if organisation else None,
            "federation": federation.slug if federation else None,
            "sector": person.sector,
            "region": person.region,
            "province": person.province,
            "arrondissement": person.arrondissement,
            "role": person.role,
            "tags": sorted(
                session.scalars(
                    select(SubscriberTag.tag).where(SubscriberTag.subscriber_id == person.id)
                )
            ),
            "attributes": person.attributes or {},
            "status": str(person.status),
            "created_at": _iso(person.created_at),
            "updated_at": _iso(person.updated_at),
        }
        data["subscriptions"] = [
            {
                "list": slug,
                "status": str(sub.status),
                "consent_at": _iso(sub.consent_at),
                "consent_source": sub.consent_source,
                "consent_ip": sub.consent_ip or None,
                "unsubscribed_at": _iso(sub.unsubscribed_at),
            }
            for sub, slug in session.execute(
                select(Subscription, MailingList.slug)
                .join(MailingList, MailingList.id == Subscription.list_id)
                .where(Subscription.subscriber_id == person.id)
                .order_by(MailingList.slug)
            )
        ]
    deliveries = [
        {
            "campaign": campaign_id,
            "status": str(status),
            "sent_at": _iso(sent_at),
            "message_id": message_id or None,
        }
        for campaign_id, status, sent_at, message_id in session.execute(
            select(Delivery.campaign_id, Delivery.status, Delivery.sent_at, Delivery.message_id)
            .where(Delivery.email == address)
            .order_by(Delivery.campaign_id)
        )
    ]
    bounces = [
        {"kind": str(kind), "status": status, "received_at": _iso(received_at)}
        for kind, status, received_at in session.execute(
            select(Bounce.kind, Bounce.status, Bounce.received_at)
            .where(Bounce.email == address)
            .order_by(Bounce.received_at)
        )
    ]
    if deliveries:  # the campaigns that were sent to this address
        data["deliveries"] = deliveries
    if bounces:
        data["bounces"] = bounces
    if suppression is not None:
        data["suppression"] = {
            "reason": suppression.reason,
            "detail": suppression.detail,
            "since": _iso(suppression.created_at),
        }
    return data


def suppress(
    session: Session, address: str, reason: str, detail: str = "", *, keep_address: bool = True
) -> None:
    """Never mail `address` again, whatever list; the subscriber (if any) is blocklisted."""
    digest = email_hash(address)
    existing = session.scalar(select(Suppression).where(Suppression.email_hash == digest))
    if existing is None:
        session.add(
            Suppression(
                email_hash=digest,
                email=address if keep_address else None,
                reason=reason,
                detail=detail,
            )
        )
    elif not keep_address:
        existing.email = None
    session.execute(
        update(Subscriber)
        .where(Subscriber.email == address)
        .values(status=SubscriberStatus.BLOCKLISTED, updated_at=dt.datetime.now(dt.UTC))
        .execution_options(synchronize_session=False)
    )


def forget_subscriber(session: Session, text: str) -> bool:
    """Erase a person's data, keeping a hashed suppression; return whether anything was erased."""
    address = _address(text)
    person_id = session.scalar(select(Subscriber.id).where(Subscriber.email == address))
    suppress(session, address, "forgotten", "erased on request", keep_address=False)
    # Campaign statistics keep their counts; the address leaves them.
    erased = "erased"
    session.execute(
        update(Delivery)
        .where(Delivery.email == address)
        .values(email=erased, subscriber_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Bounce)
        .where(Bounce.email == address)
        .values(email=erased, subscriber_id=None, diagnostic="")
        .execution_options(synchronize_session=False)
    )
    if person_id is None:
        return False
    session.execute(delete(SubscriberTag).where(SubscriberTag.subscriber_id == person_id))
    session.execute(delete(Subscription).where(Subscription.subscriber_id == person_id))
    session.execute(delete(Subscriber).where(Subscriber.id == person_id))
    return True
