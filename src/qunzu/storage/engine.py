"""Engine construction: SQLite (WAL, one in-process writer) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from qunzu.storage.inloop import SQLITE_BEGIN_OPTION, InLoopEngine

__all__ = ["SQLITE_BEGIN_OPTION", "is_sqlite", "make_engine"]

# PostgreSQL bounds, in seconds, so that no request waits on the database for ever: a
# server that does not answer the connection, a pool with no connection free, a
# statement that does not come back. A server that is down refuses at once (the
# request gets its 503 in milliseconds); these bound the cases where nothing answers.
PG_CONNECT_TIMEOUT = 2.0
PG_POOL_TIMEOUT = 5.0
PG_COMMAND_TIMEOUT = 15.0


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, *, command_timeout: float | None = PG_COMMAND_TIMEOUT) -> AsyncEngine:
    """Build the async engine. For SQLite: WAL, a busy timeout, foreign keys on.

    ``synchronous=NORMAL`` under WAL keeps the database consistent after a crash
    and may lose only the last transactions on power loss: the usual trade for a
    chat service on one machine. Operators who need more use PostgreSQL.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # The sync pysqlite driver, run on the loop (see storage/inloop.py for why).
        sync_url = parsed.set(drivername="sqlite")
        engine = create_engine(
            sync_url, pool_size=8, max_overflow=8, connect_args={"check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            # Let SQLAlchemy emit BEGIN itself (pysqlite's own handling is legacy).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=10000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            # Writers begin IMMEDIATE: they take the write lock up front, waiting for it
            # (busy_timeout) while another process holds it. A deferred writer that had
            # read first would instead fail at once with "database is locked".
            mode = conn.get_execution_options().get(SQLITE_BEGIN_OPTION, "")
            sql = "BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN"
            # Straight to the driver: a full SQLAlchemy execution cost more than the BEGIN.
            try:
                conn.connection.driver_connection.execute(sql)
            except sqlite3.Error as err:
                raise DBAPIError.instance(sql, (), err, sqlite3.Error) from err

        return InLoopEngine(engine)  # type: ignore[return-value]
    return create_async_engine(
        url,
        pool_size=10,
        max_overflow=20,
        pool_pre_ping=True,
        pool_timeout=PG_POOL_TIMEOUT,
        connect_args={"timeout": PG_CONNECT_TIMEOUT, "command_timeout": command_timeout},
    )
