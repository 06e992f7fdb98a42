"""The suppression policy: what one bounce does to an address, whatever its source.

`record_bounce` stores a `Bounce` row and applies the policy in the caller's transaction:

- hard → the address is suppressed at once (`privacy.suppress`, reason "hard bounce");
- complaint → every subscription of the subscriber is unsubscribed and the address is
  suppressed (reason "complaint");
- soft → the address is suppressed (reason "soft bounces") once it has `soft_limit` soft
  bounces from distinct campaigns within `soft_days` (a bounce matched to no campaign counts
  as one event of its own).

The same report arriving twice (the same delivery, kind and status; without a delivery the
same address, kind, status and text) is stored and counted once. The send engine's SMTP-time
refusals, `mailer bounces ingest` and `mailer bounces serve` all come through here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from mailer.bounces.model import BounceKind, BounceReport
from mailer.config import BouncesConfig
from mailer.db.models import Bounce, Subscriber, Subscription, SubscriptionStatus
from mailer.subscribers.emails import normalise_email
from mailer.subscribers.privacy import suppress

__all__ = ["BounceEvent", "BounceInfo", "BouncePolicy", "Recorded", "list_bounces", "record_bounce"]


@dataclass(frozen=True, slots=True)
class BouncePolicy:
    """How many soft bounces, from how many distinct campaigns, in how many days, suppress."""

    soft_limit: int = 3
    soft_days: int = 30

    @classmethod
    def from_config(cls, config: BouncesConfig) -> BouncePolicy:
        return cls(soft_limit=config.soft_limit, soft_days=config.soft_days)


@dataclass(frozen=True, slots=True)
class BounceEvent:
    """The fields of one bounce to record (a parsed report, or the relay's SMTP reply)."""

    kind: BounceKind
    status: str = ""
    reason: str = ""
    diagnostic: str = ""
    source: str = "smtp"  # smtp | dsn | arf | heuristic

    @classmethod
    def from_report(cls, report: BounceReport) -> BounceEvent:
        return cls(report.kind, report.status, report.reason, report.diagnostic, report.source)


@dataclass(frozen=True, slots=True)
class Recorded:
    """What `record_bounce` did."""

    stored: bool  # False: the same bounce was already recorded (nothing done again)
    suppressed: bool  # the address was suppressed by this bounce
    soft_count: int = 0  # for a soft bounce: the distinct campaigns (events) in the window


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def record_bounce(
    session: Session,
    *,
    delivery_id: int | None,
    campaign_id: int | None,
    subscriber_id: int | None,
    email: str,
    report: BounceReport | BounceEvent,
    now: dt.datetime | None = None,
    policy: BouncePolicy | None = None,
) -> Recorded:
    """Store one bounce and apply the policy (in the caller's transaction)."""
    event = BounceEvent.from_report(report) if isinstance(report, BounceReport) else report
    rules = policy or BouncePolicy()
    moment = _utc(now or dt.datetime.now(dt.UTC))
    address = email.strip().lower()
    if subscriber_id is not None and normalise_email(address) is None:
        address = (
            session.scalar(select(Subscriber.email).where(Subscriber.id == subscriber_id))
            or address
        )
    elif subscriber_id is None and address:
        subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.email == address))
    status = event.status[:16]
    reason = event.reason[:40]
    diagnostic = event.diagnostic[:2000]
    if _already_recorded(session, delivery_id, address, event.kind, status, diagnostic):
        return Recorded(stored=False, suppressed=False)
    session.add(
        Bounce(
            delivery_id=delivery_id,
            campaign_id=campaign_id,
            subscriber_id=subscriber_id,
            email=address,
            kind=event.kind,
            status=status,
            reason=reason,
            diagnostic=diagnostic,
            source=event.source[:16],
            received_at=moment,
        )
    )
    session.flush()
    # Only a real address is suppressed: a delivery of an erased person says "erased".
    if normalise_email(address) is None:
        address = ""
    where = f" (campaign {campaign_id})" if campaign_id is not None else ""
    if event.kind == "hard":
        if address:
            suppress(session, address, "hard bounce", _detail(status, reason, diagnostic) + where)
        return Recorded(stored=True, suppressed=bool(address))
    if event.kind == "complaint":
        if subscriber_id is not None:
            session.execute(
                update(Subscription)
                .where(
                    Subscription.subscriber_id == subscriber_id,
                    Subscription.status != SubscriptionStatus.UNSUBSCRIBED,
                )
                .values(
                    status=SubscriptionStatus.UNSUBSCRIBED,
                    unsubscribed_at=moment,
                    updated_at=moment,
                )
                .execution_options(synchronize_session=False)
            )
        if address:
            suppress(session, address, "complaint", f"feedback report ({reason}){where}")
        return Recorded(stored=True, suppressed=bool(address))
    count = _soft_events(
        session, subscriber_id, address, moment - dt.timedelta(days=rules.soft_days)
    )
    if count >= rules.soft_limit and address:
        detail = (
            f"{count} soft bounces from distinct campaigns in {rules.soft_days} days; last: "
            + _detail(status, reason, diagnostic)
        )
        suppress(session, address, "soft bounces", detail)
        return Recorded(stored=True, suppressed=True, soft_count=count)
    return Recorded(stored=True, suppressed=False, soft_count=count)


def _already_recorded(
    session: Session,
    delivery_id: int | None,
    address: str,
    kind: str,
    status: str,
    diagnostic: str,
) -> bool:
    query = select(Bounce.id).where(Bounce.kind == kind, Bounce.status == status)
    if delivery_id is not None:
        query = query.where(Bounce.delivery_id == delivery_id)
    else:
        query = query.where(
            Bounce.delivery_id.is_(None), Bounce.email == address, Bounce.diagnostic == diagnostic
        )
    return session.scalar(query.limit(1)) is not None


def _soft_events(
    session: Session, subscriber_id: int | None, address: str, since: dt.datetime
) -> int:
    """Distinct campaigns with a soft bounce since `since`, plus soft bounces with no campaign."""
    who = (
        Bounce.subscriber_id == subscriber_id
        if subscriber_id is not None
        else Bounce.email == address
    )
    recent = and_(who, Bounce.kind == "soft", Bounce.received_at >= since)
    campaigns = session.scalar(
        select(func.count(func.distinct(Bounce.campaign_id))).where(
            recent, Bounce.campaign_id.is_not(None)
        )
    )
    loose = session.scalar(select(func.count()).where(recent, Bounce.campaign_id.is_(None)))
    return int(campaigns or 0) + int(loose or 0)


def _detail(status: str, reason: str, diagnostic: str) -> str:
    text = " ".join(part for part in (status, reason) if part)
    if diagnostic:
        short = diagnostic if len(diagnostic) <= 200 else diagnostic[:199] + "…"
        text = f"{text}: {short}" if text else short
    return text


@dataclass(frozen=True, slots=True)
class BounceInfo:
    """A recorded bounce, for `mailer bounces list`."""

    received_at: dt.datetime
    email: str
    kind: str
    status: str
    reason: str
    source: str
    campaign_id: int | None
    diagnostic: str


def list_bounces(
    session: Session, *, campaign_id: int | None = None, limit: int = 50
) -> list[BounceInfo]:
    """The latest bounces first (of one campaign, with `campaign_id`)."""
    query = select(Bounce).order_by(Bounce.received_at.desc(), Bounce.id.desc()).limit(limit)
    if campaign_id is not None:
        query = query.where(Bounce.campaign_id == campaign_id)
    return [
        BounceInfo(
            row.received_at,
            row.email,
            str(row.kind),
            row.status,
            row.reason,
            row.source,
            row.campaign_id,
            row.diagnostic,
        )
        for row in session.scalars(query)
    ]
