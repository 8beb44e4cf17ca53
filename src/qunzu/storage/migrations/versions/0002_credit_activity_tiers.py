"""0002: credit activity tiers."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table(
        "member_activity",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("last_active_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_member_activity")),
    )
    op.create_table(
        "account_active_days",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("day", sa.String(length=10), nullable=False),
        fk("account_active_days", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_account_active_days")),
    )
    op.create_table(
        "account_credit",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("locked_level", sa.Integer(), nullable=True),
        sa.Column("locked_by", ID, nullable=True),
        sa.Column("age_points", sa.Integer(), nullable=False),
        sa.Column("activity_points", sa.Integer(), nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        fk("account_credit", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_credit")),
    )
    op.create_table(
        "credit_ledger",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("article", sa.String(length=32), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column("note", sa.String(length=255), nullable=False),
        sa.Column("at", TS, nullable=False),
        fk("credit_ledger", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_ledger")),
    )
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_credit_ledger_account_at", ["account_id", "at"], unique=False)

    op.create_table(
        "group_activity",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("created_by", ID, nullable=True),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("last_activity_at", TS, nullable=True),
        fk("group_activity", "created_by", "accounts"),
        fk("group_activity", "group_id", "groups"),
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
