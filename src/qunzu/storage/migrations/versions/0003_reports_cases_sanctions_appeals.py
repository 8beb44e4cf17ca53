"""0003: reports cases sanctions appeals."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    op.create_table(
        "reporter_stats",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("upheld", sa.Integer(), nullable=False),
        sa.Column("unfounded", sa.Integer(), nullable=False),
        sa.Column("no_violation", sa.Integer(), nullable=False),
        sa.Column("warned_at", TS, nullable=True),
        sa.Column("suspended_until", TS, nullable=True),
        fk("reporter_stats", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_reporter_stats")),
    )
    op.create_table(
        "cases",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("target_key", sa.String(length=96), nullable=False),
        sa.Column("target_kind", sa.String(length=16), nullable=False),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("route", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("deadline_at", TS, nullable=False),
        sa.Column("platform_visible_at", TS, nullable=False),
        sa.Column("conduct_at", TS, nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("reporters", sa.Integer(), nullable=False),
        sa.Column("claimed_by", ID, nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=False),
        sa.Column("rulebook_version", sa.String(length=32), nullable=False),
        fk("cases", "group_id", "groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_group", ["group_id"], unique=False)
        batch_op.create_index("ix_cases_queue", ["status", "deadline_at"], unique=False)
        batch_op.create_index("ix_cases_target_status", ["target_key", "status"], unique=False)

    op.create_table(
        "evidence",
        sa.Column("case_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("sender_id", ID, nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reported", sa.Boolean(), nullable=False),
        fk("evidence", "case_id", "cases"),
        sa.PrimaryKeyConstraint("case_id", "seq", name=op.f("pk_evidence")),
    )
    op.create_table(
        "reports",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("reporter_id", ID, nullable=False),
        sa.Column("target_key", sa.String(length=96), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("extra_seqs", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("reporter_weight", sa.Float(), nullable=False),
        sa.Column("manifestly_unfounded", sa.Boolean(), nullable=False),
        fk("reports", "case_id", "cases"),
        fk("reports", "reporter_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("reporter_id", "target_key", name="uq_reports_reporter_target"),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_reports_reporter_created", ["reporter_id", "created_at"], unique=False
        )

    op.create_table(
        "sanctions",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("group_id", ID, nullable=True),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("article", sa.String(length=32), nullable=False),
        sa.Column("rulebook_version", sa.String(length=32), nullable=False),
        sa.Column("facts", sa.Text(), nullable=False),
        sa.Column("decided_by", ID, nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("appeal_until", TS, nullable=False),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("credit_delta", sa.Integer(), nullable=False),
        fk("sanctions", "case_id", "cases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sanctions")),
    )
    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.create_index("ix_sanctions_account_state", ["account_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_sanctions_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_sanctions_group_state", ["group_id", "state"], unique=False)
        batch_op.create_index("ix_sanctions_starts", ["starts_at"], unique=False)

    op.create_table(
        "appeals",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("sanction_id", ID, nullable=True),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("appellant_id", ID, nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decided_by", ID, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        fk("appeals", "appellant_id", "accounts"),
        fk("appeals", "case_id", "cases"),
        fk("appeals", "sanction_id", "sanctions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appeals")),
        sa.UniqueConstraint(
            "kind", "case_id", "appellant_id", "sanction_id", name="uq_appeals_once"
        ),
    )


def downgrade() -> None:
    op.drop_table("appeals")
    with op.batch_alter_table("sanctions", schema=None) as batch_op:
        batch_op.drop_index("ix_sanctions_starts")
        batch_op.drop_index("ix_sanctions_group_state")
        batch_op.drop_index(batch_op.f("ix_sanctions_case_id"))
        batch_op.drop_index("ix_sanctions_account_state")

    op.drop_table("sanctions")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_reporter_created")
        batch_op.drop_index(batch_op.f("ix_reports_case_id"))

    op.drop_table("reports")
    op.drop_table("evidence")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_target_status")
        batch_op.drop_index("ix_cases_queue")
        batch_op.drop_index("ix_cases_group")

    op.drop_table("cases")
    op.drop_table("reporter_stats")
