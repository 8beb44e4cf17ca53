"""0004: review queue indexes

The queue reads one status at a time in deadline order (reports_repo.queue): a
category filter gets its own index, and the overdue count (the /metrics gauge)
becomes an index-only scan with platform_visible_at in ix_cases_queue.."""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.drop_index("ix_cases_queue", table_name="cases")
    op.create_index(
        "ix_cases_queue", "cases", ["status", "deadline_at", "platform_visible_at"], unique=False
    )
    op.create_index(
        "ix_cases_queue_category", "cases", ["status", "category", "deadline_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_cases_queue_category", table_name="cases")
    op.drop_index("ix_cases_queue", table_name="cases")
    op.create_index("ix_cases_queue", "cases", ["status", "deadline_at"], unique=False)
