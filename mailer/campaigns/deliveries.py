"""The send engine's side of the database: claim deliveries with a lease, settle outcomes.

Each function is one short transaction; none is open while a message is on the wire.
Claims lock rows with `FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers (processes,
hosts) share a campaign without taking the same delivery; SQLite has one writer at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from mailer.bounces.classify import classify
from mailer.bounces.policy import BounceEvent, BouncePolicy, record_bounce
from mailer.campaigns.lifecycle import finish_if_done, pause_campaign
from mailer.db.models import (
    BounceKind,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
)
from mailer.domain import DeliveryToSend, Outcome
from mailer.errors import Conflict

__all__ = ["Claim", "DeliveryStore"]

_D = DeliveryStatus


@dataclass(frozen=True, slots=True)
class Claim:
    """What a claim found: deliveries to send now, or why there are none."""

    deliveries: list[DeliveryToSend]
    campaign_status: str  # when not "sending", the worker stops
    skipped: int = 0  # unsubscribed or suppressed since the snapshot
    wait_until: dt.datetime | None = None  # nothing due before then (deferred or leased)
    done: bool = False  # nothing left at all: the campaign is (now) sent


class DeliveryStore:
    """Claims and settles the deliveries of one campaign for one worker (`owner`)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        campaign_id: int,
        *,
        owner: str,
        lease_seconds: int,
        policy: BouncePolicy | None = None,
    ) -> None:
        self.sessions = sessions
        self.policy = policy or BouncePolicy()
        self.campaign_id = campaign_id
        self.owner = owner
        self.lease = dt.timedelta(seconds=lease_seconds)

    def claim(self, limit: int, *, now: dt.datetime | None = None) -> Claim:
        moment = now or dt.datetime.now(dt.UTC)
        with self.sessions.begin() as session:
            status, list_id = session.execute(
                select(Campaign.status, Campaign.list_id).where(Campaign.id == self.campaign_id)
            ).one()
            if status != CampaignStatus.SENDING:
                return Claim([], str(status))
            ids = self._claimable(session, limit, moment)
            if not ids:
                return self._nothing_due(session, moment)
            session.execute(
                update(Delivery)
                .where(Delivery.id.in_(ids))
                .values(
                    status=_D.SENDING,
                    lease_owner=self.owner,
                    lease_until=moment + self.lease,
                    updated_at=moment,
                )
                .execution_options(synchronize_session=False)
            )
            rows = session.execute(
                select(
                    Delivery.id,
                    Delivery.subscriber_id,
                    Delivery.email,
                    Delivery.attempts,
                    Subscriber.first_name,
                    Subscriber.last_name,
                    Subscriber.status,
                    Subscription.status,
                )
                .select_from(Delivery)
                .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
                .outerjoin(
                    Subscription,
                    (Subscription.subscriber_id == Delivery.subscriber_id)
                    & (Subscription.list_id == list_id),
                )
                .where(Delivery.id.in_(ids))
                .order_by(Delivery.id)
            ).all()
            ready: list[DeliveryToSend] = []
            gone: list[int] = []
            for (
                delivery_id,
                subscriber_id,
                email,
                attempts,
                first,
                last,
                person_status,
                subscription_status,
            ) in rows:
                # Honour what happened since the snapshot: unsubscribed, suppressed, erased.
                if (
                    subscriber_id is None
                    or person_status != SubscriberStatus.ACTIVE
                    or subscription_status != SubscriptionStatus.CONFIRMED
                ):
                    gone.append(delivery_id)
                    continue
                ready.append(
                    DeliveryToSend(
                        delivery_id, subscriber_id, email, first or "", last or "", attempts
                    )
                )
            if gone:
                session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(gone))
                    .values(
                        status=_D.SKIPPED,
                        lease_owner="",
                        lease_until=None,
                        updated_at=moment,
                        smtp_response="unsubscribed or suppressed after the snapshot",
                    )
                    .execution_options(synchronize_session=False)
                )
            return Claim(ready, CampaignStatus.SENDING.value, skipped=len(gone))

    def _claimable(self, session: Session, limit: int, moment: dt.datetime) -> list[int]:
        """Queued first, then deferred ones that are due, then leases that ran out. One query
        per status, each a range of the (campaign_id, status, id) index: an OR of the three
        would read every delivery of the campaign on each claim."""
        conditions = (
            Delivery.status == _D.QUEUED,
            (Delivery.status == _D.DEFERRED) & (Delivery.next_attempt_at <= moment),
            # A lost worker's: its lease ran out. Never this worker's own, which it still holds
            # (in its queue, or settling): claimed again, it would go out twice.
            (Delivery.status == _D.SENDING)
            & (Delivery.lease_until < moment)
            & (Delivery.lease_owner != self.owner),
        )
        locking = session.get_bind().dialect.name == "postgresql"
        ids: list[int] = []
        for condition in conditions:
            query = (
                select(Delivery.id)
                .where(Delivery.campaign_id == self.campaign_id, condition)
                .order_by(Delivery.id)
                .limit(limit - len(ids))
            )
            if locking:
                query = query.with_for_update(skip_locked=True)
            ids.extend(session.scalars(query))
            if len(ids) >= limit:
                break
        return ids

    def _nothing_due(self, session: Session, moment: dt.datetime) -> Claim:
        """No delivery to claim now: finished, or the earliest moment one will be due."""
        next_retry = session.scalar(
            select(func.min(Delivery.next_attempt_at)).where(
                Delivery.campaign_id == self.campaign_id, Delivery.status == _D.DEFERRED
            )
        )
        lease_end = session.scalar(
            select(func.min(Delivery.lease_until)).where(
                Delivery.campaign_id == self.campaign_id, Delivery.status == _D.SENDING
            )
        )
        queued = session.scalar(
            select(func.count()).where(
                Delivery.campaign_id == self.campaign_id, Delivery.status == _D.QUEUED
            )
        )
        if next_retry is None and lease_end is None and not queued:
            finish_if_done(session, self.campaign_id, now=moment)
            status = session.scalar(select(Campaign.status).where(Campaign.id == self.campaign_id))
            return Claim([], str(status), done=True)
        moments = [m for m in (next_retry, lease_end) if m is not None]
        wait = min(moments) if moments else moment + dt.timedelta(seconds=1)
        return Claim([], CampaignStatus.SENDING.value, wait_until=wait)

    def settle(self, outcomes: Sequence[Outcome], *, now: dt.datetime | None = None) -> None:
        """Write a batch of outcomes (only for deliveries this worker still holds)."""
        if not outcomes:
            return
        moment = now or dt.datetime.now(dt.UTC)
        table = cast(Table, Delivery.__table__)
        params = [
            {
                "b_id": o.delivery_id,
                "b_status": o.status,
                "b_attempted": 1 if o.attempted else 0,
                "b_code": o.smtp_code,
                "b_response": o.smtp_response[:2000],
                "b_message_id": o.message_id,
                "b_sent_at": moment if o.status == _D.SENT else None,
                "b_next": o.next_attempt_at,
            }
            for o in outcomes
        ]
        with self.sessions.begin() as session:
            session.connection().execute(
                update(table)
                .where(
                    table.c.id == bindparam("b_id"),
                    table.c.lease_owner == self.owner,
                    table.c.status == _D.SENDING.value,
                )
                .values(
                    status=bindparam("b_status"),
                    attempts=table.c.attempts + bindparam("b_attempted"),
                    smtp_code=bindparam("b_code"),
                    smtp_response=bindparam("b_response"),
                    message_id=bindparam("b_message_id"),
                    sent_at=bindparam("b_sent_at"),
                    next_attempt_at=bindparam("b_next"),
                    lease_owner="",
                    lease_until=None,
                    updated_at=moment,
                ),
                params,
            )
            bounces = [o for o in outcomes if o.bounce]
            if bounces:
                self._record_bounces(session, bounces, moment)

    def _record_bounces(
        self, session: Session, outcomes: Sequence[Outcome], moment: dt.datetime
    ) -> None:
        """Each refusal through the suppression policy, in the settle's transaction: a hard
        bounce blocklists the subscriber before the next claim can pick them again."""
        ids = [o.delivery_id for o in outcomes]
        who = {
            delivery_id: (subscriber_id, email)
            for delivery_id, subscriber_id, email in session.execute(
                select(Delivery.id, Delivery.subscriber_id, Delivery.email).where(
                    Delivery.id.in_(ids)
                )
            )
        }
        for o in outcomes:
            subscriber_id, email = who.get(o.delivery_id, (None, ""))
            diagnostic = f"{o.smtp_code} {o.smtp_response}"[:2000]
            verdict = classify(o.bounce_status, o.smtp_response)
            # A refusal at RCPT is hard only when it says the address is dead (5.1.1 …); a
            # 5.7.1 "blocked" is about us or the message, and must not suppress the reader.
            kind = verdict.kind if BounceKind(o.bounce) == BounceKind.HARD else "soft"
            record_bounce(
                session,
                delivery_id=o.delivery_id,
                campaign_id=self.campaign_id,
                subscriber_id=subscriber_id,
                email=email,
                report=BounceEvent(
                    kind=kind,
                    status=o.bounce_status,
                    reason=verdict.reason,
                    diagnostic=diagnostic,
                    source="smtp",
                ),
                now=moment,
                policy=self.policy,
            )

    def renew(self, delivery_ids: Sequence[int], *, now: dt.datetime | None = None) -> None:
        """Extend the leases of deliveries this worker still holds: a slow relay (a rate
        limit) may take longer than a lease to work through a batch, and another worker would
        take an expired one over and send it too."""
        if not delivery_ids:
            return
        moment = now or dt.datetime.now(dt.UTC)
        with self.sessions.begin() as session:
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_(list(delivery_ids)),
                    Delivery.lease_owner == self.owner,
                    Delivery.status == _D.SENDING,
                )
                .values(lease_until=moment + self.lease)
                .execution_options(synchronize_session=False)
            )

    def release(self, delivery_ids: Sequence[int]) -> None:
        """Give back claimed deliveries that were not sent (the worker stops early): queued
        again, or skipped when the campaign was cancelled (`cancel_campaign` leaves what a
        worker holds to that worker)."""
        if not delivery_ids:
            return
        ids = list(delivery_ids)
        with self.sessions.begin() as session:
            session.execute(
                update(Delivery)
                .where(
                    Delivery.id.in_(ids),
                    Delivery.lease_owner == self.owner,
                    Delivery.status == _D.SENDING,
                )
                .values(status=_D.QUEUED, lease_owner="", lease_until=None)
                .execution_options(synchronize_session=False)
            )
            # Read after the write: a cancel either committed before it (seen here) or comes
            # after this commit and skips these rows itself (they are queued by then).
            status_query = select(Campaign.status).where(Campaign.id == self.campaign_id)
            if session.get_bind().dialect.name == "postgresql":
                status_query = status_query.with_for_update()
            if session.scalar(status_query) == CampaignStatus.CANCELLED:
                session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(ids), Delivery.status == _D.QUEUED)
                    .values(status=_D.SKIPPED, smtp_response="campaign cancelled")
                    .execution_options(synchronize_session=False)
                )

    def pause(self, reason: str) -> None:
        # Already paused, cancelled or finished by someone else: nothing to do.
        with self.sessions.begin() as session, contextlib.suppress(Conflict):
            pause_campaign(session, self.campaign_id, reason)

    def campaign_status(self) -> str:
        with self.sessions() as session:
            return str(
                session.scalar(select(Campaign.status).where(Campaign.id == self.campaign_id))
            )
