"""Engine construction: SQLite (WAL, one in-process writer) or PostgreSQL (asyncpg).

SQLite runs in one of two modes (``QUNZU_SQLITE_MODE``):

- ``on-loop``: the sync sqlite3 driver called directly on the event loop
  (``storage/inloop.py``; the fast path). Its connections wait for a lock at most
  ``LOOP_BUSY_TIMEOUT_MS`` inside SQLite; a write that finds the write lock taken by
  another process (a CLI job) waits for it asynchronously, so the loop runs on.
- ``thread``: aiosqlite, every statement on a worker thread; a busy lock is waited for
  inside SQLite, on that thread.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from qunzu.config import SQLITE_DRIVER_OF_MODE, SqliteMode
from qunzu.storage.inloop import SQLITE_BEGIN_OPTION, InLoopEngine, is_busy

# PostgreSQL bounds, in seconds, so that no request waits on the database for ever: a
# server that does not answer the connection, a pool with no connection free, a
# statement that does not come back. A server that is down refuses at once (the
# request gets its 503 in milliseconds); these bound the cases where nothing answers.
PG_CONNECT_TIMEOUT = 2.0
PG_POOL_TIMEOUT = 5.0
PG_COMMAND_TIMEOUT = 15.0

__all__ = [
    "LOOP_BUSY_TIMEOUT_MS",
    "SQLITE_BEGIN_OPTION",
    "describe_storage",
    "is_busy",
    "is_sqlite",
    "make_engine",
]

# SQLite's own busy wait on an on-loop connection blocks the loop, so it stays this
# short; writers wait longer asynchronously (InLoopConnection.begin).
LOOP_BUSY_TIMEOUT_MS = 5

# PostgreSQL bounds, in seconds, so that no request waits on the database for ever: a
# server that does not answer the connection, a pool with no connection free, a
# statement that does not come back. A server that is down refuses at once (the
# request gets its 503 in milliseconds); these bound the cases where nothing answers.
PG_CONNECT_TIMEOUT = 2.0
PG_POOL_TIMEOUT = 5.0
PG_COMMAND_TIMEOUT = 15.0


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def describe_storage(url: str, sqlite_mode: SqliteMode) -> str:
    """What runs, in words for the start-up line and the status endpoint."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"sqlite {sqlite_mode}"
    return f"{parsed.get_backend_name()} ({parsed.get_driver_name()})"


def _sqlite_url(parsed: URL, mode: SqliteMode) -> URL:
    wanted = SQLITE_DRIVER_OF_MODE[mode]
    named = parsed.drivername.partition("+")[2]
    if named and named != wanted:
        raise ValueError(
            f"the URL names the SQLite driver {named!r}, but the {mode} mode runs {wanted!r}"
        )
    return parsed.set(drivername=f"sqlite+{wanted}")


def _pragmas(dbapi_conn: Any, busy_timeout_ms: int) -> None:
    # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling is legacy).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cur.close()


def _begin_sql(conn: Any) -> str:
    # Writers begin IMMEDIATE: they take the write lock up front, waiting for it while
    # another process holds it. A deferred writer that had read first would instead
    # fail at once with "database is locked".
    mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
    return "BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN"


def make_engine(
    url: str,
    sqlite_mode: SqliteMode = "on-loop",
    busy_wait_seconds: float = 10.0,
    *,
    command_timeout: float | None = PG_COMMAND_TIMEOUT,
) -> AsyncEngine:
    """Build the async engine. For SQLite: WAL, a busy timeout, foreign keys on.

    ``synchronous=NORMAL`` under WAL keeps the database consistent after a crash
    and may lose only the last transactions on power loss: the usual trade for a
    chat service on one machine. Operators who need more use PostgreSQL.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(
            url,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            pool_timeout=PG_POOL_TIMEOUT,
            connect_args={"timeout": PG_CONNECT_TIMEOUT, "command_timeout": command_timeout},
        )
    database = parsed.database or ""
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    driver_url = _sqlite_url(parsed, sqlite_mode)
    if sqlite_mode == "thread":
        async_engine = create_async_engine(driver_url, pool_size=8, max_overflow=8)
        wait_ms = int(busy_wait_seconds * 1000)

        @event.listens_for(async_engine.sync_engine, "connect")
        def _on_thread_connect(dbapi_conn: Any, _record: Any) -> None:
            _pragmas(dbapi_conn, wait_ms)  # waited for on aiosqlite's thread, not the loop

        @event.listens_for(async_engine.sync_engine, "begin")
        def _on_thread_begin(conn: Any) -> None:
            conn.exec_driver_sql(_begin_sql(conn))

        return async_engine

    engine = create_engine(
        driver_url, pool_size=8, max_overflow=8, connect_args={"check_same_thread": False}
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        _pragmas(dbapi_conn, LOOP_BUSY_TIMEOUT_MS)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        sql = _begin_sql(conn)
        # Straight to the driver: a full SQLAlchemy execution cost more than the BEGIN.
        try:
            conn.connection.driver_connection.execute(sql)
        except sqlite3.Error as err:
            raise DBAPIError.instance(sql, (), err, sqlite3.Error) from err

    return InLoopEngine(engine, busy_wait_seconds)  # type: ignore[return-value]
