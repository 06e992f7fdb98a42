"""A campaign's life: create, start (the recipient snapshot), pause, resume, cancel, status.

    draft ─┬─→ sending ⇄ paused      sending → sent (when every delivery is settled)
    scheduled ─┘      ↘      ↘
                       cancelled (from draft, scheduled, sending or paused)

Every change is one guarded UPDATE (`WHERE status IN (...)`), so two processes racing to
start or pause the same campaign cannot both win.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, literal, select, update
from sqlalchemy.orm import Session

from mailer.db.models import (
    Bounce,
    Campaign,
    CampaignStatus,
    Delivery,
    DeliveryStatus,
    Federation,
    MailingList,
    Subscriber,
)
from mailer.domain import CampaignInfo
from mailer.errors import Conflict, MailerError, NotFound
from mailer.issues.format import read_issue
from mailer.subscribers.segments import get_segment, where_clause

__all__ = [
    "LOCAL_TIME",
    "campaign_info",
    "cancel_campaign",
    "create_campaign",
    "due_campaigns",
    "list_campaigns",
    "parse_local_time",
    "pause_campaign",
    "resume_campaign",
    "start_campaign",
]

LOCAL_TIME = ZoneInfo("Europe/Brussels")  # --at is the federation's wall-clock time
_S = CampaignStatus
_OPEN = (DeliveryStatus.QUEUED, DeliveryStatus.SENDING, DeliveryStatus.DEFERRED)


def parse_local_time(text: str, *, now: dt.datetime | None = None) -> dt.datetime:
    """'2026-12-01 09:00' (Brussels time) → an aware UTC datetime, which must be in the future."""
    try:
        naive = dt.datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise MailerError(
            f"--at: expected a date and time like 2026-12-01 09:00, got {text!r}"
        ) from None
    moment = naive.replace(tzinfo=LOCAL_TIME).astimezone(dt.UTC)
    if moment <= (now or dt.datetime.now(dt.UTC)):
        raise MailerError(f"--at: {text} (Brussels time) is in the past")
    return moment


def create_campaign(
    session: Session,
    *,
    issue_file: Path,
    list_slug: str,
    segment_name: str | None = None,
    subject: str | None = None,
    scheduled_at: dt.datetime | None = None,
) -> int:
    """A new campaign, `draft` (or `scheduled` with `scheduled_at`); the issue is read and
    checked now and its source kept, so a later edit of the file changes nothing."""
    issue = read_issue(issue_file)
    source = issue_file.read_text(encoding="utf-8")
    list_id = session.scalar(select(MailingList.id).where(MailingList.slug == list_slug))
    if list_id is None:
        raise NotFound(f"--list: no list {list_slug!r} (see `mailer lists list`)")
    segment_filter: dict[str, list[str]] = {}
    if segment_name:
        segment = get_segment(session, segment_name)
        segment_filter = segment.filter
        segment_name = segment.name
    title = (subject if subject is not None else issue.front.subject).strip()
    if not title:
        raise MailerError("--subject: a campaign needs a subject")
    if len(title) > 300 or "\n" in title or "\r" in title:
        raise MailerError("--subject: one line of at most 300 characters")
    campaign = Campaign(
        subject=title,
        issue_file=str(issue_file)[:500],
        issue_source=source,
        list_id=list_id,
        segment_name=segment_name or "",
        segment_filter=segment_filter,
        status=_S.SCHEDULED if scheduled_at else _S.DRAFT,
        scheduled_at=scheduled_at,
    )
    session.add(campaign)
    session.flush()
    return campaign.id


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"no campaign {campaign_id} (see `mailer campaign list`)")
    return campaign


def _move(
    session: Session,
    campaign_id: int,
    allowed: Iterable[CampaignStatus],
    to: CampaignStatus,
    **values: object,
) -> bool:
    """The guarded transition: True when this call made it."""
    result = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(list(allowed)))
        .values(status=to, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def _status(campaign: Campaign) -> CampaignStatus:
    return CampaignStatus(campaign.status)  # read again: mypy narrowed the attribute


def _refuse(campaign: Campaign, action: str) -> Conflict:
    status = campaign.status
    hint = {
        _S.SENT: "it was sent",
        _S.CANCELLED: "it was cancelled",
        _S.PAUSED: "it is paused: `mailer campaign resume` continues it",
        _S.SENDING: "it is being sent",
        _S.DRAFT: "it has not started",
        _S.SCHEDULED: "it is scheduled and has not started",
    }[status]
    return Conflict(f"cannot {action} campaign {campaign.id}: {hint}")


def start_campaign(session: Session, campaign_id: int, *, now: dt.datetime | None = None) -> int:
    """draft/scheduled → sending, with the snapshot of its recipients as `queued` deliveries
    (one INSERT … SELECT). A campaign already sending is left as it is (a send after a crash
    just continues). Returns the number of deliveries created."""
    campaign = _campaign(session, campaign_id)
    moment = now or dt.datetime.now(dt.UTC)
    if campaign.status == _S.SENDING:
        return 0
    if not _move(
        session,
        campaign_id,
        (_S.DRAFT, _S.SCHEDULED),
        _S.SENDING,
        started_at=moment,
        pause_reason="",
    ):
        session.refresh(campaign)
        if _status(campaign) == _S.SENDING:  # another process started it a moment ago
            return 0
        raise _refuse(campaign, "send")
    return snapshot_recipients(session, campaign)


def snapshot_recipients(session: Session, campaign: Campaign) -> int:
    """Every active subscriber confirmed on the campaign's list (and in its segment) gets a
    `queued` delivery; unsubscribed, blocklisted (suppressed) and unconfirmed people do not."""
    list_slug = session.scalar(select(MailingList.slug).where(MailingList.id == campaign.list_id))
    condition = and_(
        where_clause(session, campaign.segment_filter),
        where_clause(session, {"list": [str(list_slug)]}),
    )
    recipients = select(
        literal(campaign.id),
        Subscriber.id,
        Subscriber.email,
        literal(DeliveryStatus.QUEUED.value),
    ).where(condition)
    result = session.execute(
        insert(Delivery).from_select(
            ["campaign_id", "subscriber_id", "email", "status"], recipients
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def pause_campaign(session: Session, campaign_id: int, reason: str = "paused by staff") -> None:
    campaign = _campaign(session, campaign_id)
    if not _move(session, campaign_id, (_S.SENDING,), _S.PAUSED, pause_reason=reason[:2000]):
        raise _refuse(campaign, "pause")


def resume_campaign(session: Session, campaign_id: int) -> None:
    """paused → sending. A campaign still `sending` (its sender crashed) is left sending."""
    campaign = _campaign(session, campaign_id)
    if campaign.status == _S.SENDING:
        return
    if not _move(session, campaign_id, (_S.PAUSED,), _S.SENDING, pause_reason=""):
        raise _refuse(campaign, "resume")


def cancel_campaign(session: Session, campaign_id: int, *, now: dt.datetime | None = None) -> int:
    """Stops a campaign for good: deliveries not yet sent become `skipped`. Returns how many."""
    campaign = _campaign(session, campaign_id)
    moment = now or dt.datetime.now(dt.UTC)
    movable = (_S.DRAFT, _S.SCHEDULED, _S.SENDING, _S.PAUSED)
    if not _move(session, campaign_id, movable, _S.CANCELLED, finished_at=moment):
        raise _refuse(campaign, "cancel")
    # In flight (sending, lease still running) stays: its worker records what the relay said.
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id == campaign_id,
            Delivery.status.in_([DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED])
            | (
                (Delivery.status == DeliveryStatus.SENDING)
                & ((Delivery.lease_until.is_(None)) | (Delivery.lease_until < moment))
            ),
        )
        .values(
            status=DeliveryStatus.SKIPPED,
            smtp_response="campaign cancelled",
            lease_owner="",
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def finish_if_done(session: Session, campaign_id: int, *, now: dt.datetime | None = None) -> bool:
    """sending → sent once no delivery is queued, in flight or deferred."""
    open_count = session.scalar(
        select(func.count())
        .select_from(Delivery)
        .where(Delivery.campaign_id == campaign_id, Delivery.status.in_(_OPEN))
    )
    if open_count:
        return False
    return _move(
        session, campaign_id, (_S.SENDING,), _S.SENT, finished_at=now or dt.datetime.now(dt.UTC)
    )


def due_campaigns(session: Session, *, now: dt.datetime | None = None) -> list[int]:
    """Scheduled campaigns whose time has come, and campaigns left sending (to continue)."""
    moment = now or dt.datetime.now(dt.UTC)
    due = session.scalars(
        select(Campaign.id)
        .where(
            (Campaign.status == _S.SENDING)
            | ((Campaign.status == _S.SCHEDULED) & (Campaign.scheduled_at <= moment))
        )
        .order_by(Campaign.id)
    )
    return list(due)


def campaign_info(session: Session, campaign_id: int) -> CampaignInfo:
    campaign = _campaign(session, campaign_id)
    session.refresh(campaign)
    deliveries = {
        str(status): int(count)
        for status, count in session.execute(
            select(Delivery.status, func.count())
            .where(Delivery.campaign_id == campaign_id)
            .group_by(Delivery.status)
        )
    }
    bounces = {
        str(kind): int(count)
        for kind, count in session.execute(
            select(Bounce.kind, func.count())
            .where(Bounce.campaign_id == campaign_id)
            .group_by(Bounce.kind)
        )
    }
    return _info(session, campaign, deliveries, bounces, _by_federation(session, campaign_id))


def _by_federation(session: Session, campaign_id: int) -> dict[str, dict[str, int]]:
    """Recipients, sent and bounces per federation (the subscriber's current one)."""
    table: dict[str, dict[str, int]] = {}

    def row(slug: str | None) -> dict[str, int]:
        return table.setdefault(slug or "", dict.fromkeys(_FEDERATION_COLUMNS, 0))

    for slug, status, count in session.execute(
        select(Federation.slug, Delivery.status, func.count())
        .select_from(Delivery)
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .outerjoin(Federation, Federation.id == Subscriber.federation_id)
        .where(Delivery.campaign_id == campaign_id)
        .group_by(Federation.slug, Delivery.status)
    ):
        counts = row(slug)
        counts["recipients"] += int(count)
        if str(status) == DeliveryStatus.SENT:
            counts["sent"] += int(count)
    for slug, kind, count in session.execute(
        select(Federation.slug, Bounce.kind, func.count())
        .select_from(Bounce)
        .outerjoin(Subscriber, Subscriber.id == Bounce.subscriber_id)
        .outerjoin(Federation, Federation.id == Subscriber.federation_id)
        .where(Bounce.campaign_id == campaign_id)
        .group_by(Federation.slug, Bounce.kind)
    ):
        row(slug)[str(kind)] += int(count)
    return dict(sorted(table.items()))


_FEDERATION_COLUMNS = ("recipients", "sent", "hard", "soft", "complaint")


def _info(
    session: Session,
    campaign: Campaign,
    deliveries: dict[str, int],
    bounces: dict[str, int],
    by_federation: dict[str, dict[str, int]] | None = None,
) -> CampaignInfo:
    list_slug = session.scalar(select(MailingList.slug).where(MailingList.id == campaign.list_id))
    return CampaignInfo(
        id=campaign.id,
        subject=campaign.subject,
        issue_file=campaign.issue_file,
        list_slug=str(list_slug or ""),
        segment_name=campaign.segment_name,
        status=str(campaign.status),
        scheduled_at=campaign.scheduled_at,
        started_at=campaign.started_at,
        finished_at=campaign.finished_at,
        pause_reason=campaign.pause_reason,
        deliveries=deliveries,
        bounces=bounces,
        by_federation=by_federation or {},
    )


def list_campaigns(session: Session) -> list[CampaignInfo]:
    counts: dict[int, dict[str, int]] = {}
    for campaign_id, status, count in session.execute(
        select(Delivery.campaign_id, Delivery.status, func.count()).group_by(
            Delivery.campaign_id, Delivery.status
        )
    ):
        counts.setdefault(campaign_id, {})[str(status)] = int(count)
    campaigns = session.scalars(select(Campaign).order_by(Campaign.id.desc()))
    return [_info(session, c, counts.get(c.id, {}), {}) for c in campaigns]


def load_issue_source(session: Session, campaign_id: int) -> tuple[str, str, str, int]:
    """(source, file name, subject, list id) of a campaign, for compiling its messages."""
    campaign = _campaign(session, campaign_id)
    return campaign.issue_source, campaign.issue_file, campaign.subject, campaign.list_id
