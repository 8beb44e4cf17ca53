"""The periodic jobs' last runs, and the PostgreSQL lock that lets one node run each."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.services.ports import JobRun
from qunzu.storage import tables as t
from qunzu.storage.repositories import _Repo


def _run(row: Any) -> JobRun:
    return JobRun(
        name=row.name,
        started_at=row.started_at,
        finished_at=row.finished_at,
        outcome=row.outcome,
        via=row.via,
        node=row.node,
        detail=dict(row.detail),
    )


class SqlJobs(_Repo):
    async def get(self, name: str) -> JobRun | None:
        jr = t.job_runs
        row = (await self.c.execute(select(jr).where(jr.c.name == name))).first()
        return _run(row) if row else None

    async def all(self) -> list[JobRun]:
        jr = t.job_runs
        return [_run(r) for r in await self.c.execute(select(jr).order_by(jr.c.name))]

    async def put(self, run: JobRun) -> None:
        jr = t.job_runs
        values = {
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "outcome": run.outcome,
            "via": run.via,
            "node": run.node,
            "detail": run.detail,
        }
        res = await self.c.execute(jr.update().where(jr.c.name == run.name).values(**values))
        if res.rowcount == 0:
            await self.c.execute(jr.insert().values(name=run.name, **values))


def advisory_key(name: str) -> int:
    """A job's advisory lock key: a stable signed 64-bit number from its name."""
    digest = hashlib.blake2b(f"qunzu.job:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PgJobLocks:
    """``JobLocks`` on PostgreSQL: a session advisory lock on a connection of its own,
    held while the job runs (its batches use other connections). A node that dies
    loses its connection, and with it the lock."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @asynccontextmanager
    async def hold(self, name: str) -> AsyncIterator[bool]:
        key = {"key": advisory_key(name)}
        async with self._engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), key)).scalar()
            if not got:
                yield False
                return
            try:
                yield True
            finally:
                try:
                    await conn.execute(text("SELECT pg_advisory_unlock(:key)"), key)
                except BaseException:
                    # Never hand a connection still holding the lock back to the pool.
                    await conn.invalidate()
                    raise
