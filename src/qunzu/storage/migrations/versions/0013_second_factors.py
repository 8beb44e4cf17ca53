"""0013: second factors (TOTP, passkeys), recovery codes, sign-in challenges, and the
count of wrong second-factor codes per account."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    # In place, not a batch copy: other tables' foreign keys point at accounts.
    op.add_column(
        "accounts",
        sa.Column("second_factor", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "second_factors",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("secret_enc", sa.Text(), nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("credential_id", sa.String(length=1400), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("sign_count", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", TS, nullable=True),
        fk("second_factors", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_factors")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_second_factors_credential_id")),
    )
    op.create_index(
        op.f("ix_second_factors_account_id"), "second_factors", ["account_id"], unique=False
    )
    op.create_table(
        "recovery_codes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("used_at", TS, nullable=True),
        fk("recovery_codes", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    op.create_index(
        op.f("ix_recovery_codes_account_id"), "recovery_codes", ["account_id"], unique=False
    )
    op.create_table(
        "second_factor_challenges",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("handle_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("account_id", ID, nullable=True),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("used_at", TS, nullable=True),
        fk("second_factor_challenges", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_second_factor_challenges")),
        sa.UniqueConstraint("handle_hash", name=op.f("uq_second_factor_challenges_handle_hash")),
    )
    op.create_index(
        op.f("ix_second_factor_challenges_expires_at"),
        "second_factor_challenges",
        ["expires_at"],
        unique=False,
    )
    op.create_table(
        "second_factor_failures",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("blocked_until", TS, nullable=True),
        fk("second_factor_failures", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_second_factor_failures")),
    )


def downgrade() -> None:
    op.drop_table("second_factor_failures")
    op.drop_index(
        op.f("ix_second_factor_challenges_expires_at"), table_name="second_factor_challenges"
    )
    op.drop_table("second_factor_challenges")
    op.drop_index(op.f("ix_recovery_codes_account_id"), table_name="recovery_codes")
    op.drop_table("recovery_codes")
    op.drop_index(op.f("ix_second_factors_account_id"), table_name="second_factors")
    op.drop_table("second_factors")
    # Not a batch (a copy of the table): other tables' foreign keys point at accounts, and
    # SQLite (3.35+) drops a plain column in place.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE accounts DROP COLUMN second_factor")
    else:
        op.drop_column("accounts", "second_factor")
