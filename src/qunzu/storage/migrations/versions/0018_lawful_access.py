"""0018: requests from the authorities (four eyes, scope, legal hold) and the referral outbox."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0018"
down_revision = "0016"


def upgrade() -> None:
    op.create_table(
        "access_requests",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("authority", sa.String(200), nullable=False),
        sa.Column("authority_kind", sa.String(32), nullable=False),
        sa.Column("legal_basis", sa.String(1000), nullable=False),
        sa.Column("document_ref", sa.String(200), nullable=False),
        sa.Column("private_tier_basis", sa.String(1000), nullable=True),
        sa.Column("account_ids", sa.JSON(), nullable=False),
        sa.Column("group_ids", sa.JSON(), nullable=False),
        sa.Column("period_start", TS, nullable=False),
        sa.Column("period_end", TS, nullable=False),
        sa.Column("data_classes", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("registered_by", ID, nullable=False),
        sa.Column("registered_at", TS, nullable=False),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.String(1000), nullable=True),
        sa.Column("exports", sa.Integer(), nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        fk("access_requests", "registered_by", "accounts"),
        fk("access_requests", "decided_by", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_requests")),
    )
    op.create_table(
        "referrals",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=True),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("summary", sa.String(1000), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("closed_by", ID, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("outcome", sa.String(1000), nullable=True),
        fk("referrals", "group_id", "groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")),
    )
    op.create_index("ix_referrals_state_created", "referrals", ["state", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_referrals_state_created", table_name="referrals")
    op.drop_table("referrals")
    op.drop_table("access_requests")
