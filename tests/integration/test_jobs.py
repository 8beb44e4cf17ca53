"""The periodic jobs on real storage: their last runs on every backend, and on
PostgreSQL the advisory lock that lets one node of several run each job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from qunzu.bootstrap import App, build
from qunzu.domain.clock import FrozenClock
from qunzu.services.context import ServiceContext
from qunzu.services.jobs import Job, JobRunner, run_now
from qunzu.services.ports import JobRun
from qunzu.storage.jobs_repo import PgJobLocks, advisory_key
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.integration.databases import fresh_postgres_database, require_postgres
from tests.server import test_settings

T0 = datetime(2026, 3, 1, 4, 0, tzinfo=UTC)


async def test_job_runs_round_trip(uow: SqlUnitOfWorkFactory) -> None:
    started = JobRun("tidy", T0, None, "running", "schedule", "node-a:1", {})
    async with uow() as u:
        await u.jobs.put(started)
        await u.commit()
    finished = JobRun("tidy", T0, T0 + timedelta(seconds=3), "ok", "schedule", "node-a:1", {"n": 2})
    other = JobRun("sweep", T0, T0, "failed", "cli", "ops", {"error": "RuntimeError: x"})
    async with uow() as u:
        assert await u.jobs.get("tidy") == started
        await u.jobs.put(finished)  # the same job's next state replaces the last
        await u.jobs.put(other)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.jobs.get("tidy") == finished
        assert await u.jobs.get("nothing") is None
        assert await u.jobs.all() == [other, finished]  # by name


def test_advisory_keys_are_stable_and_distinct() -> None:
    assert advisory_key("credit_recompute") == advisory_key("credit_recompute")
    assert advisory_key("credit_recompute") != advisory_key("unattended_sweep")
    assert -(2**63) <= advisory_key("credit_recompute") < 2**63


# ---------------------------------------------------------------- two nodes, one PostgreSQL


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    with fresh_postgres_database(require_postgres()) as url:
        yield url


@pytest.fixture
async def two_nodes(postgres_url: str, tmp_path: Path) -> AsyncIterator[tuple[App, App]]:
    clock = FrozenClock(T0)
    nodes = [
        build(test_settings(tmp_path / name, database_url=postgres_url), clock=clock)
        for name in ("a", "b")
    ]
    for node in nodes:
        await node.start()
    try:
        yield nodes[0], nodes[1]
    finally:
        for node in nodes:
            await node.close()


class Gate:
    """A job body that waits until let go, counting its runs."""

    def __init__(self) -> None:
        self.calls = 0
        self.inside = asyncio.Event()
        self.release = asyncio.Event()

    async def __call__(self, ctx: ServiceContext) -> dict[str, int]:
        self.calls += 1
        self.inside.set()
        await self.release.wait()
        return {"calls": self.calls}


async def test_of_two_nodes_on_postgresql_one_runs_each_job(two_nodes: tuple[App, App]) -> None:
    a, b = two_nodes
    assert isinstance(a.jobs.locks, PgJobLocks) and isinstance(b.jobs.locks, PgJobLocks)
    body = Gate()
    job = Job("gated", timedelta(days=1), body)
    runner_a = JobRunner(a.ctx, [job], a.jobs.locks, "node-a")
    runner_b = JobRunner(b.ctx, [job], b.jobs.locks, "node-b")
    running = asyncio.create_task(runner_a.run_due())
    await asyncio.wait_for(body.inside.wait(), 10)
    # While node a runs it, node b neither runs it on schedule nor when asked.
    assert await runner_b.run_due() == []
    assert await run_now(b.ctx, job, b.jobs.locks, "node-b") is None
    body.release.set()
    (run,) = await asyncio.wait_for(running, 10)
    assert run.node == "node-a"
    # Afterwards node b finds it done for today (it reads the run under the lock).
    assert await runner_b.run_due() == []
    assert body.calls == 1


async def test_a_postgresql_job_lock_is_free_again_once_released(
    two_nodes: tuple[App, App],
) -> None:
    a, b = two_nodes
    async with a.jobs.locks.hold("tidy") as mine:
        assert mine
        async with b.jobs.locks.hold("tidy") as theirs:
            assert not theirs
        async with b.jobs.locks.hold("other") as unrelated:
            assert unrelated  # one lock per job
    async with b.jobs.locks.hold("tidy") as theirs:
        assert theirs
