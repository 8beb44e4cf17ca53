"""Credit ledger, credit state and activity: SQL implementations."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Integer,
    MetaData,
    Table,
    and_,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal,
    or_,
    select,
    text,
    update,
)

from qunzu.domain.credit import (
    FADES_LIKE_PENALTY,
    NEVER_FADES,
    CreditEntry,
    CreditReason,
    CreditState,
    level_for,
)
from qunzu.domain.models import GroupKind, GroupState, MembershipState
from qunzu.domain.rulebook import CreditPolicy
from qunzu.services.ports import GroupActivity
from qunzu.storage import tables as t
from qunzu.storage.fastsql import prebuilt
from qunzu.storage.mapping import row_reader, row_values

# Statements on the message path, built once (see storage/repositories.py).
_TOUCH_GROUP = prebuilt(
    update(t.group_activity)
    .where(t.group_activity.c.group_id == bindparam("b_group_id"))
    .values(last_activity_at=bindparam("b_at", type_=t.UTCDateTime()))
)
_TOUCH_MEMBER = prebuilt(
    update(t.member_activity)
    .where(
        t.member_activity.c.group_id == bindparam("b_group_id"),
        t.member_activity.c.account_id == bindparam("b_account_id"),
    )
    .values(last_active_at=bindparam("b_at", type_=t.UTCDateTime()))
)
_CREDIT_STATE = prebuilt(
    select(t.account_credit).where(t.account_credit.c.account_id == bindparam("account_id"))
)


class _Repo:
    def __init__(self, conn: Any) -> None:
        self.c = conn


_entry = row_reader(CreditEntry)


def _entry_values(entry: CreditEntry) -> dict[str, Any]:
    return row_values(entry, note=entry.note[:255])


class SqlCredit(_Repo):
    async def add_entry(self, entry: CreditEntry) -> int:
        res = await self.c.execute(
            t.credit_ledger.insert().values(**_entry_values(entry)).returning(t.credit_ledger.c.id)
        )
        return int(res.scalar_one())

    async def add_entries(self, entries: list[CreditEntry]) -> None:
        if not entries:
            return
        await self.c.execute(
            t.credit_ledger.insert(),
            [_entry_values(e) for e in entries],
        )

    async def entries(self, account_id: int, limit: int | None = None) -> list[CreditEntry]:
        ledger = t.credit_ledger
        stmt = (
            select(ledger)
            .where(ledger.c.account_id == account_id)
            .order_by(ledger.c.at.desc(), ledger.c.id.desc())
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return [_entry(r) for r in await self.c.execute(stmt)]

    async def get_state(self, account_id: int) -> CreditState | None:
        row = (await self.c.execute(_CREDIT_STATE, {"account_id": account_id})).first()
        if row is None:
            return None
        return CreditState(
            account_id=row.account_id,
            score=row.score,
            level=row.level,
            computed_at=row.computed_at,
            locked_level=row.locked_level,
            locked_by=row.locked_by,
            age_points=row.age_points,
            activity_points=row.activity_points,
        )

    async def put_state(self, state: CreditState) -> None:
        ac = t.account_credit
        values = {
            "score": state.score,
            "level": state.level,
            "computed_at": state.computed_at,
            "locked_level": state.locked_level,
            "locked_by": state.locked_by,
            "age_points": state.age_points,
            "activity_points": state.activity_points,
        }
        res = await self.c.execute(
            update(ac).where(ac.c.account_id == state.account_id).values(**values)
        )
        if res.rowcount == 0:
            await self.c.execute(ac.insert().values(account_id=state.account_id, **values))

    async def mark_active_day(self, account_id: int, day: str) -> None:
        days = t.account_active_days
        exists = (
            await self.c.execute(
                select(days.c.day).where(days.c.account_id == account_id, days.c.day == day)
            )
        ).first()
        if exists is None:
            await self.c.execute(days.insert().values(account_id=account_id, day=day))

    async def active_days_since(self, account_id: int, first_day: str) -> int:
        days = t.account_active_days
        res = await self.c.execute(
            select(func.count())
            .select_from(days)
            .where(days.c.account_id == account_id, days.c.day >= first_day)
        )
        return int(res.scalar_one())

    async def recompute_batch(
        self, now: datetime, policy: CreditPolicy, after: int, limit: int
    ) -> tuple[int, int]:
        return await bulk_recompute(self.c, now, policy, after, limit)


class SqlActivity(_Repo):
    async def init_group(self, group_id: int, created_by: int | None, tier: str) -> None:
        await self.c.execute(
            t.group_activity.insert().values(
                group_id=group_id, created_by=created_by, tier=tier, last_activity_at=None
            )
        )

    async def get_group(self, group_id: int) -> GroupActivity | None:
        ga = t.group_activity
        row = (await self.c.execute(select(ga).where(ga.c.group_id == group_id))).first()
        if row is None:
            return None
        return GroupActivity(row.group_id, row.created_by, row.tier, row.last_activity_at)

    async def set_tier(self, group_id: int, tier: str) -> None:
        ga = t.group_activity
        res = await self.c.execute(update(ga).where(ga.c.group_id == group_id).values(tier=tier))
        if res.rowcount == 0:
            await self.c.execute(ga.insert().values(group_id=group_id, tier=tier))

    async def touch(self, group_id: int, account_id: int | None, at: datetime) -> None:
        ma = t.member_activity
        await self.c.execute(_TOUCH_GROUP, {"b_group_id": group_id, "b_at": at})
        if account_id is None:
            return
        res = await self.c.execute(
            _TOUCH_MEMBER, {"b_group_id": group_id, "b_account_id": account_id, "b_at": at}
        )
        if res.rowcount == 0:
            await self.c.execute(
                ma.insert().values(group_id=group_id, account_id=account_id, last_active_at=at)
            )

    async def messages_since(self, group_id: int, since: datetime) -> int:
        tl = t.timeline
        res = await self.c.execute(
            select(func.count())
            .select_from(tl)
            .where(tl.c.group_id == group_id, tl.c.created_at >= since, tl.c.kind == "message")
        )
        return int(res.scalar_one())

    async def groups_created_since(self, account_id: int, since: datetime) -> int:
        ga, g = t.group_activity, t.groups
        res = await self.c.execute(
            select(func.count())
            .select_from(ga.join(g, g.c.id == ga.c.group_id))
            .where(
                ga.c.created_by == account_id,
                g.c.created_at >= since,
                g.c.kind == GroupKind.group.value,
            )
        )
        return int(res.scalar_one())

    async def groups_owned(self, account_id: int) -> int:
        g = t.groups
        res = await self.c.execute(
            select(func.count())
            .select_from(g)
            .where(
                g.c.owner_id == account_id,
                g.c.state == GroupState.active.value,
                g.c.kind == GroupKind.group.value,
            )
        )
        return int(res.scalar_one())

    async def groups_joined(self, account_id: int) -> int:
        m, g = t.memberships, t.groups
        res = await self.c.execute(
            select(func.count())
            .select_from(m.join(g, g.c.id == m.c.group_id))
            .where(
                m.c.account_id == account_id,
                m.c.state == MembershipState.active.value,
                g.c.kind == GroupKind.group.value,
                g.c.state == GroupState.active.value,
            )
        )
        return int(res.scalar_one())

    async def invitations_since(self, inviter_id: int, since: datetime) -> int:
        i = t.invitations
        res = await self.c.execute(
            select(func.count())
            .select_from(i)
            .where(i.c.inviter_id == inviter_id, i.c.created_at >= since)
        )
        return int(res.scalar_one())

    async def member_last_active(self, group_id: int, account_id: int) -> datetime | None:
        ma = t.member_activity
        row = (
            await self.c.execute(
                select(ma.c.last_active_at).where(
                    ma.c.group_id == group_id, ma.c.account_id == account_id
                )
            )
        ).first()
        return row[0] if row else None


def _days_between(dialect: str, later: Any, earlier: Any) -> Any:
    """Days from ``earlier`` to ``later`` as a float, in each backend's own arithmetic."""
    if dialect == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return extract("epoch", later - earlier) / 86_400.0


# Scratch tables of one recompute: created, filled and dropped inside its transaction
# (temporary, so private to the connection; PostgreSQL also drops them at commit).
_scratch = MetaData()
_derived = Table(
    "qunzu_credit_derived",
    _scratch,
    Column("account_id", t.Id, primary_key=True),
    Column("new_age", Integer, nullable=False),
    Column("new_activity", Integer, nullable=False),
    Column("old_age", Integer, nullable=False),
    Column("old_activity", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_fresh = Table(
    "qunzu_credit_fresh",
    _scratch,
    Column("account_id", t.Id, primary_key=True),
    Column("verified", Boolean, nullable=False),
    Column("score", Integer, nullable=False),
    Column("new_age", Integer, nullable=False),
    Column("new_activity", Integer, nullable=False),
    Column("previous", Integer, nullable=True),
    Column("locked_level", Integer, nullable=True),
    Column("locked_by", t.Id, nullable=True),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_levels = Table(
    "qunzu_credit_levels",
    _scratch,
    Column("score", Integer, primary_key=True),
    Column("verified", Boolean, primary_key=True),
    Column("previous", Integer, primary_key=True),
    Column("level", Integer, nullable=False),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DROP",
)
_SCRATCH = (_derived, _fresh, _levels)


async def bulk_recompute(
    conn: Any, now: datetime, policy: CreditPolicy, after: int = 0, limit: int = 1000
) -> tuple[int, int]:
    """Recompute up to ``limit`` accounts with ids above ``after`` in a few set-based
    statements; returns how many, and the last id (``qunzu credit recompute`` and the
    scheduled job call it batch after batch, one short transaction each, so SQLite's
    write lock is never held long beside a live server).

    The same rules as ``services.credit.recompute_account``, expressed in SQL so a
    million accounts take seconds: derived inputs become ledger entries for their
    change, the score is the base plus the entries with penalties fading, and the
    level is the band with hysteresis and locks.

    Nothing per account passes through Python: the intermediate results live in
    temporary tables of this transaction, and levels are looked up in a small table
    of ``level_for`` results, one per distinct (score, verified, previous level).
    """
    dialect = conn.dialect.name
    a, ac, days, ledger = t.accounts, t.account_credit, t.account_active_days, t.credit_ledger
    inputs = policy.inputs
    ids = (
        await conn.execute(select(a.c.id).where(a.c.id > after).order_by(a.c.id).limit(limit))
    ).all()
    if not ids:
        return 0, after
    last = int(ids[-1][0])

    def in_batch(column: Any) -> Any:
        return and_(column > after, column <= last)

    for scratch in _SCRATCH:
        await conn.run_sync(scratch.create)

    async def analyze(table: Table) -> None:
        if dialect == "postgresql":  # temporary tables get no statistics unless asked
            await conn.execute(text(f"ANALYZE {table.name}"))

    now_param = bindparam("now", now, type_=t.UTCDateTime())
    age_days = _days_between(dialect, now_param, a.c.created_at)
    age_pts = func.min if dialect == "sqlite" else func.least
    new_age = age_pts(
        inputs.age_cap,
        cast(func.floor(age_days / 30), Integer) * inputs.per_30_days_of_age,
    )
    first_day = (now - timedelta(days=inputs.active_days_window)).date().isoformat()
    active = (
        select(days.c.account_id, func.count().label("n"))
        .where(days.c.day >= first_day, in_batch(days.c.account_id))
        .group_by(days.c.account_id)
        .subquery()
    )
    new_activity = age_pts(inputs.active_cap, func.coalesce(active.c.n, 0) * inputs.per_active_day)
    await conn.execute(
        _derived.insert().from_select(
            ["account_id", "new_age", "new_activity", "old_age", "old_activity"],
            select(
                a.c.id,
                new_age,
                new_activity,
                func.coalesce(ac.c.age_points, 0),
                func.coalesce(ac.c.activity_points, 0),
            )
            .select_from(
                a.outerjoin(ac, ac.c.account_id == a.c.id).outerjoin(
                    active, active.c.account_id == a.c.id
                )
            )
            .where(in_batch(a.c.id)),
        )
    )
    await analyze(_derived)
    derived = _derived.c
    for reason, new, old in (
        (CreditReason.account_age, derived.new_age, derived.old_age),
        (CreditReason.activity, derived.new_activity, derived.old_activity),
    ):
        await conn.execute(
            ledger.insert().from_select(
                ["account_id", "delta", "reason", "note", "at"],
                select(
                    derived.account_id,
                    new - old,
                    literal(reason.value),
                    literal(""),
                    now_param,
                ).where(new != old),
            )
        )

    # Score: base + credits + penalties scaled by what is left of the forgiveness window.
    age = _days_between(dialect, now_param, ledger.c.at)
    window = float(max(policy.forgiveness_days, 1))
    remaining = case((age >= window, 0.0), else_=1.0 - age / window)
    # The same rule as domain.credit.fades(): reversals fade with their penalty; account
    # age and activity never fade; other credits count fully; other penalties fade.
    fade_always = [r.value for r in FADES_LIKE_PENALTY]
    never_fade = [r.value for r in NEVER_FADES]
    weighted = case(
        (
            ledger.c.reason.in_(fade_always),
            ledger.c.delta * (remaining if policy.forgiveness_days > 0 else 1.0),
        ),
        (or_(ledger.c.delta >= 0, ledger.c.reason.in_(never_fade)), ledger.c.delta),
        else_=ledger.c.delta * (remaining if policy.forgiveness_days > 0 else 1.0),
    )
    sums = (
        select(ledger.c.account_id, func.sum(weighted).label("total"))
        .where(ledger.c.at <= now_param, in_batch(ledger.c.account_id))
        .group_by(ledger.c.account_id)
        .subquery()
    )
    raw = inputs.base + func.coalesce(sums.c.total, 0)
    clamp_low = func.max if dialect == "sqlite" else func.greatest
    score = clamp_low(policy.score_min, age_pts(policy.score_max, func.floor(raw + 0.5)))
    await conn.execute(
        _fresh.insert().from_select(
            [c.name for c in _fresh.c],
            select(
                a.c.id,
                a.c.identity_verified,
                cast(score, Integer),  # an integral value already (floor, then clamped)
                derived.new_age,
                derived.new_activity,
                ac.c.level,
                ac.c.locked_level,
                ac.c.locked_by,
            )
            .select_from(
                a.outerjoin(sums, sums.c.account_id == a.c.id)
                .outerjoin(ac, ac.c.account_id == a.c.id)
                .join(_derived, derived.account_id == a.c.id)
            )
            .where(in_batch(a.c.id)),
        )
    )
    await analyze(_fresh)

    # Levels are decided with the very function the per-account path uses, so both
    # paths agree by construction: once per distinct (score, verified, previous) among
    # unlocked accounts (about 800 for a million accounts under the default rulebook),
    # then joined back. A lock decides alone, as in level_for.
    fresh = _fresh.c
    inputs_seen = (
        await conn.execute(
            select(fresh.score, fresh.verified, fresh.previous)
            .where(fresh.locked_level.is_(None))
            .distinct()
        )
    ).all()
    no_previous = min((r.previous for r in inputs_seen if r.previous is not None), default=0) - 1
    levels = [
        {
            "score": r.score,
            "verified": bool(r.verified),
            "previous": no_previous if r.previous is None else r.previous,
            "level": level_for(int(r.score), bool(r.verified), policy, previous=r.previous),
        }
        for r in inputs_seen
    ]
    if levels:
        await conn.execute(_levels.insert(), levels)
    lv = _levels.c
    await conn.execute(ac.delete().where(in_batch(ac.c.account_id)))
    await conn.execute(
        ac.insert().from_select(
            [
                "account_id",
                "score",
                "level",
                "computed_at",
                "locked_level",
                "locked_by",
                "age_points",
                "activity_points",
            ],
            select(
                fresh.account_id,
                fresh.score,
                func.coalesce(fresh.locked_level, lv.level),
                now_param,
                fresh.locked_level,
                fresh.locked_by,
                fresh.new_age,
                fresh.new_activity,
            ).select_from(
                _fresh.outerjoin(
                    _levels,
                    and_(
                        lv.score == fresh.score,
                        lv.verified == fresh.verified,
                        lv.previous == func.coalesce(fresh.previous, no_previous),
                    ),
                )
            ),
        )
    )
    count = (await conn.execute(select(func.count()).select_from(_fresh))).scalar_one()
    for scratch in reversed(_SCRATCH):
        await conn.run_sync(scratch.drop)
    return int(count), last
