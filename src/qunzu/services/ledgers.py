"""The credit ledger (信用, Arts. 7, 8; P6) and the duty-of-care ledger (P7).

Every change of credit is a ledger entry with a reason in plain words. Derived inputs
(account age, recent active days) are turned into ledger entries too, for the change since
the last computation, so "score = base + entries" holds and the user can always see why
their score moved. Every management act goes into the group's append-only duty-of-care
ledger with its time, beside the notices the managers received.

Part of the services' bottom layer (docs/architecture.md).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from qunzu.domain.credit import (
    CreditEntry,
    CreditReason,
    CreditState,
    activity_points,
    age_points,
    compute_score,
    level_for,
)
from qunzu.domain.duty import DutyEvent, DutyEventKind
from qunzu.domain.errors import NotFound
from qunzu.domain.rulebook import Rulebook
from qunzu.services.context import ServiceContext
from qunzu.services.ports import UnitOfWork


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


async def record_duty(
    ctx: ServiceContext,
    uow: UnitOfWork,
    group_id: int,
    kind: DutyEventKind,
    account_id: int,
    *,
    seq: int | None = None,
    subject_id: int | None = None,
    case_id: int | None = None,
    note: str = "",
) -> None:
    await uow.owner.add_duty(
        group_id,
        DutyEvent(ctx.clock.now(), kind, account_id, seq, subject_id, case_id, note),
    )
    if kind is not DutyEventKind.message_read:
        # A management act is the manager's activity (the unattended rule reads it).
        await uow.activity.touch(group_id, account_id, ctx.clock.now())
