"""The periodic jobs (credit recompute, unattended sweep, and whatever joins them):
run on a schedule inside the server, or now from the command line.

Each job's last run is stored (``job_runs``): when it started, how it ended, where.
A job is due when its interval has passed since its last start, so a restart does
not run everything again, and the schedule holds across nodes. Before running, a
runner takes the job's lock and reads the last run again: on PostgreSQL the lock is
an advisory lock, so of several nodes one runs each job; on SQLite it is a lock in
this process (SQLite means one server process; a CLI run beside it is harmless, the
jobs being idempotent and written in short transactions).

Every run, scheduled or not, ends with an audit entry by the system actor
(``services.actor.SYSTEM``) saying what it did.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from qunzu.domain.audit import AuditAction
from qunzu.services import audit
from qunzu.services.actor import SYSTEM
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import JobLocks, JobRun

log = structlog.get_logger("qunzu.jobs")

JobFunction = Callable[[ServiceContext], Awaitable[dict[str, int]]]


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: timedelta | None  # None: not scheduled, run only on demand
    run: JobFunction


@dataclass(frozen=True, slots=True)
class JobStatus:
    name: str
    every: timedelta | None
    last: JobRun | None
    # None: at the scheduler's next check when scheduled and never run, else never.
    next_due: datetime | None


class LocalJobLocks:
    """``JobLocks`` within one process: enough where one process serves (SQLite)."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        if name in self._held:
            yield False
            return
        self._held.add(name)
        try:
            yield True
        finally:
            self._held.discard(name)


async def _record(ctx: ServiceContext, run: JobRun) -> None:
    async with transaction(ctx) as uow:
        await uow.jobs.put(run)
        if run.outcome != "running":
            await audit.record(
                ctx,
                uow,
                SYSTEM,
                AuditAction.job_run,
                f"job:{run.name}",
                outcome=run.outcome,
                via=run.via,
                node=run.node,
                **run.detail,
            )


async def _run_holding_lock(ctx: ServiceContext, job: Job, via: str, node: str) -> JobRun:
    started = ctx.clock.now()
    await _record(ctx, JobRun(job.name, started, None, "running", via, node, {}))
    log.info("job started", job=job.name, via=via)
    try:
        detail: dict[str, int | str] = dict(await job.run(ctx))
    except Exception as exc:
        failed = JobRun(
            job.name,
            started,
            ctx.clock.now(),
            "failed",
            via,
            node,
            {"error": f"{type(exc).__name__}: {exc}"[:300]},
        )
        await _record(ctx, failed)
        log.exception("job failed", job=job.name, via=via)
        raise
    run = JobRun(job.name, started, ctx.clock.now(), "ok", via, node, detail)
    await _record(ctx, run)
    log.info("job finished", job=job.name, via=via, **detail)
    return run


async def run_now(
    ctx: ServiceContext, job: Job, locks: JobLocks, node: str, via: str = "cli"
) -> JobRun | None:
    """Run ``job`` at once (``qunzu credit recompute`` ...); None if it is running elsewhere."""
    async with locks.hold(job.name) as mine:
        if not mine:
            return None
        return await _run_holding_lock(ctx, job, via, node)


async def last_runs(ctx: ServiceContext) -> dict[str, JobRun]:
    async with transaction(ctx, write=False) as uow:
        return {run.name: run for run in await uow.jobs.all()}


class JobRunner:
    """Runs each job when it is due; ``start`` puts it on a task looking every
    ``check_every`` seconds (the lifespan of the server starts and stops it)."""

    def __init__(
        self,
        ctx: ServiceContext,
        jobs: Sequence[Job],
        locks: JobLocks,
        node: str,
        check_every: float = 60.0,
    ) -> None:
        self.ctx = ctx
        self.jobs = list(jobs)
        self.locks = locks
        self.node = node
        self.check_every = check_every
        # When each job is next due as last read: no lock or read before then.
        self._next_due: dict[str, datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def job(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def run_due(self) -> list[JobRun]:
        """Run every job that is due now, one after another; returns the runs made here."""
        done = []
        for job in self.jobs:
            if job.every is None:
                continue
            now = self.ctx.clock.now()
            known = self._next_due.get(job.name)
            if known is not None and now < known:
                continue
            try:
                run = await self._run_if_due(job)
            except Exception:
                continue  # logged and recorded as failed; the next one still runs
            if run is not None:
                done.append(run)
        return done

    async def _run_if_due(self, job: Job) -> JobRun | None:
        assert job.every is not None
        async with self.locks.hold(job.name) as mine:
            if not mine:
                return None  # another node runs it now
            async with transaction(self.ctx, write=False) as uow:
                last = await uow.jobs.get(job.name)
            if last is not None and self.ctx.clock.now() < last.started_at + job.every:
                self._next_due[job.name] = last.started_at + job.every
                return None
            run = await _run_holding_lock(self.ctx, job, "schedule", self.node)
            self._next_due[job.name] = run.started_at + job.every
            return run

    async def schedule(self) -> list[JobStatus]:
        runs = await last_runs(self.ctx)
        schedule = []
        for job in self.jobs:
            last = runs.get(job.name)
            due = last.started_at + job.every if last and job.every else None
            schedule.append(JobStatus(job.name, job.every, last, due))
        return schedule

    def start(self) -> None:
        if self._task is None and any(job.every for job in self.jobs):
            self._task = asyncio.create_task(self._loop(), name="qunzu-jobs")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:  # a broken check must not end the schedule
                log.exception("job check failed")
            await asyncio.sleep(self.check_every)
