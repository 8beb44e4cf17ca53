"""0020: the audit chain's purge checkpoint (services.retention, crypto.audit_chain)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID

revision = "0020"
down_revision = "0019"


def upgrade() -> None:
    op.create_table(
        "audit_checkpoint",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dropped", ID, nullable=False),
        sa.Column("last_id", ID, nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("seal", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoint")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoint")
