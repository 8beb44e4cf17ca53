"""`qunzu credit recompute` run against the data of a live server (SQLite, two processes)
must not freeze it: the server's event loop keeps turning and every message goes through."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qunzu.domain.credit import CreditEntry, CreditReason
from qunzu.services.context import ServiceContext, transaction
from tests.factories import FAST_ARGON, make_group, make_user
from tests.server import ServerThread, test_settings

# Each with a few ledger entries and active days: in one transaction, as the recompute
# ran before it was batched, this held SQLite's write lock for about 250 ms here, and the
# server's loop, waiting inside SQLite for it, stalled as long.
ACCOUNTS = 1500


class LoopLag:
    """Runs on the server's loop: a task sleeping 5 ms over and over, noting how late it
    wakes. Anything that blocks the loop (a statement waiting on a lock) shows up."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run())
        await asyncio.sleep(0)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(0.005)
            self.worst = max(self.worst, loop.time() - started - 0.005)

    async def stop(self) -> float:
        assert self.task is not None
        self.task.cancel()
        return self.worst


async def populate(ctx: ServiceContext) -> None:
    """Accounts from over a year ago with some history: a recompute has work for each."""
    now = datetime.now(UTC)
    async with transaction(ctx) as uow:
        for i in range(ACCOUNTS):
            account = await uow.accounts.add(f"old{i}", f"Old {i}", "x", now - timedelta(days=400))
            for days_ago, delta in ((90, -30), (30, 10), (3, -5)):
                await uow.credit.add_entry(
                    CreditEntry(
                        account.id, delta, CreditReason.manual_adjustment, now - timedelta(days_ago)
                    )
                )
            for days_ago in (1, 2, 5):
                await uow.credit.mark_active_day(
                    account.id, (now - timedelta(days=days_ago)).date().isoformat()
                )


@pytest.fixture
def live(tmp_path: Path) -> Iterator[ServerThread]:
    server = ServerThread(test_settings(tmp_path)).start()
    try:
        yield server
    finally:
        server.stop()


async def test_a_full_recompute_beside_a_live_server_does_not_freeze_it(
    live: ServerThread, tmp_path: Path
) -> None:
    ctx: ServiceContext = live.app.state.qunzu.ctx
    await live.acall(lambda: populate(ctx))
    owner = await make_user(live.url, prefix="talker")
    group = await make_group(owner)
    lag = LoopLag()
    sent: list[int] = []  # one item per message accepted
    stop = asyncio.Event()

    async def talk() -> None:
        # One sender, sending back to back: it shares this process (and the GIL) with
        # the server, so more would mostly measure their contention, not the server's.
        while not stop.is_set():
            await owner.send(group["id"], f"message {len(sent)}")
            sent.append(1)

    env = {
        **os.environ,
        **FAST_ARGON,
        "QUNZU_ENVIRONMENT": "test",
        "QUNZU_RULEBOOK_FILES": json.dumps([str(p) for p in live.settings.rulebook_files]),
    }
    talker = asyncio.create_task(talk())
    try:
        await live.acall(lag.start)
        cli = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "qunzu.cli",
            "credit",
            "recompute",
            "--data-dir",
            str(tmp_path),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(cli.communicate(), 60)
        worst = await live.acall(lag.stop)
        during = len(sent)
    finally:
        stop.set()
        (result,) = await asyncio.gather(talker, return_exceptions=True)
        await owner.aclose()
    assert cli.returncode == 0, err.decode()
    assert f"recomputed {ACCOUNTS + 1} accounts" in out.decode()
    assert result is None, result  # every send went through
    assert during > 20  # messages flowed all along
    assert worst < 0.1, f"the server's loop stalled {worst * 1000:.0f} ms"
