"""The database schema as typed SQLAlchemy 2 models, on one base with a naming convention.

Every change here needs an Alembic revision in `migrations/versions/`; a test checks that
autogenerate finds nothing left to change after `upgrade head`.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "Base",
    "Bounce",
    "BounceKind",
    "Campaign",
    "CampaignStatus",
    "Delivery",
    "DeliveryStatus",
    "Federation",
    "MailingList",
    "Organisation",
    "Segment",
    "Subscriber",
    "SubscriberStatus",
    "SubscriberTag",
    "Subscription",
    "SubscriptionStatus",
    "Suppression",
]

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT on PostgreSQL, but INTEGER on SQLite so that it stays the rowid alias.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """`DateTime(timezone=True)` that always reads back aware UTC datetimes: SQLite keeps no
    zone and hands back naive ones, which every caller would otherwise have to mend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Any) -> dt.datetime | None:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value  # type: ignore[no-any-return]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON,
    }


class SubscriberStatus(enum.StrEnum):
    ACTIVE = "active"
    UNSUBSCRIBED = "unsubscribed"  # from everything, by their own request
    BLOCKLISTED = "blocklisted"  # suppressed: hard bounce, complaint, or by staff


class SubscriptionStatus(enum.StrEnum):
    PENDING = "pending"  # waiting for double opt-in confirmation
    CONFIRMED = "confirmed"
    UNSUBSCRIBED = "unsubscribed"


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting to be claimed
    SENDING = "sending"  # claimed by a worker until lease_until
    DEFERRED = "deferred"  # a 4xx: tried again at next_attempt_at
    SENT = "sent"  # the relay answered 250 to DATA
    BOUNCED = "bounced"  # refused for good (5xx at RCPT)
    FAILED = "failed"  # attempts exhausted, or a 5xx at MAIL FROM / DATA
    SKIPPED = "skipped"  # unsubscribed or suppressed after the snapshot


class BounceKind(enum.StrEnum):
    HARD = "hard"  # the address is dead
    SOFT = "soft"  # any other failure
    COMPLAINT = "complaint"  # a feedback report: the reader marked it as spam


def _enum(cls: type[enum.StrEnum], name: str) -> Enum:
    # Stored as plain strings with a CHECK constraint: portable, readable in SQL, easy to extend.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=16,
        values_callable=lambda members: [m.value for m in members],
    )


class Federation(Base):
    """A member federation of the umbrella organisation."""

    __tablename__ = "federation"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Organisation(Base):
    """A member organisation (of a federation). Matched by slug: case, accents and punctuation
    in names typed by staff do not create duplicates."""

    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    federation_id: Mapped[int | None] = mapped_column(
        ForeignKey("federation.id", ondelete="SET NULL"), index=True
    )
    sector: Mapped[str] = mapped_column(String(100), default="", server_default="")
    region: Mapped[str] = mapped_column(String(8), default="", server_default="")
    province: Mapped[str] = mapped_column(String(8), default="", server_default="")
    arrondissement: Mapped[str] = mapped_column(String(8), default="", server_default="")
    size_band: Mapped[str] = mapped_column(String(32), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Subscriber(Base):
    """A reader. Location and federation are copied from the organisation when not given,
    so that segments filter one table."""

    __tablename__ = "subscriber"
    __table_args__ = (
        Index(
            "ix_subscriber_federation_province_language", "federation_id", "province", "language"
        ),
        Index("ix_subscriber_province_language", "province", "language"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    first_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    last_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    language: Mapped[str] = mapped_column(String(8), default="", server_default="", index=True)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL"), index=True
    )
    federation_id: Mapped[int | None] = mapped_column(
        ForeignKey("federation.id", ondelete="SET NULL")
    )
    sector: Mapped[str] = mapped_column(String(100), default="", server_default="", index=True)
    # No index on region (three values) or status (nearly all "active"): an index that selects
    # a third of the table only slows imports down.
    region: Mapped[str] = mapped_column(String(8), default="", server_default="")
    province: Mapped[str] = mapped_column(String(8), default="", server_default="")
    arrondissement: Mapped[str] = mapped_column(
        String(8), default="", server_default="", index=True
    )
    role: Mapped[str] = mapped_column(String(100), default="", server_default="", index=True)
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus, "subscriber_status"),
        default=SubscriberStatus.ACTIVE,
        server_default=SubscriberStatus.ACTIVE.value,
    )
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=_now)


class SubscriberTag(Base):
    """One tag of a subscriber (a table, not a JSON list, so that tag filters use an index)."""

    __tablename__ = "subscriber_tag"
    __table_args__ = (Index("ix_subscriber_tag_tag_subscriber", "tag", "subscriber_id"),)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class MailingList(Base):
    """A list people subscribe to (the monthly newsletter, the board's list…)."""

    __tablename__ = "mailing_list"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    double_opt_in: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Subscription(Base):
    """A subscriber on a list, with the consent that put them there."""

    __tablename__ = "subscription"
    __table_args__ = (Index("ix_subscription_list_status", "list_id", "status", "subscriber_id"),)

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True
    )
    list_id: Mapped[int] = mapped_column(
        ForeignKey("mailing_list.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[SubscriptionStatus] = mapped_column(
        _enum(SubscriptionStatus, "subscription_status")
    )
    consent_at: Mapped[dt.datetime | None]
    consent_source: Mapped[str] = mapped_column(String(200), default="", server_default="")
    consent_ip: Mapped[str] = mapped_column(String(64), default="", server_default="")
    unsubscribed_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=_now)


class Segment(Base):
    """A saved audience: a structured filter (never SQL), optionally within one list."""

    __tablename__ = "segment"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    filter: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Suppression(Base):
    """An address never to be mailed, whatever list. Keyed by a hash so that it survives
    `subscribers forget` (the address itself is then erased)."""

    __tablename__ = "suppression"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    email_hash: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())


class Campaign(Base):
    """One issue sent to one list (optionally narrowed by a segment)."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    subject: Mapped[str] = mapped_column(String(300))
    issue_file: Mapped[str] = mapped_column(String(500))  # where the source was read from
    issue_source: Mapped[str] = mapped_column(Text)  # the source itself, as it was at creation
    list_id: Mapped[int] = mapped_column(ForeignKey("mailing_list.id", ondelete="RESTRICT"))
    segment_name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    # The segment's filter as it was at creation: a later edit does not change a campaign.
    segment_filter: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[CampaignStatus] = mapped_column(
        _enum(CampaignStatus, "campaign_status"), index=True
    )
    scheduled_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]
    pause_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=_now)


class Delivery(Base):
    """One campaign to one subscriber: the row that makes every send exactly accountable."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("campaign_id", "subscriber_id"),
        Index("ix_delivery_campaign_status", "campaign_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    # NULL once the subscriber is erased (`subscribers forget`); the counts stay right.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL")
    )
    email: Mapped[str] = mapped_column(String(320))  # the address at the snapshot
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[dt.datetime | None]
    lease_owner: Mapped[str] = mapped_column(String(64), default="", server_default="")
    lease_until: Mapped[dt.datetime | None]
    smtp_code: Mapped[int | None]
    smtp_response: Mapped[str] = mapped_column(Text, default="", server_default="")
    message_id: Mapped[str] = mapped_column(String(300), default="", server_default="")
    sent_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), onupdate=_now)


class Bounce(Base):
    """A failure report about one address: from the SMTP session, a DSN or a complaint."""

    __tablename__ = "bounce"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    delivery_id: Mapped[int | None] = mapped_column(
        ForeignKey("delivery.id", ondelete="SET NULL"), index=True
    )
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id", ondelete="SET NULL"), index=True
    )
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscriber.id", ondelete="SET NULL"), index=True
    )
    email: Mapped[str] = mapped_column(String(320))
    kind: Mapped[BounceKind] = mapped_column(_enum(BounceKind, "bounce_kind"))
    status: Mapped[str] = mapped_column(String(16), default="", server_default="")  # x.y.z
    reason: Mapped[str] = mapped_column(String(40), default="", server_default="")
    diagnostic: Mapped[str] = mapped_column(Text, default="", server_default="")
    source: Mapped[str] = mapped_column(String(16))  # smtp | dsn | arf | heuristic
    received_at: Mapped[dt.datetime] = mapped_column(server_default=func.now())
