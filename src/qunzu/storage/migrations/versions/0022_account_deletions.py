"""0022: accounts their owners deleted (the handle stays reserved; the identity goes later)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0022"
down_revision = "0021"


def upgrade() -> None:
    op.create_table(
        "account_deletions",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("deleted_at", TS, nullable=False),
        sa.Column("messages_removed", sa.Boolean(), nullable=False),
        fk("account_deletions", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_deletions")),
    )
    with op.batch_alter_table("account_deletions") as batch_op:
        batch_op.create_index(batch_op.f("ix_account_deletions_deleted_at"), ["deleted_at"])


def downgrade() -> None:
    op.drop_table("account_deletions")
