"""audit head: the chain's end, kept apart from the entries and sealed

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entries", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("seal", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    # The head of the chain as it stands. The key that seals heads is not the database's,
    # so a chain that already has entries stays unsealed until `qunzu audit seal`.
    bind = op.get_bind()
    entries, last_id = bind.execute(sa.text("SELECT count(*), max(id) FROM audit_log")).one()
    last_hash = GENESIS
    if last_id is not None:
        last_hash = bind.execute(
            sa.text("SELECT hash FROM audit_log WHERE id = :id"), {"id": last_id}
        ).scalar_one()
    bind.execute(
        sa.text(
            "INSERT INTO audit_head (id, entries, last_id, last_hash, seal) "
            "VALUES (1, :entries, :last_id, :last_hash, NULL)"
        ),
        {"entries": entries, "last_id": last_id or 0, "last_hash": last_hash},
    )


def downgrade() -> None:
    op.drop_table("audit_head")
