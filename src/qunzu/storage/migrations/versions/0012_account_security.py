"""0012: account security: each token's kind (API bearer or web session), its address,
user agent and last use; one-time password reset codes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="api"))
        batch_op.add_column(sa.Column("address", sa.String(64), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("user_agent", sa.String(255), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("last_used_at", TS, nullable=True))
    op.create_table(
        "password_reset_codes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        fk("password_reset_codes", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_reset_codes")),
    )
    with op.batch_alter_table("password_reset_codes") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_password_reset_codes_account_id"), ["account_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("password_reset_codes")
    with op.batch_alter_table("api_tokens") as batch_op:
        for column in ("last_used_at", "user_agent", "address", "kind"):
            batch_op.drop_column(column)
