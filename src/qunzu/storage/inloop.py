"""SQLite driven synchronously on the event loop, behind the AsyncEngine surface we use.

Why: with aiosqlite every statement is a hop to a worker thread and back, and the
hops, not SQLite, dominated a message send (about 3.4 ms for a send; 1.1 ms just to
check a token, measured by an in-process loop of 2,000 calls). SQLite answers these
small indexed statements in tens of microseconds, so running them directly on the
loop costs less than the hop to avoid blocking it. Writes are serialised by the
unit of work's lock anyway (SQLite has one writer). PostgreSQL keeps asyncpg.

Another process (a CLI job) may hold SQLite's write lock. SQLite's own busy wait
would block the loop, so these connections keep it a few milliseconds
(``engine.LOOP_BUSY_TIMEOUT_MS``) and a transaction that cannot take the write lock
tries again after an ``asyncio.sleep``, up to the engine's ``busy_wait`` in all;
then the busy error goes to the caller (the unit of work answers 503).

Only the subset of ``AsyncEngine``/``AsyncConnection`` that qunzu uses is offered:
``connect()``, ``begin()``, ``dispose()``, ``url``, ``dialect``, and on connections
``execute``, ``exec_driver_sql``, ``execution_options``, ``begin``, ``commit``,
``rollback``, ``close`` and ``run_sync``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Generator
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL, Dialect, Result
from sqlalchemy.exc import DBAPIError

from qunzu.storage import fastsql
from qunzu.storage.fastsql import plan_for

T = TypeVar("T")

# Execution option naming how a transaction begins on SQLite: "" (deferred) or "IMMEDIATE".
SQLITE_BEGIN_OPTION = "qunzu_sqlite_begin"


# Connections kept open between units of work, per engine: opening one through the
# pool (checkout, reset, events) cost about as much as a whole send's statements.
MAX_IDLE_CONNECTIONS = 8

# Between tries for a busy write lock: short first (the holder is usually a short
# transaction), doubling up to the cap.
BUSY_FIRST_DELAY = 0.002
BUSY_MAX_DELAY = 0.025
_SQLITE_BUSY = 5


def is_busy(error: BaseException) -> bool:
    """SQLITE_BUSY (any extended code): another connection holds a lock we need."""
    orig = error.orig if isinstance(error, DBAPIError) else error
    code = getattr(orig, "sqlite_errorcode", None)
    return (
        isinstance(orig, sqlite3.OperationalError)
        and code is not None
        and code & 0xFF == (_SQLITE_BUSY)
    )


class InLoopConnection:
    def __init__(self, sync_connection: Connection, engine: InLoopEngine | None = None) -> None:
        self.sync_connection = sync_connection
        self._engine = engine
        self._reusable = engine is not None

    @property
    def dialect(self) -> Dialect:
        return self.sync_connection.dialect

    async def execute(self, statement: Any, parameters: Any = None) -> Result[Any]:
        conn = self.sync_connection
        # Prebuilt statements skip SQLAlchemy's per-execution machinery (fastsql.py), but
        # only inside a transaction it began: outside one it would autobegin, and we
        # keep that behaviour its own.
        if (parameters is None or isinstance(parameters, dict)) and conn.in_transaction():
            plan = plan_for(statement, conn.dialect)
            if plan is not None:
                driver = conn.connection.driver_connection
                return fastsql.execute(plan, driver, parameters)  # type: ignore[arg-type,return-value]
        return conn.execute(statement, parameters)

    async def exec_driver_sql(self, statement: str, parameters: Any = None) -> Result[Any]:
        return self.sync_connection.exec_driver_sql(statement, parameters)

    async def execution_options(self, **options: Any) -> InLoopConnection:
        # Options stay on the connection: only the begin mode is allowed on a connection
        # that will be reused (it is reset at check-in); anything else closes it after use.
        if set(options) - {SQLITE_BEGIN_OPTION}:
            self._reusable = False
        self.sync_connection.execution_options(**options)
        return self

    async def begin(self) -> None:
        try:
            self.sync_connection.begin()
        except DBAPIError as err:
            if self._engine is None or not is_busy(err):
                self._reusable = False  # a failed BEGIN leaves SQLAlchemy half-begun
                raise
            try:
                await self._begin_when_free(self._engine.busy_wait)
            except BaseException:
                self._reusable = False
                raise

    async def _begin_when_free(self, busy_wait: float) -> None:
        """BEGIN IMMEDIATE found the write lock taken: try again, sleeping between tries
        so the loop serves everyone else meanwhile; past ``busy_wait`` the error goes up."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + busy_wait
        delay = BUSY_FIRST_DELAY
        while True:
            last_try = loop.time() + delay >= deadline
            await asyncio.sleep(max(0.0, min(delay, deadline - loop.time())))
            delay = min(delay * 2, BUSY_MAX_DELAY)
            try:
                self.sync_connection.begin()
                return
            except DBAPIError as err:
                if last_try or not is_busy(err):
                    raise

    async def commit(self) -> None:
        self.sync_connection.commit()

    async def rollback(self) -> None:
        self.sync_connection.rollback()

    async def close(self) -> None:
        if self._engine is not None and self._reusable:
            self._engine.checkin(self.sync_connection)
        else:
            self.sync_connection.close()

    async def run_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        self._reusable = False  # the function may change the connection in any way
        return fn(self.sync_connection, *args, **kwargs)

    async def __aenter__(self) -> InLoopConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class _Connecting:
    """``await engine.connect()`` and ``async with engine.connect() as c`` both work."""

    def __init__(self, engine: InLoopEngine) -> None:
        self._engine = engine
        self._conn: InLoopConnection | None = None

    def __await__(self) -> Generator[Any, None, InLoopConnection]:
        async def _open() -> InLoopConnection:
            return self._engine.checkout()

        return _open().__await__()

    async def __aenter__(self) -> InLoopConnection:
        self._conn = self._engine.checkout()
        return self._conn

    async def __aexit__(self, *exc: object) -> None:
        if self._conn is not None:
            await self._conn.close()


class InLoopEngine:
    def __init__(self, sync_engine: Engine, busy_wait: float = 10.0) -> None:
        self.sync_engine = sync_engine
        # Seconds a transaction may wait for another process's write lock.
        self.busy_wait = busy_wait
        self._idle: list[Connection] = []

    def checkout(self) -> InLoopConnection:
        conn = self._idle.pop() if self._idle else self.sync_engine.connect()
        return InLoopConnection(conn, self)

    def checkin(self, conn: Connection) -> None:
        """Keep a connection for the next unit of work, with no transaction left open."""
        try:
            if conn.in_transaction():
                conn.rollback()
        except Exception:
            conn.invalidate()
        if conn.invalidated or conn.closed or len(self._idle) >= MAX_IDLE_CONNECTIONS:
            conn.close()
            return
        if conn.get_execution_options().get(SQLITE_BEGIN_OPTION):
            conn.execution_options(**{SQLITE_BEGIN_OPTION: ""})
        self._idle.append(conn)

    @property
    def url(self) -> URL:
        return self.sync_engine.url

    @property
    def dialect(self) -> Dialect:
        return self.sync_engine.dialect

    def connect(self) -> _Connecting:
        return _Connecting(self)

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[InLoopConnection]:
        conn = self.checkout()
        try:
            await conn.begin()
            yield conn
            await conn.commit()
        except BaseException:
            await conn.rollback()
            raise
        finally:
            await conn.close()

    async def dispose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
        self.sync_engine.dispose()
