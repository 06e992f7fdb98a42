"""Subscribers: federations, organisations, subscribers, lists, segments, suppressions.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "federation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation")),
        sa.UniqueConstraint("slug", name=op.f("uq_federation_slug")),
    )
    op.create_table(
        "mailing_list",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("double_opt_in", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailing_list")),
        sa.UniqueConstraint("slug", name=op.f("uq_mailing_list_slug")),
    )
    op.create_table(
        "segment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("filter", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment")),
        sa.UniqueConstraint("name", name=op.f("uq_segment_name")),
    )
    op.create_table(
        "suppression",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppression")),
        sa.UniqueConstraint("email_hash", name=op.f("uq_suppression_email_hash")),
    )
    op.create_table(
        "organisation",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "federation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sector", sa.String(length=100), server_default="", nullable=False),
        sa.Column("region", sa.String(length=8), server_default="", nullable=False),
        sa.Column("province", sa.String(length=8), server_default="", nullable=False),
        sa.Column("arrondissement", sa.String(length=8), server_default="", nullable=False),
        sa.Column("size_band", sa.String(length=32), server_default="", nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["federation_id"],
            ["federation.id"],
            name=op.f("fk_organisation_federation_id_federation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("slug", name=op.f("uq_organisation_slug")),
    )
    op.create_index(
        op.f("ix_organisation_federation_id"), "organisation", ["federation_id"], unique=False
    )
    op.create_table(
        "subscriber",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("first_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("last_name", sa.String(length=100), server_default="", nullable=False),
        sa.Column("language", sa.String(length=8), server_default="", nullable=False),
        sa.Column(
            "organisation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column(
            "federation_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("sector", sa.String(length=100), server_default="", nullable=False),
        sa.Column("region", sa.String(length=8), server_default="", nullable=False),
        sa.Column("province", sa.String(length=8), server_default="", nullable=False),
        sa.Column("arrondissement", sa.String(length=8), server_default="", nullable=False),
        sa.Column("role", sa.String(length=100), server_default="", nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "unsubscribed",
                "blocklisted",
                name="subscriber_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            server_default="active",
            nullable=False,
        ),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["federation_id"],
            ["federation.id"],
            name=op.f("fk_subscriber_federation_id_federation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_subscriber_organisation_id_organisation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriber")),
        sa.UniqueConstraint("email", name=op.f("uq_subscriber_email")),
    )
    op.create_index(
        op.f("ix_subscriber_arrondissement"), "subscriber", ["arrondissement"], unique=False
    )
    op.create_index(
        "ix_subscriber_federation_province_language",
        "subscriber",
        ["federation_id", "province", "language"],
        unique=False,
    )
    op.create_index(op.f("ix_subscriber_language"), "subscriber", ["language"], unique=False)
    op.create_index(
        op.f("ix_subscriber_organisation_id"), "subscriber", ["organisation_id"], unique=False
    )
    op.create_index(
        "ix_subscriber_province_language", "subscriber", ["province", "language"], unique=False
    )
    op.create_index(op.f("ix_subscriber_role"), "subscriber", ["role"], unique=False)
    op.create_index(op.f("ix_subscriber_sector"), "subscriber", ["sector"], unique=False)
    op.create_table(
        "subscriber_tag",
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_subscriber_tag_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "tag", name=op.f("pk_subscriber_tag")),
    )
    op.create_index(
        "ix_subscriber_tag_tag_subscriber", "subscriber_tag", ["tag", "subscriber_id"], unique=False
    )
    op.create_table(
        "subscription",
        sa.Column(
            "subscriber_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("list_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "confirmed",
                "unsubscribed",
                name="subscription_status",
                native_enum=False,
                create_constraint=True,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("consent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("consent_source", sa.String(length=200), server_default="", nullable=False),
        sa.Column("consent_ip", sa.String(length=64), server_default="", nullable=False),
        sa.Column("unsubscribed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["mailing_list.id"],
            name=op.f("fk_subscription_list_id_mailing_list"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscriber.id"],
            name=op.f("fk_subscription_subscriber_id_subscriber"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "list_id", name=op.f("pk_subscription")),
    )
    op.create_index(
        "ix_subscription_list_status",
        "subscription",
        ["list_id", "status", "subscriber_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_subscription_list_status", table_name="subscription")
    op.drop_table("subscription")
    op.drop_index("ix_subscriber_tag_tag_subscriber", table_name="subscriber_tag")
    op.drop_table("subscriber_tag")
    op.drop_index(op.f("ix_subscriber_sector"), table_name="subscriber")
    op.drop_index(op.f("ix_subscriber_role"), table_name="subscriber")
    op.drop_index("ix_subscriber_province_language", table_name="subscriber")
    op.drop_index(op.f("ix_subscriber_organisation_id"), table_name="subscriber")
    op.drop_index(op.f("ix_subscriber_language"), table_name="subscriber")
    op.drop_index("ix_subscriber_federation_province_language", table_name="subscriber")
    op.drop_index(op.f("ix_subscriber_arrondissement"), table_name="subscriber")
    op.drop_table("subscriber")
    op.drop_index(op.f("ix_organisation_federation_id"), table_name="organisation")
    op.drop_table("organisation")
    op.drop_table("suppression")
    op.drop_table("segment")
    op.drop_table("mailing_list")
    op.drop_table("federation")
