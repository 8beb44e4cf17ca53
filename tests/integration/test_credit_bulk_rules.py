"""The set-based recompute follows the same fading rules as the per-account one (SQLite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from qunzu.bootstrap import build
from qunzu.domain.clock import FrozenClock
from qunzu.domain.credit import CreditEntry, CreditReason
from qunzu.services import accounts, credit, ledgers
from qunzu.services.context import transaction
from tests.server import test_settings


async def test_bulk_and_per_account_agree_on_reversals_and_activity_drops(
    tmp_path: Path,
) -> None:
    clock = FrozenClock(datetime(2026, 3, 1, tzinfo=UTC))
    app = build(test_settings(tmp_path), clock=clock)
    await app.start()
    try:
        ctx = app.ctx
        ids = [
            (await accounts.do_register(ctx, f"fade{i}", "fading away slowly 7")).id
            for i in range(3)
        ]
        t0 = clock.now() - timedelta(days=90)
        async with transaction(ctx) as uow:
            for account_id in ids:
                await uow.credit.add_entry(CreditEntry(account_id, -100, CreditReason.sanction, t0))
            # A reversal dated at its penalty, and an activity drop that never fades.
            await uow.credit.add_entry(CreditEntry(ids[0], 100, CreditReason.sanction_reversed, t0))
            await uow.credit.add_entry(CreditEntry(ids[1], -20, CreditReason.activity, t0))
        async with transaction(ctx) as uow:
            per_account = {
                a: (s.score, s.level)
                for a in ids
                for s in [await ledgers.recompute_account(ctx, uow, a)]
            }
            await uow.rollback()
        await credit.recompute_all(ctx)
        async with transaction(ctx, write=False) as uow:
            bulk = {}
            for a in ids:
                state = await uow.credit.get_state(a)
                assert state is not None
                bulk[a] = (state.score, state.level)
        assert bulk == per_account
        base = ctx.rulebooks.latest.credit.inputs.base
        assert bulk[ids[0]][0] == base  # the reversal cancelled what was left of the penalty
        assert bulk[ids[1]][0] == base - 50 - 20  # half-faded penalty, unfaded activity drop
    finally:
        await app.close()
