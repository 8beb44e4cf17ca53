"""misuse-of-reporting measures are sanctions

The warning and the suspension of reporting (Art. 12; DSA Art. 23) were two columns of
``reporter_stats`` (``warned_at``, ``suspended_until``), with no statement of reasons and
no appeal. They are now sanctions (``reporting_warning``, ``reporting_suspension``) like
every other measure. Each recorded warning and suspension becomes a sanction row, so
nobody loses a record and a suspension in force stays in force; the two columns go.

The converted rows take their case, their reviewer and their rulebook version from the
reporter's manifestly unfounded report decided last before the measure; their appeal
window is the default rulebook's 180 days and a warning lasts its 90-day window.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

APPEAL_DAYS = 180
WARNING_DAYS = 90
TS = sa.DateTime(timezone=True)

_stats = sa.table(
    "reporter_stats",
    sa.column("account_id", sa.BigInteger()),
    sa.column("warned_at", TS),
    sa.column("suspended_until", TS),
)
_reports = sa.table(
    "reports",
    sa.column("reporter_id", sa.BigInteger()),
    sa.column("case_id", sa.BigInteger()),
    sa.column("manifestly_unfounded", sa.Boolean()),
)
_cases = sa.table(
    "cases",
    sa.column("id", sa.BigInteger()),
    sa.column("decided_by", sa.BigInteger()),
    sa.column("decided_at", TS),
    sa.column("rulebook_version", sa.String()),
)
_sanctions = sa.table(
    "sanctions",
    *(
        sa.column(name, kind)
        for name, kind in (
            ("case_id", sa.BigInteger()),
            ("kind", sa.String()),
            ("target", sa.String()),
            ("group_id", sa.BigInteger()),
            ("account_id", sa.BigInteger()),
            ("article", sa.String()),
            ("rulebook_version", sa.String()),
            ("facts", sa.Text()),
            ("decided_by", sa.BigInteger()),
            ("automated", sa.Boolean()),
            ("starts_at", TS),
            ("ends_at", TS),
            ("state", sa.String()),
            ("appeal_until", TS),
            ("acknowledged_at", TS),
            ("credit_delta", sa.Integer()),
        )
    ),
)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _stored(value: datetime, sqlite: bool) -> datetime:
    """As the application stores it: naive UTC on SQLite, aware elsewhere."""
    return value.replace(tzinfo=None) if sqlite else value


def _trigger(bind: Any, account_id: int, at: datetime) -> Any:
    """The reporter's unfounded report decided last by ``at`` (or, failing that, ever)."""
    rows = bind.execute(
        sa.select(_cases.c.id, _cases.c.decided_by, _cases.c.decided_at, _cases.c.rulebook_version)
        .join(_reports, _reports.c.case_id == _cases.c.id)
        .where(
            _reports.c.reporter_id == account_id,
            _reports.c.manifestly_unfounded.is_(True),
            _cases.c.decided_by.is_not(None),
            _cases.c.decided_at.is_not(None),
        )
        .order_by(_cases.c.decided_at.desc(), _cases.c.id.desc())
    ).all()
    before = [r for r in rows if _aware(r.decided_at) <= at]
    return (before or rows or [None])[0]


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    records = bind.execute(
        sa.select(_stats).where(
            sa.or_(_stats.c.warned_at.is_not(None), _stats.c.suspended_until.is_not(None))
        )
    ).all()
    for record in records:
        measures: list[tuple[str, datetime | None, datetime]] = []
        if record.warned_at is not None:
            warned = _aware(record.warned_at)
            measures.append(("reporting_warning", warned, warned + timedelta(days=WARNING_DAYS)))
        if record.suspended_until is not None:
            measures.append(("reporting_suspension", None, _aware(record.suspended_until)))
        for kind, start, end in measures:
            case = _trigger(bind, record.account_id, start or end)
            if case is None:
                continue  # no decided unfounded report to tie it to: nothing to convert
            starts_at = start or _aware(case.decided_at)
            bind.execute(
                _sanctions.insert().values(
                    case_id=case.id,
                    kind=kind,
                    target="account",
                    group_id=None,
                    account_id=record.account_id,
                    article="art-12",
                    rulebook_version=case.rulebook_version or "",
                    facts=(
                        "Repeated manifestly unfounded reports; recorded from the reporter's "
                        "record when measures against misuse of reporting became sanctions."
                    ),
                    decided_by=case.decided_by,
                    automated=True,
                    starts_at=_stored(starts_at, sqlite),
                    ends_at=_stored(end, sqlite),
                    state="active",
                    appeal_until=_stored(starts_at + timedelta(days=APPEAL_DAYS), sqlite),
                    acknowledged_at=None,
                    credit_delta=0,
                )
            )
    with op.batch_alter_table("reporter_stats") as batch:
        batch.drop_column("suspended_until")
        batch.drop_column("warned_at")


def downgrade() -> None:
    with op.batch_alter_table("reporter_stats") as batch:
        batch.add_column(sa.Column("warned_at", TS, nullable=True))
        batch.add_column(sa.Column("suspended_until", TS, nullable=True))
    # The sanctions stay (records are never deleted); the columns get their latest values.
    bind = op.get_bind()
    s = _sanctions
    for kind, column, source in (
        ("reporting_warning", "warned_at", s.c.starts_at),
        ("reporting_suspension", "suspended_until", s.c.ends_at),
    ):
        latest = (
            sa.select(sa.func.max(source))
            .where(s.c.account_id == _stats.c.account_id, s.c.kind == kind, s.c.state == "active")
            .scalar_subquery()
        )
        bind.execute(sa.update(_stats).values({column: latest}))
