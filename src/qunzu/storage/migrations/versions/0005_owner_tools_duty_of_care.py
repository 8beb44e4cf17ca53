"""owner tools duty of care

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 20:06:47.851744
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "admin_rights",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("rights", sa.JSON(), nullable=False),
        sa.Column(
            "granted_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_admin_rights_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_admin_rights_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_admin_rights")),
    )
    op.create_table(
        "duty_ledger",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column(
            "subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_duty_ledger_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_ledger")),
    )
    with op.batch_alter_table("duty_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_duty_ledger_group_at", ["group_id", "at"], unique=False)

    op.create_table(
        "group_controls",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("mute_all", sa.Boolean(), nullable=False),
        sa.Column("slow_mode_seconds", sa.Integer(), nullable=False),
        sa.Column("notice_text", sa.Text(), nullable=True),
        sa.Column("notice_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("notice_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unattended_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("read_only_since", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_controls_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_controls")),
    )
    op.create_table(
        "mutes",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_mutes_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name=op.f("fk_mutes_group_id_groups")),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_mutes")),
    )
    op.create_table(
        "read_cursors",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_read_cursors_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_read_cursors_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_read_cursors")),
    )


def downgrade() -> None:
    op.drop_table("read_cursors")
    op.drop_table("mutes")
    op.drop_table("group_controls")
    with op.batch_alter_table("duty_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_duty_ledger_group_at")

    op.drop_table("duty_ledger")
    op.drop_table("admin_rights")
