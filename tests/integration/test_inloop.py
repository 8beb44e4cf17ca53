"""SQLite on the loop (storage/inloop.py): connections kept between units of work must
carry nothing from one unit to the next, and a write lock held by another process is
waited for without blocking the loop. (That the on-loop path answers as the plain
aiosqlite path does is shown by the storage suite, which runs on both: conftest.py.)"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from qunzu.domain.errors import Unavailable
from qunzu.storage.engine import SQLITE_BEGIN_OPTION, make_engine
from qunzu.storage.inloop import MAX_IDLE_CONNECTIONS, InLoopEngine
from qunzu.storage.migrate import migrate
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.integration.test_storage import new_account


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[tuple[InLoopEngine, Path]]:
    path = tmp_path / "inloop.db"
    engine = make_engine(f"sqlite:///{path}")
    await migrate(engine)
    assert isinstance(engine, InLoopEngine)
    yield engine, path
    await engine.dispose()


def _other_process_can_take_the_write_lock(path: Path) -> bool:
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


async def test_a_read_after_a_write_on_a_reused_connection_does_not_hold_the_write_lock(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, path = db
    factory = SqlUnitOfWorkFactory(engine)  # type: ignore[arg-type]
    async with factory() as u:
        account = await new_account(u)
        assert not _other_process_can_take_the_write_lock(path)  # a writer begins IMMEDIATE
        await u.commit()
    assert len(engine._idle) == 1  # the writer's connection, kept
    async with factory(write=False) as u:
        assert len(engine._idle) == 0  # ... and reused here
        assert await u.accounts.get(account.id) == account
        assert _other_process_can_take_the_write_lock(path)


async def test_a_unit_that_failed_leaves_no_transaction_on_the_connection_it_returns(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, _ = db
    factory = SqlUnitOfWorkFactory(engine)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):
        async with factory() as u:
            await new_account(u, prefix="ghost")
            raise RuntimeError("boom")
    assert engine._idle and not any(c.in_transaction() for c in engine._idle)
    async with engine.connect() as conn:
        ghosts = await conn.execute(
            text("SELECT count(*) FROM accounts WHERE handle LIKE 'ghost%'")
        )
        assert ghosts.scalar() == 0


async def test_a_connection_lent_to_run_sync_or_given_other_options_is_not_kept(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, _ = db
    await engine.dispose()  # start with no idle connections
    async with engine.connect() as conn:
        await conn.run_sync(lambda c: c.exec_driver_sql("SELECT 1"))
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
    assert engine._idle == []
    async with engine.connect() as conn:
        await conn.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
    assert len(engine._idle) == 1
    assert engine._idle[0].get_execution_options().get(SQLITE_BEGIN_OPTION) == ""


async def test_idle_connections_are_bounded_and_closed_on_dispose(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, _ = db
    held = [await engine.connect() for _ in range(MAX_IDLE_CONNECTIONS + 3)]
    for conn in held:
        await conn.close()
    kept = list(engine._idle)
    assert len(kept) == MAX_IDLE_CONNECTIONS
    await engine.dispose()
    assert engine._idle == [] and all(c.closed for c in kept)


class _LoopLag:
    """A task that sleeps a little, over and over, noting how late it wakes: the event
    loop's lag. Anything that blocks the loop shows up as a late wake-up."""

    def __init__(self, period: float = 0.005) -> None:
        self.period = period
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            await asyncio.sleep(self.period)
            self.worst = max(self.worst, loop.time() - started - self.period)

    async def __aenter__(self) -> _LoopLag:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0)  # let it start measuring before anything else runs
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


def _hold_the_write_lock(path: Path) -> sqlite3.Connection:
    """Another process's writer, in the middle of its transaction."""
    other = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_a_writer_waits_for_another_process_without_blocking_the_loop(
    db: tuple[InLoopEngine, Path],
) -> None:
    engine, path = db
    factory = SqlUnitOfWorkFactory(engine)  # type: ignore[arg-type]
    other = _hold_the_write_lock(path)
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, other.rollback)  # the other process commits after 300 ms
    started = loop.time()
    async with _LoopLag() as lag, factory() as u:
        account = await new_account(u, prefix="patient")
        await u.commit()
    other.close()
    assert 0.3 <= loop.time() - started < 2  # it waited for the lock, and no longer...
    assert lag.worst < 0.05  # ...with the loop running all along
    async with factory(write=False) as u:
        assert await u.accounts.get(account.id) == account


async def test_a_writer_that_never_gets_the_lock_is_told_the_database_is_busy(
    tmp_path: Path,
) -> None:
    path = tmp_path / "busy.db"
    engine = make_engine(f"sqlite:///{path}", busy_wait_seconds=0.2)
    await migrate(engine)
    assert isinstance(engine, InLoopEngine)
    factory = SqlUnitOfWorkFactory(engine)  # type: ignore[arg-type]
    await engine.dispose()  # no idle connections: the one the failed unit used is visible
    other = _hold_the_write_lock(path)
    try:
        with pytest.raises(Unavailable) as refused:
            async with factory() as u:
                await new_account(u)
        assert refused.value.code == "database_busy"
        assert engine._idle == []  # a half-begun connection is not kept
    finally:
        other.rollback()
        other.close()
    async with factory() as u:  # once the other process is done, writes go through
        await new_account(u)
        await u.commit()
    await engine.dispose()


def test_the_mode_chooses_the_driver_and_a_url_naming_the_other_is_refused(
    tmp_path: Path,
) -> None:
    assert isinstance(make_engine(f"sqlite:///{tmp_path / 'a.db'}"), InLoopEngine)
    thread = make_engine(f"sqlite:///{tmp_path / 'b.db'}", "thread")
    assert not isinstance(thread, InLoopEngine)
    assert thread.url.drivername == "sqlite+aiosqlite"
    with pytest.raises(ValueError, match="aiosqlite"):
        make_engine(f"sqlite+aiosqlite:///{tmp_path / 'c.db'}", "on-loop")
