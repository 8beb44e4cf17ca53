"""0014: uploads (attachment content by SHA-256) and the messages that reference them."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0014"
down_revision = "0013"


def upgrade() -> None:
    op.create_table(
        "uploads",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("owner_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("mime", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("thumb_sha256", sa.String(64), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.BigInteger(), nullable=True),
        fk("uploads", "owner_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_uploads")),
    )
    op.create_index("ix_uploads_sha256", "uploads", ["sha256"])
    op.create_index("ix_uploads_created_at", "uploads", ["created_at"])
    op.create_table(
        "message_attachments",
        sa.Column("upload_id", ID, nullable=False),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        fk("message_attachments", "upload_id", "uploads"),
        sa.PrimaryKeyConstraint(
            "upload_id", "group_id", "seq", name=op.f("pk_message_attachments")
        ),
    )
    op.create_index("ix_message_attachments_group_id", "message_attachments", ["group_id", "seq"])


def downgrade() -> None:
    op.drop_table("message_attachments")
    op.drop_table("uploads")
