"""Credit (信用) ledger and levels, and the quotas they grant (Arts. 7, 8; P6).

Every change of credit is a ledger entry with a reason in plain words. Derived
inputs (account age, recent active days) are turned into ledger entries too,
for the change since the last computation, so "score = base + entries" holds
and the user can always see why their score moved.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from qunzu.domain.audit import AuditAction, check_not_self
from qunzu.domain.credit import (
    REASON_TEXT,
    CreditEntry,
    CreditState,
)
from qunzu.domain.errors import InvalidInput
from qunzu.domain.rulebook import CreditLevel, Rulebook
from qunzu.domain.text import text_problem
from qunzu.services import audit
from qunzu.services.actor import SENIORS, SYSTEM, Actor
from qunzu.services.audit import privileged
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ledgers import recompute_account, rulebook_at


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
    """A senior reviewer fixes (or releases, with ``None``) another account's level. Audited."""
    reason = " ".join(reason.split())
    action = AuditAction.credit_lock if level is not None else AuditAction.credit_unlock
    async with privileged(
        ctx, actor, SENIORS, action, f"account:{account_id}", level=level, reason=reason[:500]
    ) as act:
        check_not_self(actor.id, account_id)
        if len(reason) < 5:
            raise InvalidInput("reason_required", "State why the level is being locked.")
        problem = text_problem(reason)
        if problem is not None:
            raise InvalidInput("invalid_reason", f"A reason cannot contain {problem}.")
        book = rulebook_at(ctx, ctx.clock.now())
        if level is not None and level not in {lvl.level for lvl in book.credit.levels}:
            raise InvalidInput("unknown_level", f"No credit level {level} in the rulebook.")
        uow = act.uow
        state = await recompute_account(ctx, uow, account_id)
        act.note(previous=state.level)
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
    """Recompute every account (the periodic job and ``qunzu credit recompute``), acting as
    the system; the run is audited with the number of accounts.

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
                await audit.record(
                    ctx, uow, SYSTEM, AuditAction.credit_recompute, "accounts", count=total
                )
                return total
