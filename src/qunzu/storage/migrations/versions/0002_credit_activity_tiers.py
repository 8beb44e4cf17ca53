"""credit activity tiers

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 18:59:35.118968
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_activity",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_member_activity")),
    )
    op.create_table(
        "account_active_days",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_active_days_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_account_active_days")),
    )
    op.create_table(
        "account_credit",
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("locked_level", sa.Integer(), nullable=True),
        sa.Column("locked_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("age_points", sa.Integer(), nullable=False),
        sa.Column("activity_points", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_credit_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_credit")),
    )
    op.create_table(
        "credit_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("article", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_credit_ledger_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
    )
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_credit_ledger_account_at", ["account_id", "at"], unique=False)

    op.create_table(
        "group_activity",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "created_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["accounts.id"], name=op.f("fk_group_activity_created_by_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_activity_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_activity")),
    )
    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.create_index("ix_group_activity_created_by", ["created_by"], unique=False)

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index("ix_groups_owner_state", ["owner_id", "state"], unique=False)

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invitations_inviter_created", ["inviter_id", "created_at"], unique=False
        )

    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.create_index("ix_timeline_group_created", ["group_id", "created_at"], unique=False)

    # Groups made before this revision: record their creator and a provisional tier;
    # the tier is recomputed at the group's next membership change.
    op.execute(
        "INSERT INTO group_activity (group_id, created_by, tier, last_activity_at) "
        "SELECT id, owner_id, CASE WHEN kind = 'direct' THEN 'private' ELSE 'small' END, NULL "
        "FROM groups"
    )


def downgrade() -> None:
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_group_created")

    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_invitations_inviter_created")

    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_owner_state")

    with op.batch_alter_table("group_activity", schema=None) as batch_op:
        batch_op.drop_index("ix_group_activity_created_by")

    op.drop_table("group_activity")
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_ledger_account_at")

    op.drop_table("credit_ledger")
    op.drop_table("account_credit")
    op.drop_table("account_active_days")
    op.drop_table("member_activity")
