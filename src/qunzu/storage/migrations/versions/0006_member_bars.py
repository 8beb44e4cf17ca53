"""0006: member bars (removal that bars rejoining)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "member_bars",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("by", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        fk("member_bars", "account_id", "accounts"),
        fk("member_bars", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_member_bars")),
    )


def downgrade() -> None:
    op.drop_table("member_bars")
