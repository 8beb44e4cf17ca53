"""Credit (信用) ledger and levels, and the quotas they grant (Arts. 7, 8; P6).

Every change of credit is a ledger entry with a reason in plain words. Derived
inputs (account age, recent active days) are turned into ledger entries too,
for the change since the last computation, so "score = base + entries" holds
and the user can always see why their score moved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from qunzu.domain.credit import (
    REASON_TEXT,
    CreditEntry,
    CreditReason,
    CreditState,
    activity_points,
    age_points,
    compute_score,
    level_for,
)
from qunzu.domain.errors import InvalidInput, NotFound
from qunzu.domain.models import PlatformRole
from qunzu.domain.rulebook import CreditLevel, Rulebook
from qunzu.services import audit
from qunzu.services.accounts import Actor, require_platform_role
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class ExplainedEntry:
    entry: CreditEntry
    text_zh: str
    text_en: str


@dataclass(frozen=True, slots=True)
class CreditView:
    state: CreditState
    rulebook: Rulebook
    current: CreditLevel
    entries: list[ExplainedEntry]


def rulebook_at(ctx: ServiceContext, at: datetime) -> Rulebook:
    return ctx.rulebooks.in_force(at)


async def recompute_account(
    ctx: ServiceContext, uow: UnitOfWork, account_id: int, now: datetime | None = None
) -> CreditState:
    """Bring one account's score and level up to date, writing entries for derived inputs."""
    now = now or ctx.clock.now()
    policy = rulebook_at(ctx, now).credit
    account = await uow.accounts.get(account_id)
    if account is None:
        raise NotFound("account_not_found", "No such account.")
    state = await uow.credit.get_state(account_id)
    new_age = age_points((now - account.created_at).total_seconds() / 86_400, policy)
    first_day = (now - timedelta(days=policy.inputs.active_days_window)).date().isoformat()
    new_activity = activity_points(
        await uow.credit.active_days_since(account_id, first_day), policy
    )
    old_age = state.age_points if state else 0
    old_activity = state.activity_points if state else 0
    if new_age != old_age:
        await uow.credit.add_entry(
            CreditEntry(account_id, new_age - old_age, CreditReason.account_age, now)
        )
    if new_activity != old_activity:
        await uow.credit.add_entry(
            CreditEntry(account_id, new_activity - old_activity, CreditReason.activity, now)
        )
    score = compute_score(await uow.credit.entries(account_id), now, policy)
    level = level_for(
        score,
        account.identity_verified,
        policy,
        previous=state.level if state else None,
        locked=state.locked_level if state else None,
    )
    fresh = CreditState(
        account_id=account_id,
        score=score,
        level=level,
        computed_at=now,
        locked_level=state.locked_level if state else None,
        locked_by=state.locked_by if state else None,
        age_points=new_age,
        activity_points=new_activity,
    )
    await uow.credit.put_state(fresh)
    return fresh


async def record_credit(
    ctx: ServiceContext,
    uow: UnitOfWork,
    account_id: int,
    delta: int,
    reason: CreditReason,
    *,
    article: str | None = None,
    source: str | None = None,
    note: str = "",
    at: datetime | None = None,
) -> CreditState:
    """The hook every credit input goes through: one ledger entry, then a recompute.

    Later features call it: upheld or unfounded reports, owner liability,
    sanctions and their reversal on appeal.
    """
    now = ctx.clock.now()
    await uow.credit.add_entry(
        CreditEntry(account_id, delta, reason, at or now, article=article, source=source, note=note)
    )
    return await recompute_account(ctx, uow, account_id, now)


async def add_credit_entry(
    ctx: ServiceContext,
    uow: UnitOfWork,
    account_id: int,
    delta: int,
    reason: CreditReason,
    *,
    source: str | None = None,
) -> None:
    """A ledger entry whose recomputation can wait: small report-accuracy credits for
    every reporter of a case. The score catches up when its holder looks at it
    (GET /v1/me/credit) and at the daily ``qunzu credit recompute``; recomputing ten
    reporters inside a decision made it miss its latency goal (docs/performance.md)."""
    await uow.credit.add_entry(
        CreditEntry(account_id, delta, reason, ctx.clock.now(), source=source)
    )


async def current_level(ctx: ServiceContext, uow: UnitOfWork, account_id: int) -> int:
    state = await uow.credit.get_state(account_id)
    if state is None:
        state = await recompute_account(ctx, uow, account_id)
    return state.level


async def get_my_credit(ctx: ServiceContext, actor: Actor, limit: int = 20) -> CreditView:
    async with transaction(ctx) as uow:
        state = await recompute_account(ctx, uow, actor.id)
        entries = await uow.credit.entries(actor.id, limit)
    book = rulebook_at(ctx, ctx.clock.now())
    explained = [ExplainedEntry(e, *REASON_TEXT[e.reason]) for e in entries]
    return CreditView(state, book, book.credit.level(state.level), explained)


async def do_lock_level(
    ctx: ServiceContext, actor: Actor, account_id: int, level: int | None, reason: str
) -> CreditState:
    """A senior reviewer fixes (or releases, with ``None``) an account's level. Audited."""
    require_platform_role(actor, PlatformRole.senior_reviewer, PlatformRole.admin)
    reason = " ".join(reason.split())
    if len(reason) < 5:
        raise InvalidInput("reason_required", "State why the level is being locked.")
    if "\x00" in reason:
        raise InvalidInput("invalid_reason", "A reason cannot contain NUL characters.")
    book = rulebook_at(ctx, ctx.clock.now())
    if level is not None and level not in {lvl.level for lvl in book.credit.levels}:
        raise InvalidInput("unknown_level", f"No credit level {level} in the rulebook.")
    async with transaction(ctx) as uow:
        state = await recompute_account(ctx, uow, account_id)
        await audit.record(
            ctx,
            uow,
            actor.id,
            "credit.lock" if level is not None else "credit.unlock",
            f"account:{account_id}",
            level=level,
            previous=state.level,
            reason=reason[:500],
        )
        locked = replace(
            state, locked_level=level, locked_by=actor.id if level is not None else None
        )
        if level is None:
            # Released: the level is the band of the score again. Hysteresis keeps a level
            # the score earned; it must not keep one only the lock granted.
            locked = replace(locked, level=0)  # level_for: no previous level to hold
        await uow.credit.put_state(locked)
        state = await recompute_account(ctx, uow, account_id)
    return state


# Accounts per transaction of a full recompute: each batch holds SQLite's write lock for
# a few milliseconds, so a live server beside the job hardly waits (docs/deployment.md).
RECOMPUTE_BATCH = 500


async def recompute_all(ctx: ServiceContext, batch: int = RECOMPUTE_BATCH) -> int:
    """Recompute every account (the periodic job and ``qunzu credit recompute``).

    Storage does it set-based, one short transaction per batch of accounts, all as of
    the same moment; the rules are the same as ``recompute_account``'s (tests hold the
    two paths to the same results).
    """
    now = ctx.clock.now()
    policy = rulebook_at(ctx, now).credit
    total, after = 0, 0
    while True:
        async with transaction(ctx) as uow:
            count, after = await uow.credit.recompute_batch(now, policy, after, batch)
        total += count
        if count < batch:
            return total
