"""0005: owner tools duty of care."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.create_table(
        "admin_rights",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("rights", sa.JSON(), nullable=False),
        sa.Column("granted_by", ID, nullable=False),
        sa.Column("granted_at", TS, nullable=False),
        fk("admin_rights", "account_id", "accounts"),
        fk("admin_rights", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_admin_rights")),
    )
    op.create_table(
        "duty_ledger",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("subject_id", ID, nullable=True),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("at", TS, nullable=False),
        fk("duty_ledger", "group_id", "groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_duty_ledger")),
    )
    with op.batch_alter_table("duty_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_duty_ledger_group_at", ["group_id", "at"], unique=False)

    op.create_table(
        "group_controls",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("mute_all", sa.Boolean(), nullable=False),
        sa.Column("slow_mode_seconds", sa.Integer(), nullable=False),
        sa.Column("notice_text", sa.Text(), nullable=True),
        sa.Column("notice_by", ID, nullable=True),
        sa.Column("notice_at", TS, nullable=True),
        sa.Column("unattended_since", TS, nullable=True),
        sa.Column("read_only_since", TS, nullable=True),
        fk("group_controls", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_controls")),
    )
    op.create_table(
        "mutes",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("until", TS, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("by", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        fk("mutes", "account_id", "accounts"),
        fk("mutes", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_mutes")),
    )
    op.create_table(
        "read_cursors",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", TS, nullable=False),
        fk("read_cursors", "account_id", "accounts"),
        fk("read_cursors", "group_id", "groups"),
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
