"""Apply Alembic migrations to the configured database, in-process."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

from qunzu.storage.engine import SQLITE_BEGIN_OPTION

MIGRATIONS = Path(__file__).parent / "migrations"

# Alembic's ``context`` and ``op`` are process-wide proxies: two migrations running at
# once in one process (two engines, two server threads) would swap them under each
# other. A thread lock, taken without blocking the event loop, runs them one at a time.
_IN_PROCESS = threading.Lock()
# Across processes (several nodes starting together) PostgreSQL orders them with an
# advisory lock held until the migration commits; the later one then finds it done.
PG_MIGRATION_LOCK = 7172018


def alembic_config(connection: Connection | None = None, url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest revision. Safe to run on every start, from
    several nodes at once."""
    while not _IN_PROCESS.acquire(blocking=False):
        await asyncio.sleep(0.01)
    try:
        conn = await engine.connect()
        try:
            if conn.dialect.name == "sqlite":
                # Take SQLite's write lock at BEGIN, so another process migrating the same
                # file waits for it instead of failing on a stale read.
                await conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            await conn.begin()
            try:
                if conn.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK}
                    )
                await conn.run_sync(_upgrade)
                await conn.commit()
            except BaseException:
                await conn.rollback()
                raise
        finally:
            await conn.close()
    finally:
        _IN_PROCESS.release()


def _current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current)
