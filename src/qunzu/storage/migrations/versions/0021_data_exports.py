"""0021: a person's copy of their own data, built in the background, downloadable once."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0021"
down_revision = "0020"


def upgrade() -> None:
    op.create_table(
        "data_exports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("ready_at", TS, nullable=True),
        sa.Column("expires_at", TS, nullable=True),
        sa.Column("downloaded_at", TS, nullable=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        fk("data_exports", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_exports")),
    )
    with op.batch_alter_table("data_exports") as batch_op:
        batch_op.create_index(batch_op.f("ix_data_exports_account_id"), ["account_id"])


def downgrade() -> None:
    op.drop_table("data_exports")
