"""0001: initial schema."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from qunzu.storage.migrations.columns import ID, TS, fk

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("handle", sa.String(length=32), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("identity_verified", sa.Boolean(), nullable=False),
        sa.Column("platform_role", sa.String(length=32), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("handle", name=op.f("uq_accounts_handle")),
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_table(
        "api_tokens",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        fk("api_tokens", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_account_id"), ["account_id"], unique=False)

    op.create_table(
        "groups",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("join_policy", sa.String(length=16), nullable=False),
        sa.Column("discoverable", sa.Boolean(), nullable=False),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.Column("direct_key", sa.String(length=64), nullable=True),
        fk("groups", "owner_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_groups")),
        sa.UniqueConstraint("direct_key", name=op.f("uq_groups_direct_key")),
        sa.UniqueConstraint("number", name=op.f("uq_groups_number")),
    )
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.create_index("ix_groups_discoverable_name", ["discoverable", "name"], unique=False)

    op.create_table(
        "identities",
        sa.Column("account_id", ID, nullable=False),
        sa.Column("blind_index", sa.String(length=64), nullable=False),
        sa.Column("legal_name_enc", sa.Text(), nullable=False),
        sa.Column("resident_id_enc", sa.Text(), nullable=False),
        sa.Column("phone_enc", sa.Text(), nullable=False),
        sa.Column("masked_name", sa.String(length=64), nullable=False),
        sa.Column("masked_resident_id", sa.String(length=32), nullable=False),
        sa.Column("masked_phone", sa.String(length=32), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("verifier", sa.String(length=64), nullable=False),
        sa.Column("verification_note", sa.String(length=255), nullable=False),
        sa.Column("submitted_at", TS, nullable=False),
        fk("identities", "account_id", "accounts"),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_identities")),
    )
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identities_blind_index"), ["blind_index"], unique=False
        )

    op.create_table(
        "group_rules",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("set_by", ID, nullable=False),
        sa.Column("set_at", TS, nullable=False),
        fk("group_rules", "group_id", "groups"),
        fk("group_rules", "set_by", "accounts"),
        sa.PrimaryKeyConstraint("group_id", "version", name=op.f("pk_group_rules")),
    )
    op.create_table(
        "invitations",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("inviter_id", ID, nullable=False),
        sa.Column("invitee_id", ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        fk("invitations", "group_id", "groups"),
        fk("invitations", "invitee_id", "accounts"),
        fk("invitations", "inviter_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index("ix_invitations_invitee_state", ["invitee_id", "state"], unique=False)

    op.create_table(
        "join_requests",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("note", sa.String(length=280), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("rules_version", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_by", ID, nullable=True),
        fk("join_requests", "account_id", "accounts"),
        fk("join_requests", "decided_by", "accounts"),
        fk("join_requests", "group_id", "groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_requests")),
    )
    with op.batch_alter_table("join_requests", schema=None) as batch_op:
        batch_op.create_index("ix_join_requests_group_state", ["group_id", "state"], unique=False)

    op.create_table(
        "memberships",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("account_id", ID, nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("joined_at", TS, nullable=False),
        sa.Column("joined_seq", sa.BigInteger(), nullable=False),
        sa.Column("left_seq", sa.BigInteger(), nullable=True),
        sa.Column("accepted_rules_version", sa.Integer(), nullable=False),
        fk("memberships", "account_id", "accounts"),
        fk("memberships", "group_id", "groups"),
        sa.PrimaryKeyConstraint("group_id", "account_id", name=op.f("pk_memberships")),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index("ix_memberships_account_state", ["account_id", "state"], unique=False)

    op.create_table(
        "ownership_offers",
        sa.Column(
            "id",
            ID,
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("group_id", ID, nullable=False),
        sa.Column("from_id", ID, nullable=False),
        sa.Column("to_id", ID, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        fk("ownership_offers", "from_id", "accounts"),
        fk("ownership_offers", "group_id", "groups"),
        fk("ownership_offers", "to_id", "accounts"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ownership_offers")),
    )
    with op.batch_alter_table("ownership_offers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ownership_offers_group_id"), ["group_id"], unique=False
        )

    op.create_table(
        "timeline",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("sender_id", ID, nullable=True),
        sa.Column("client_txn_id", sa.String(length=64), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        fk("timeline", "group_id", "groups"),
        fk("timeline", "sender_id", "accounts"),
        sa.PrimaryKeyConstraint("group_id", "seq", name=op.f("pk_timeline")),
        sa.UniqueConstraint("sender_id", "client_txn_id", name="uq_timeline_sender_txn"),
    )


def downgrade() -> None:
    op.drop_table("timeline")
    with op.batch_alter_table("ownership_offers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ownership_offers_group_id"))

    op.drop_table("ownership_offers")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index("ix_memberships_account_state")

    op.drop_table("memberships")
    with op.batch_alter_table("join_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_join_requests_group_state")

    op.drop_table("join_requests")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_invitations_invitee_state")

    op.drop_table("invitations")
    op.drop_table("group_rules")
    with op.batch_alter_table("identities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identities_blind_index"))

    op.drop_table("identities")
    with op.batch_alter_table("groups", schema=None) as batch_op:
        batch_op.drop_index("ix_groups_discoverable_name")

    op.drop_table("groups")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_account_id"))

    op.drop_table("api_tokens")
    op.drop_table("audit_log")
    op.drop_table("accounts")
