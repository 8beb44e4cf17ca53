"""The periodic jobs' runner (services/jobs.py): schedule, records, audit, locks."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from qunzu.domain.audit import SYSTEM_ACTOR_ID
from qunzu.services.context import ServiceContext
from qunzu.services.jobs import Job, JobRunner, LocalJobLocks, run_now
from tests.fakes import fake_uow, frozen_clock, make_ctx

DAY = timedelta(days=1)


class Counted:
    """A job body that counts its calls and says so in its result."""

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    async def __call__(self, ctx: ServiceContext) -> dict[str, int]:
        self.calls += 1
        if self.fail:
            raise RuntimeError("disk on fire")
        return {"things": 7}


def runner_for(ctx: ServiceContext, *jobs: Job) -> JobRunner:
    return JobRunner(ctx, jobs, LocalJobLocks(), "node-a", check_every=0.001)


async def test_a_job_runs_when_first_checked_then_once_per_interval() -> None:
    ctx = make_ctx()
    body = Counted()
    runner = runner_for(ctx, Job("tidy", DAY, body))
    assert [r.name for r in await runner.run_due()] == ["tidy"]
    frozen_clock(ctx).advance(timedelta(hours=23))
    assert await runner.run_due() == []
    frozen_clock(ctx).advance(timedelta(hours=1))
    assert [r.name for r in await runner.run_due()] == ["tidy"]
    assert body.calls == 2


async def test_the_schedule_survives_a_restart() -> None:
    """A new runner (a restarted server) reads the last run: it does not run again early."""
    ctx = make_ctx()
    body = Counted()
    await runner_for(ctx, Job("tidy", DAY, body)).run_due()
    frozen_clock(ctx).advance(timedelta(hours=5))
    restarted = runner_for(ctx, Job("tidy", DAY, body))
    assert await restarted.run_due() == []
    (status,) = await restarted.schedule()
    assert status.last is not None and status.last.outcome == "ok"
    assert status.next_due == status.last.started_at + DAY
    assert body.calls == 1


async def test_every_run_is_recorded_and_audited_by_the_system_actor() -> None:
    ctx = make_ctx()
    runner = runner_for(ctx, Job("tidy", DAY, Counted()))
    (run,) = await runner.run_due()
    state = fake_uow(ctx).state
    assert state.job_runs["tidy"] == run
    assert (run.outcome, run.via, run.node) == ("ok", "schedule", "node-a")
    assert run.detail == {"things": 7}
    (entry,) = [e for e in state.audit if e.action == "job.run" and e.subject == "job:tidy"]
    assert entry.actor_id == SYSTEM_ACTOR_ID
    assert entry.subject == "job:tidy"
    assert entry.detail == {"outcome": "ok", "via": "schedule", "node": "node-a", "things": 7}


async def test_a_failing_job_is_recorded_as_failed_and_the_next_job_still_runs() -> None:
    ctx = make_ctx()
    broken, fine = Counted(fail=True), Counted()
    runner = runner_for(ctx, Job("broken", DAY, broken), Job("fine", DAY, fine))
    runs = await runner.run_due()
    assert [r.name for r in runs] == ["fine"]
    state = fake_uow(ctx).state
    failed = state.job_runs["broken"]
    assert failed.outcome == "failed"
    assert failed.detail == {"error": "RuntimeError: disk on fire"}
    assert any(
        e.action == "job.run" and e.subject == "job:broken" and e.detail["outcome"] == "failed"
        for e in state.audit
    )
    assert await runner.run_due() == []  # not retried until its interval has passed
    assert broken.calls == 1


async def test_an_unscheduled_job_runs_only_when_asked() -> None:
    ctx = make_ctx()
    body = Counted()
    runner = runner_for(ctx, Job("by-hand", None, body))
    frozen_clock(ctx).advance(30 * DAY)
    assert await runner.run_due() == []
    run = await run_now(ctx, runner.job("by-hand"), runner.locks, "operator-box")
    assert run is not None and (run.via, run.node) == ("cli", "operator-box")
    (status,) = await runner.schedule()
    assert status.every is None and status.next_due is None and status.last == run


async def test_a_job_held_elsewhere_is_not_run_again() -> None:
    ctx = make_ctx()
    body = Counted()
    locks = LocalJobLocks()
    job = Job("tidy", DAY, body)
    async with locks.hold("tidy") as mine:
        assert mine
        assert await run_now(ctx, job, locks, "node-b") is None
        assert await JobRunner(ctx, [job], locks, "node-a").run_due() == []
    assert body.calls == 0
    assert await run_now(ctx, job, locks, "node-b") is not None


async def test_the_started_runner_checks_on_its_own_until_stopped() -> None:
    ctx = make_ctx()
    body = Counted()
    runner = runner_for(ctx, Job("tidy", DAY, body))
    runner.start()
    try:
        for _ in range(200):  # tiny sleeps while the runner's own task gets to it
            if body.calls:
                break
            await asyncio.sleep(0.005)
        assert body.calls == 1
        frozen_clock(ctx).advance(DAY)
        for _ in range(200):
            if body.calls == 2:
                break
            await asyncio.sleep(0.005)
        assert body.calls == 2
    finally:
        await runner.stop()
    assert not runner.running
    frozen_clock(ctx).advance(DAY)
    await asyncio.sleep(0.02)
    assert body.calls == 2


@pytest.mark.parametrize("fail", [False, True])
async def test_run_now_reports_the_run_or_raises_what_failed(fail: bool) -> None:
    ctx = make_ctx()
    job = Job("tidy", DAY, Counted(fail=fail))
    if fail:
        with pytest.raises(RuntimeError):
            await run_now(ctx, job, LocalJobLocks(), "box")
        assert fake_uow(ctx).state.job_runs["tidy"].outcome == "failed"
    else:
        run = await run_now(ctx, job, LocalJobLocks(), "box")
        assert run is not None and run.detail == {"things": 7}
