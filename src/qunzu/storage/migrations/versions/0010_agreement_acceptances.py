"""0010: service agreement acceptances (the version each account accepted, and when)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    op.create_table(
        "agreement_acceptances",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("accepted_at", TS, nullable=False),
        fk("agreement_acceptances", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", "version", name=op.f("pk_agreement_acceptances")),
    )


def downgrade() -> None:
    op.drop_table("agreement_acceptances")
