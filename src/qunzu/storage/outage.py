"""Telling "the database cannot be reached" apart from a bug.

A refused connection, a connection the server ended (shutdown, crash, restart), a
server that is starting up or full, or a pool that has no connection to give within
its timeout: none of these is the request's fault, and the same request may succeed
in a moment. The unit of work turns them into ``Unavailable`` (503 with
``Retry-After``); any other database error stays what it is (a 500 is a bug).
"""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from qunzu.domain.errors import Unavailable

# Seconds a client is told to wait before trying again.
RETRY_AFTER_SECONDS = 2

# SQLSTATE classes and codes that mean "no usable connection": 08 connection
# exception, 57P01-57P03 admin shutdown, crash shutdown, cannot connect now (starting
# up or shutting down), 53300 too many connections.
_SQLSTATE_PREFIXES = ("08", "57P01", "57P02", "57P03", "53300")
# SQLite's transient conditions (its other OperationalErrors, such as a missing
# table, are bugs or a schema that was not migrated).
_SQLITE_MESSAGES = ("database is locked", "unable to open database file", "disk i/o error")


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from (``__cause__``, a DBAPIError's ``orig``)."""
    seen: list[BaseException] = []
    todo: list[BaseException | None] = [exc]
    while todo and len(seen) < 10:
        item = todo.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        todo.append(item.__cause__)
        if isinstance(item, DBAPIError):
            orig = item.orig
            todo.append(orig if isinstance(orig, BaseException) else None)
    return seen


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be reached, not that the request is wrong."""
    for item in _causes(exc):
        if isinstance(item, OSError | PoolTimeout):  # refused, reset, timed out, no route
            return True
        if isinstance(item, DBAPIError) and item.connection_invalidated:
            return True
        sqlstate = getattr(item, "sqlstate", None) or getattr(item, "pgcode", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(_SQLSTATE_PREFIXES):
            return True
        if isinstance(item, sqlite3.OperationalError) and str(item).lower().startswith(
            _SQLITE_MESSAGES
        ):
            return True
    return False


def unavailable() -> Unavailable:
    return Unavailable(
        "database_unavailable",
        "The database cannot be reached just now; try again shortly.",
        retry_after=RETRY_AFTER_SECONDS,
    )
