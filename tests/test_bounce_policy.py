"""The suppression policy (`mailer.bounces.policy`), on SQLite and PostgreSQL: hard bounces,
complaints, soft bounces counted across distinct campaigns in a time window, idempotency, and
the send engine's SMTP-time refusals going through the same policy."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from mailer.bounces.policy import BounceEvent, BouncePolicy, record_bounce
from mailer.db.models import (
    Bounce,
    Delivery,
    MailingList,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
)
from mailer.subscribers.directory import create_list
from mailer.subscribers.emails import email_hash
from mailer.subscribers.privacy import forget_subscriber
from mailer.wiring import Database
from tests.smtp_server import Recorder, SmtpServer
from tests.test_send import (
    SMALL_ISSUE,
    add_audience,
    make_config,
    make_kit,
    new_campaign,
    send,
)


@pytest.fixture
def issue(tmp_path: Path) -> Path:
    path = tmp_path / "small-issue.md"
    path.write_text(SMALL_ISSUE, encoding="utf-8")
    return path


@pytest.fixture
def relay() -> Iterator[tuple[SmtpServer, Recorder]]:
    recorder = Recorder()
    with SmtpServer(recorder) as server:
        yield server, recorder


NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
SOFT = BounceEvent("soft", "4.2.2", "mailbox full", "452 4.2.2 mailbox full", "dsn")
HARD = BounceEvent("hard", "5.1.1", "user unknown", "550 5.1.1 no such user", "dsn")
COMPLAINT = BounceEvent("complaint", "", "spam/content filtered", "", "arf")
PERSON = "marie@example.be"


def campaigns_for(database: Database, issue: Path, count: int) -> list[int]:
    """`count` started campaigns to one list with PERSON (and a bystander) on it."""
    add_audience(database, [(PERSON, "Marie", "M"), ("other@example.be", "Oto", "O")])
    return [new_campaign(database, issue) for _ in range(count)]


def delivery_of(database: Database, campaign_id: int, address: str = PERSON) -> tuple[int, int]:
    with database.sessions() as session:
        row = session.execute(
            select(Delivery.id, Delivery.subscriber_id).where(
                Delivery.campaign_id == campaign_id, Delivery.email == address
            )
        ).one()
    return int(row[0]), int(row[1])


def bounce(
    database: Database,
    campaign_id: int | None,
    event: BounceEvent,
    *,
    now: dt.datetime = NOW,
    address: str = PERSON,
    policy: BouncePolicy | None = None,
) -> tuple[bool, bool]:
    delivery_id = subscriber_id = None
    if campaign_id is not None:
        delivery_id, subscriber_id = delivery_of(database, campaign_id, address)
    with database.sessions.begin() as session:
        done = record_bounce(
            session,
            delivery_id=delivery_id,
            campaign_id=campaign_id,
            subscriber_id=subscriber_id,
            email=address,
            report=event,
            now=now,
            policy=policy,
        )
    return done.stored, done.suppressed


def state(database: Database, address: str = PERSON) -> tuple[str, str | None, int]:
    """(subscriber status, suppression reason or None, bounce rows)."""
    with database.sessions() as session:
        status = session.scalar(select(Subscriber.status).where(Subscriber.email == address))
        reason = session.scalar(
            select(Suppression.reason).where(Suppression.email_hash == email_hash(address))
        )
        rows = session.scalar(select(func.count()).where(Bounce.email == address))
    return str(status), reason, int(rows or 0)


def test_a_hard_bounce_suppresses_at_once(database: Database, issue: Path) -> None:
    (campaign,) = campaigns_for(database, issue, 1)
    assert bounce(database, campaign, HARD) == (True, True)
    assert state(database) == ("blocklisted", "hard bounce", 1)
    assert state(database, "other@example.be") == ("active", None, 0)
    with database.sessions() as session:
        detail = session.scalar(select(Suppression.detail))
    assert detail is not None
    assert "5.1.1" in detail
    assert f"campaign {campaign}" in detail


def test_a_complaint_unsubscribes_everywhere_and_suppresses(
    database: Database,
    issue: Path,
) -> None:
    (campaign,) = campaigns_for(database, issue, 1)
    _, subscriber_id = delivery_of(database, campaign)
    with database.sessions.begin() as session:  # a second list
        create_list(session, "board", "Board", double_opt_in=False)
        list_id = session.scalar(select(MailingList.id).where(MailingList.slug == "board"))
        assert list_id is not None
        session.add(
            Subscription(
                subscriber_id=subscriber_id,
                list_id=list_id,
                status=SubscriptionStatus.CONFIRMED,
                consent_source="test",
            )
        )
    assert bounce(database, campaign, COMPLAINT) == (True, True)
    assert state(database) == ("blocklisted", "complaint", 1)
    with database.sessions() as session:
        subscriptions = session.execute(
            select(Subscription.status, Subscription.unsubscribed_at).where(
                Subscription.subscriber_id == subscriber_id
            )
        ).all()
    assert len(subscriptions) == 2
    assert all(status == SubscriptionStatus.UNSUBSCRIBED for status, _ in subscriptions)
    assert all(moment is not None for _, moment in subscriptions)


def test_three_soft_bounces_from_three_campaigns_suppress(
    database: Database,
    issue: Path,
) -> None:
    first, second, third = campaigns_for(database, issue, 3)
    assert bounce(database, first, SOFT, now=NOW - dt.timedelta(days=20)) == (True, False)
    assert bounce(database, second, SOFT, now=NOW - dt.timedelta(days=10)) == (True, False)
    assert state(database) == ("active", None, 2)
    assert bounce(database, third, SOFT) == (True, True)
    assert state(database) == ("blocklisted", "soft bounces", 3)


def test_soft_bounces_from_one_campaign_count_once(
    database: Database,
    issue: Path,
) -> None:
    (campaign,) = campaigns_for(database, issue, 1)
    statuses = ("4.2.2", "5.2.2", "4.4.7")  # a delay, the failure, then another report
    for number, status in enumerate(statuses):
        event = BounceEvent("soft", status, "mailbox full", f"full {number}", "dsn")
        assert bounce(database, campaign, event, now=NOW + dt.timedelta(hours=number))[1] is False
    assert state(database) == ("active", None, 3)


def test_an_old_soft_bounce_is_out_of_the_window(
    database: Database,
    issue: Path,
) -> None:
    old, recent, last = campaigns_for(database, issue, 3)
    assert bounce(database, old, SOFT, now=NOW - dt.timedelta(days=31))[1] is False
    assert bounce(database, recent, SOFT, now=NOW - dt.timedelta(days=5))[1] is False
    assert bounce(database, last, SOFT)[1] is False
    assert state(database) == ("active", None, 3)
    # A tighter policy (2 in 30 days) would have suppressed on the last one.
    assert bounce(database, None, SOFT, policy=BouncePolicy(soft_limit=2)) == (True, True)


def test_soft_bounces_without_a_campaign_are_distinct_events(
    database: Database,
    issue: Path,
) -> None:
    campaigns_for(database, issue, 0)
    for day in range(3):
        event = BounceEvent("soft", "5.2.2", "mailbox full", f"full on day {day}", "heuristic")
        suppressed = bounce(database, None, event, now=NOW + dt.timedelta(days=day))[1]
        assert suppressed is (day == 2)
    assert state(database) == ("blocklisted", "soft bounces", 3)


def test_the_same_bounce_twice_is_recorded_once(
    database: Database,
    issue: Path,
) -> None:
    first, second, third = campaigns_for(database, issue, 3)
    for campaign in (first, first, second, second):
        bounce(database, campaign, SOFT)
    assert state(database) == ("active", None, 2)
    assert bounce(database, second, SOFT) == (False, False)
    assert bounce(database, None, SOFT) == (True, True)  # no delivery: a new event
    assert bounce(database, None, SOFT) == (False, False)  # the same again: ignored
    assert bounce(database, third, HARD) == (True, True)
    assert bounce(database, third, HARD) == (False, False)
    assert state(database)[2] == 4


def test_a_550_at_rcpt_blocklists_and_suppresses(
    database: Database,
    relay: tuple[SmtpServer, Recorder],
    issue: Path,
    tmp_path: Path,
) -> None:
    smtp, recorder = relay
    add_audience(database, [("ok@example.be", "Ok", "O"), ("gone@example.be", "Gus", "G")])
    campaign_id = new_campaign(database, issue)
    recorder.rcpt_hook = lambda address, attempt: (
        "550 5.1.1 <gone@example.be>: no such user" if address == "gone@example.be" else None
    )
    report = send(make_kit(database, make_config(tmp_path, smtp.port)), campaign_id)
    assert (report.sent, report.bounced) == (1, 1)
    assert state(database, "gone@example.be") == ("blocklisted", "hard bounce", 1)
    assert state(database, "ok@example.be") == ("active", None, 0)
    with database.sessions() as session:
        row = session.execute(
            select(Bounce.kind, Bounce.status, Bounce.reason, Bounce.source)
        ).one()
        status = session.scalar(
            select(Subscriber.status).where(Subscriber.email == "gone@example.be")
        )
    assert tuple(row) == ("hard", "5.1.1", "user unknown", "smtp")
    assert status == SubscriberStatus.BLOCKLISTED


def test_a_bounce_for_an_erased_person_suppresses_nothing_new(
    database: Database, issue: Path
) -> None:
    (campaign,) = campaigns_for(database, issue, 1)
    delivery_id, _ = delivery_of(database, campaign)
    with database.sessions.begin() as session:
        forget_subscriber(session, PERSON)
    with database.sessions.begin() as session:
        done = record_bounce(
            session,
            delivery_id=delivery_id,
            campaign_id=campaign,
            subscriber_id=None,
            email="erased",  # what the delivery says once the person is forgotten
            report=HARD,
            now=NOW,
        )
    assert (done.stored, done.suppressed) == (True, False)
    with database.sessions() as session:
        reasons = session.scalars(select(Suppression.reason)).all()
    assert reasons == ["forgotten"]
