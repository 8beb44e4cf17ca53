"""Table definitions (SQLAlchemy Core). Alembic migrations are written against these."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# BigInteger ids on PostgreSQL, INTEGER PRIMARY KEY (rowid) on SQLite.
Id = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

TS = UTCDateTime()

accounts = Table(
    "accounts",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("handle", String(32), nullable=False, unique=True),
    Column("display_name", String(64), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("identity_verified", Boolean, nullable=False, default=False),
    Column("platform_role", String(32), nullable=True),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("second_factor", Boolean, nullable=False, server_default=false()),
)

identities = Table(
    "identities",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("blind_index", String(64), nullable=False, index=True),
    Column("legal_name_enc", Text, nullable=False),
    Column("resident_id_enc", Text, nullable=False),
    Column("phone_enc", Text, nullable=False),
    Column("masked_name", String(64), nullable=False),
    Column("masked_resident_id", String(32), nullable=False),
    Column("masked_phone", String(32), nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("verifier", String(64), nullable=False),
    Column("verification_note", String(255), nullable=False, default=""),
    Column("submitted_at", TS, nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("label", String(64), nullable=False, default=""),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("revoked_at", TS, nullable=True),
    Column("kind", String(8), nullable=False, default="api", server_default="api"),
    Column("address", String(64), nullable=False, default="", server_default=""),
    Column("user_agent", String(255), nullable=False, default="", server_default=""),
    Column("last_used_at", TS, nullable=True),
)

# One-time codes that reset a password, sent to the account's verified mobile number.
# Only a keyed hash of each code is kept.
password_reset_codes = Table(
    "password_reset_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
    Column("used_at", TS, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
)

groups = Table(
    "groups",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("number", BigInteger, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("name", String(64), nullable=False),
    Column("category", String(32), nullable=True),
    Column("join_policy", String(16), nullable=False),
    Column("discoverable", Boolean, nullable=False, default=False),
    Column("owner_id", Id, ForeignKey("accounts.id"), nullable=True),
    Column("state", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("last_seq", BigInteger, nullable=False, default=0),
    Column("rules_version", Integer, nullable=False, default=0),
    Column("member_count", Integer, nullable=False, default=0),
    # For direct conversations: "minid:maxid", so a pair has at most one conversation.
    Column("direct_key", String(64), nullable=True, unique=True),
)
Index("ix_groups_discoverable_name", groups.c.discoverable, groups.c.name)

memberships = Table(
    "memberships",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("joined_at", TS, nullable=False),
    Column("joined_seq", BigInteger, nullable=False),
    Column("left_seq", BigInteger, nullable=True),
    Column("accepted_rules_version", Integer, nullable=False, default=0),
    # Earlier membership periods, [[joined_seq, left_seq], ...] (Membership.earlier).
    Column("earlier", JSON, nullable=True),
)
Index("ix_memberships_account_state", memberships.c.account_id, memberships.c.state)

group_rules = Table(
    "group_rules",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("text", Text, nullable=False),
    Column("set_by", Id, ForeignKey("accounts.id"), nullable=False),
    Column("set_at", TS, nullable=False),
)

timeline = Table(
    "timeline",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("sender_id", Id, ForeignKey("accounts.id"), nullable=True),
    Column("client_txn_id", String(64), nullable=True),
    Column("body", Text, nullable=True),
    Column("data", JSON, nullable=True),
    Column("created_at", TS, nullable=False),
    UniqueConstraint("sender_id", "client_txn_id", name="uq_timeline_sender_txn"),
)

invitations = Table(
    "invitations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("inviter_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("invitee_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("expires_at", TS, nullable=False),
)
Index("ix_invitations_invitee_state", invitations.c.invitee_id, invitations.c.state)

join_requests = Table(
    "join_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("note", String(280), nullable=False, default=""),
    Column("state", String(16), nullable=False),
    Column("rules_version", Integer, nullable=False, default=0),
    Column("created_at", TS, nullable=False),
    Column("decided_by", Id, ForeignKey("accounts.id"), nullable=True),
)
Index("ix_join_requests_group_state", join_requests.c.group_id, join_requests.c.state)

ownership_offers = Table(
    "ownership_offers",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False, index=True),
    Column("from_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("to_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", TS, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("at", TS, nullable=False),
    Column("actor_id", Id, nullable=True),
    Column("action", String(64), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("detail", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# One row (id 1): the chain's end as the last append left it, sealed (crypto.audit_chain).
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("entries", Id, nullable=False),
    Column("last_id", Id, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("seal", String(64), nullable=True),
)

# One row (id 1): where purges left the audit chain (services.retention), sealed.
audit_checkpoint = Table(
    "audit_checkpoint",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("dropped", Id, nullable=False),
    Column("last_id", Id, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("seal", String(64), nullable=False),
)

# ---- credit, activity and tiers (rulebook issue; migration 0002) --------------------------

credit_ledger = Table(
    "credit_ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("delta", Integer, nullable=False),
    Column("reason", String(32), nullable=False),
    Column("article", String(32), nullable=True),
    Column("source", String(64), nullable=True),
    Column("note", String(255), nullable=False, default=""),
    Column("at", TS, nullable=False),
)
Index("ix_credit_ledger_account_at", credit_ledger.c.account_id, credit_ledger.c.at)

account_credit = Table(
    "account_credit",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("score", Integer, nullable=False),
    Column("level", Integer, nullable=False),
    Column("locked_level", Integer, nullable=True),
    Column("locked_by", Id, nullable=True),
    Column("age_points", Integer, nullable=False, default=0),
    Column("activity_points", Integer, nullable=False, default=0),
    Column("computed_at", TS, nullable=False),
)

account_active_days = Table(
    "account_active_days",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("day", String(10), primary_key=True),  # ISO date, UTC
)

group_activity = Table(
    "group_activity",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("created_by", Id, ForeignKey("accounts.id"), nullable=True),
    Column("tier", String(16), nullable=False),
    Column("last_activity_at", TS, nullable=True),
)
Index("ix_group_activity_created_by", group_activity.c.created_by)

member_activity = Table(
    "member_activity",
    metadata,
    Column("group_id", Id, primary_key=True),
    Column("account_id", Id, primary_key=True),
    Column("last_active_at", TS, nullable=False),
)

Index("ix_timeline_group_created", timeline.c.group_id, timeline.c.created_at)
Index("ix_invitations_inviter_created", invitations.c.inviter_id, invitations.c.created_at)
Index("ix_groups_owner_state", groups.c.owner_id, groups.c.state)

# ---- reports, cases, sanctions, appeals (reports issue; migration 0003) -------------------

cases = Table(
    "cases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("target_key", String(96), nullable=False),
    Column("target_kind", String(16), nullable=False),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("seq", BigInteger, nullable=True),
    Column("account_id", Id, nullable=True),
    Column("category", String(32), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("tier", String(16), nullable=False),
    Column("route", String(16), nullable=False),
    Column("status", String(24), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("deadline_at", TS, nullable=False),
    Column("platform_visible_at", TS, nullable=False),
    Column("conduct_at", TS, nullable=False),
    Column("priority", Float, nullable=False),
    Column("reporters", Integer, nullable=False),
    Column("claimed_by", Id, nullable=True),
    Column("decision", String(16), nullable=True),
    Column("decided_by", Id, nullable=True),
    Column("decided_at", TS, nullable=True),
    Column("decision_note", Text, nullable=False, default=""),
    Column("rulebook_version", String(32), nullable=False, default=""),
)
Index("ix_cases_target_status", cases.c.target_key, cases.c.status)
# The review queue walks these in deadline order, one status at a time (reports_repo.queue);
# platform_visible_at makes the overdue count (the /metrics gauge) an index-only scan.
Index("ix_cases_queue", cases.c.status, cases.c.deadline_at, cases.c.platform_visible_at)
Index("ix_cases_queue_category", cases.c.status, cases.c.category, cases.c.deadline_at)
Index("ix_cases_group", cases.c.group_id)

reports = Table(
    "reports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False, index=True),
    Column("reporter_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("target_key", String(96), nullable=False),
    Column("category", String(32), nullable=False),
    Column("statement", Text, nullable=False),
    Column("extra_seqs", JSON, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("reporter_weight", Float, nullable=False),
    Column("manifestly_unfounded", Boolean, nullable=False, default=False),
    UniqueConstraint("reporter_id", "target_key", name="uq_reports_reporter_target"),
)
Index("ix_reports_reporter_created", reports.c.reporter_id, reports.c.created_at)

evidence = Table(
    "evidence",
    metadata,
    Column("case_id", Id, ForeignKey("cases.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("sender_id", Id, nullable=True),
    Column("body", Text, nullable=True),
    Column("kind", String(32), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("reported", Boolean, nullable=False),
)

sanctions = Table(
    "sanctions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("target", String(16), nullable=False),
    Column("group_id", Id, nullable=True),
    Column("account_id", Id, nullable=True),
    Column("article", String(32), nullable=False),
    Column("rulebook_version", String(32), nullable=False),
    Column("facts", Text, nullable=False),
    Column("decided_by", Id, nullable=False),
    Column("automated", Boolean, nullable=False, default=False),
    Column("starts_at", TS, nullable=False),
    Column("ends_at", TS, nullable=True),
    Column("state", String(16), nullable=False),
    Column("appeal_until", TS, nullable=False),
    Column("acknowledged_at", TS, nullable=True),
    Column("credit_delta", Integer, nullable=False, default=0),
    # A person-wide measure's twin on another account of the same identity (0019).
    Column("person_of", Id, nullable=True, index=True),
)
Index("ix_sanctions_group_state", sanctions.c.group_id, sanctions.c.state)
Index("ix_sanctions_account_state", sanctions.c.account_id, sanctions.c.state)
Index("ix_sanctions_starts", sanctions.c.starts_at)

appeals = Table(
    "appeals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(24), nullable=False),
    Column("sanction_id", Id, ForeignKey("sanctions.id"), nullable=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False),
    Column("appellant_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("statement", Text, nullable=False),
    Column("created_at", TS, nullable=False),
    Column("state", String(16), nullable=False),
    Column("decided_by", Id, nullable=True),
    Column("decided_at", TS, nullable=True),
    Column("note", Text, nullable=False, default=""),
    UniqueConstraint("kind", "case_id", "appellant_id", "sanction_id", name="uq_appeals_once"),
)

reporter_stats = Table(
    "reporter_stats",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("upheld", Integer, nullable=False, default=0),
    Column("unfounded", Integer, nullable=False, default=0),
    Column("no_violation", Integer, nullable=False, default=0),
    # Warnings and suspensions for misuse of reporting are sanctions (migration 0009).
)

# ---- owner tools and the duty of care (owner issue; migration 0005) -----------------------

admin_rights = Table(
    "admin_rights",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("rights", JSON, nullable=False),
    Column("granted_by", Id, nullable=False),
    Column("granted_at", TS, nullable=False),
)

mutes = Table(
    "mutes",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("until", TS, nullable=False),
    Column("reason", String(500), nullable=False, default=""),
    Column("by", Id, nullable=False),
    Column("at", TS, nullable=False),
)

group_controls = Table(
    "group_controls",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("mute_all", Boolean, nullable=False, default=False),
    Column("slow_mode_seconds", Integer, nullable=False, default=0),
    Column("notice_text", Text, nullable=True),
    Column("notice_by", Id, nullable=True),
    Column("notice_at", TS, nullable=True),
    Column("unattended_since", TS, nullable=True),
    Column("read_only_since", TS, nullable=True),
)

duty_ledger = Table(
    "duty_ledger",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("account_id", Id, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("seq", BigInteger, nullable=True),
    Column("subject_id", Id, nullable=True),
    Column("case_id", Id, nullable=True),
    Column("note", String(500), nullable=False, default=""),
    Column("at", TS, nullable=False),
)
Index("ix_duty_ledger_group_at", duty_ledger.c.group_id, duty_ledger.c.at)

read_cursors = Table(
    "read_cursors",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("at", TS, nullable=False),
)

# Accounts removed with a bar on rejoining, until an owner or admin lifts it.
member_bars = Table(
    "member_bars",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("reason", String(500), nullable=False, default=""),
    Column("by", Id, nullable=False),
    Column("at", TS, nullable=False),
)

# The periodic jobs' last runs (services/jobs.py): when each last started, how it ended,
# on which node. The scheduler reads it to know what is due, across restarts and nodes.
job_runs = Table(
    "job_runs",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("started_at", TS, nullable=False),
    Column("finished_at", TS, nullable=True),
    Column("outcome", String(16), nullable=False),
    Column("via", String(16), nullable=False),
    Column("node", String(128), nullable=False),
    Column("detail", JSON, nullable=False),
)


# The service agreement and user convention (服务协议与用户公约) each account accepted, by
# version (policies/agreement.toml); a newer version is asked for at the next login.
agreement_acceptances = Table(
    "agreement_acceptances",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("accepted_at", TS, nullable=False),
)


# Requests from the authorities (依法调取, services/lawful_access.py): who asked, on what
# basis, the scope, and the four-eyes decision. The scope's lists are JSON id lists.
access_requests = Table(
    "access_requests",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("authority", String(200), nullable=False),
    Column("authority_kind", String(32), nullable=False),
    Column("legal_basis", String(1000), nullable=False),
    Column("document_ref", String(200), nullable=False),
    Column("private_tier_basis", String(1000), nullable=True),
    Column("account_ids", JSON, nullable=False),
    Column("group_ids", JSON, nullable=False),
    Column("period_start", TS, nullable=False),
    Column("period_end", TS, nullable=False),
    Column("data_classes", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("registered_by", Id, ForeignKey("accounts.id"), nullable=False),
    Column("registered_at", TS, nullable=False),
    Column("decided_by", Id, ForeignKey("accounts.id"), nullable=True),
    Column("decided_at", TS, nullable=True),
    Column("decision_note", String(1000), nullable=True),
    Column("exports", Integer, nullable=False, default=0),
    Column("closed_at", TS, nullable=True),
)

# Matters passed on to the authorities, waiting in the officers' outbox until closed.
referrals = Table(
    "referrals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("group_id", Id, ForeignKey("groups.id"), nullable=False),
    Column("case_id", Id, nullable=True),
    Column("account_id", Id, nullable=True),
    Column("summary", String(1000), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("state", String(16), nullable=False),
    Column("closed_by", Id, nullable=True),
    Column("closed_at", TS, nullable=True),
    Column("outcome", String(1000), nullable=True),
    Index("ix_referrals_state_created", "state", "created_at"),
)


# A person's copy of their own data (services/personal_data.py): built in the background,
# downloadable once until it expires; the content goes when downloaded or expired.
data_exports = Table(
    "data_exports",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("state", String(16), nullable=False),
    Column("requested_at", TS, nullable=False),
    Column("ready_at", TS, nullable=True),
    Column("expires_at", TS, nullable=True),
    Column("downloaded_at", TS, nullable=True),
    Column("size", Integer, nullable=False, default=0),
    Column("content", Text, nullable=True),
)


# Accounts their owners deleted (services/account_deletion.py): the row stays (its handle
# reserved, its messages attributable); the identity goes when retention and holds allow.
account_deletions = Table(
    "account_deletions",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("deleted_at", TS, nullable=False, index=True),
    Column("messages_removed", Boolean, nullable=False),
)
# ---- attachments (uploads, and which messages reference them) ----------------------------

uploads = Table(
    "uploads",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("owner_id", Id, ForeignKey("accounts.id"), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("name", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("mime", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("thumb_sha256", String(64), nullable=True),
    Column("width", Integer, nullable=True),
    Column("height", Integer, nullable=True),
    Column("duration_ms", BigInteger, nullable=True),
)
Index("ix_uploads_sha256", uploads.c.sha256)
Index("ix_uploads_created_at", uploads.c.created_at)

message_attachments = Table(
    "message_attachments",
    metadata,
    Column("upload_id", Id, ForeignKey("uploads.id"), primary_key=True),
    Column("group_id", Id, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
)
Index("ix_message_attachments_group_id", message_attachments.c.group_id, message_attachments.c.seq)


# ---- second factors (migration 0013) -------------------------------------------------

second_factors = Table(
    "second_factors",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("label", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("confirmed_at", TS, nullable=True),
    Column("secret_enc", Text, nullable=True),
    Column("last_step", BigInteger, nullable=True),
    Column("credential_id", String(1400), nullable=True, unique=True),
    Column("public_key", Text, nullable=True),
    Column("sign_count", BigInteger, nullable=False, default=0),
    Column("last_used_at", TS, nullable=True),
)

recovery_codes = Table(
    "recovery_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
    Column("created_at", TS, nullable=False),
    Column("used_at", TS, nullable=True),
)

second_factor_challenges = Table(
    "second_factor_challenges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("handle_hash", String(64), nullable=False, unique=True),
    Column("purpose", String(32), nullable=False),
    Column("account_id", Id, ForeignKey("accounts.id"), nullable=True),
    Column("expires_at", TS, nullable=False, index=True),
    Column("label", String(64), nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("used_at", TS, nullable=True),
)

second_factor_failures = Table(
    "second_factor_failures",
    metadata,
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("blocked_until", TS, nullable=True),
)


# ---- conversation (services/conversation.py, domain/conversation.py) ---------------------

# Who a message mentions: one row per mentioned account, or one row with account_id 0 for
# @all (counted for every member without a row each). Unread mention counts are indexed
# range counts over (group_id, account_id, seq) past a member's read cursor.
message_mentions = Table(
    "message_mentions",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("account_id", Id, primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("sender_id", Id, nullable=False),
    Column("at", TS, nullable=False),
)

# A recalled message's text, kept as evidence until keep_until (the rulebook's retention).
recalled_messages = Table(
    "recalled_messages",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("sender_id", Id, nullable=False),
    Column("body", Text, nullable=False),
    Column("recalled_at", TS, nullable=False),
    Column("keep_until", TS, nullable=False),
)

pinned_messages = Table(
    "pinned_messages",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("pinned_by", Id, nullable=False),
    Column("pinned_at", TS, nullable=False),
)

# Per-group nicknames (群昵称), set by the member, shown in that group only.
group_nicknames = Table(
    "group_nicknames",
    metadata,
    Column("group_id", Id, ForeignKey("groups.id"), primary_key=True),
    Column("account_id", Id, ForeignKey("accounts.id"), primary_key=True),
    Column("nickname", String(64), nullable=False),
    Column("set_at", TS, nullable=False),
)
