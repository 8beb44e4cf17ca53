"""The message path's prebuilt statements, run straight on the sqlite3 cursor.

Why: on SQLite a small indexed statement takes a few microseconds, and SQLAlchemy's
execution around it (execution context, events, result metadata) takes 20-40 µs. A
message send runs a handful of them, so that overhead was most of the storage time.

How: a statement built once at import is marked with :func:`prebuilt`. The first time
it runs on a dialect it is compiled once, by SQLAlchemy, into a *plan*: the SQL text,
the order of its positional parameters with each one's bind processor (the column
types' own conversion: datetimes, booleans, JSON) and default value, and for a
statement that returns rows, each column's result processor and a named-tuple row type.
Executing a plan applies exactly those conversions around ``cursor.execute``. So the
SQL and the conversions are SQLAlchemy's; only its per-execution bookkeeping is skipped.

Only ``storage/inloop.py`` (SQLite) uses plans, and only inside a transaction begun
through SQLAlchemy; everything else, and PostgreSQL, takes the normal path. Driver
errors are re-raised as SQLAlchemy's (``IntegrityError`` etc.) so callers see no change.
"""

from __future__ import annotations

import keyword
import sqlite3
from collections import namedtuple
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import ClauseElement

S = TypeVar("S", bound=ClauseElement)
_Processor = Callable[[Any], Any] | None

# id(statement) -> (statement, {dialect name: plan}); the statement is kept alive so
# that its id is never reused by another object.
_PREBUILT: dict[int, tuple[ClauseElement, dict[str, Plan]]] = {}


def prebuilt(statement: S) -> S:
    """Mark a statement built once at import as one the SQLite fast path may run."""
    _PREBUILT[id(statement)] = (statement, {})
    return statement


class Plan:
    """One compiled statement: SQL, parameter order and conversions, row type."""

    __slots__ = (
        "distinct",
        "order",
        "params",
        "result_processors",
        "returns_rows",
        "row_type",
        "sql",
    )

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled: Any = statement.compile(dialect=dialect)
        if compiled.positiontup is None:
            raise ValueError("prebuilt statements need a positional paramstyle (SQLite)")
        self.sql: str = compiled.string
        params: list[tuple[str, Any, _Processor]] = []
        for name in compiled.positiontup:
            bind = compiled.binds[name]
            if bind.expanding or bind.callable is not None:
                raise ValueError(f"bind {name!r}: expanding or callable binds are not prebuilt")
            params.append(
                (name, bind.value, bind.type.dialect_impl(dialect).bind_processor(dialect))
            )
        self.params = tuple(params)
        seen: dict[str, int] = {}
        distinct: list[tuple[str, Any, _Processor]] = []
        order: list[int] = []
        for name, default, process in params:
            if name not in seen:
                seen[name] = len(distinct)
                distinct.append((name, default, process))
            order.append(seen[name])
        self.distinct = tuple(distinct)
        self.order = tuple(order)
        columns = list(getattr(statement, "exported_columns", ()))
        self.returns_rows = bool(columns)
        keys = [c.key for c in columns] if columns else []
        if len(set(keys)) != len(keys) or any(
            not k.isidentifier() or keyword.iskeyword(k) or k.startswith("_") for k in keys
        ):
            raise ValueError(f"prebuilt statements need distinct plain column names: {keys}")
        self.row_type: Any = namedtuple("Row", keys) if keys else None
        self.result_processors: tuple[_Processor, ...] = tuple(
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
        )

    def bind(self, parameters: dict[str, Any] | None) -> list[Any]:
        given = parameters or {}
        # A name may stand at several positions (``now`` four times in the posting read):
        # convert each name once.
        values = []
        for name, default, process in self.distinct:
            value = given.get(name, default)
            values.append(process(value) if process is not None and value is not None else value)
        return [values[i] for i in self.order]


def plan_for(statement: Any, dialect: Dialect) -> Plan | None:
    """The plan for a prebuilt statement on this dialect, or ``None`` if not prebuilt."""
    entry = _PREBUILT.get(id(statement))
    if entry is None or entry[0] is not statement:
        return None
    plans = entry[1]
    plan = plans.get(dialect.name)
    if plan is None:
        plan = plans[dialect.name] = Plan(statement, dialect)
    return plan


class FastResult:
    """The part of SQLAlchemy's ``Result`` that the repositories use."""

    __slots__ = ("_rows", "rowcount")

    def __init__(self, rows: list[Any], rowcount: int) -> None:
        self._rows = rows
        self.rowcount = rowcount

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def all(self) -> list[Any]:
        return list(self._rows)

    def first(self) -> Any:
        return self._rows[0] if self._rows else None

    def one(self) -> Any:
        if len(self._rows) != 1:
            raise (
                sa_exc.NoResultFound("no row")
                if not self._rows
                else sa_exc.MultipleResultsFound("more than one row")
            )
        return self._rows[0]

    def one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise sa_exc.MultipleResultsFound("more than one row")
        return self._rows[0] if self._rows else None

    def scalar(self) -> Any:
        return self._rows[0][0] if self._rows else None

    def scalar_one(self) -> Any:
        return self.one()[0]


def execute(
    plan: Plan, dbapi_connection: sqlite3.Connection, parameters: dict[str, Any] | None
) -> FastResult:
    bound = plan.bind(parameters)
    try:
        cursor = dbapi_connection.execute(plan.sql, bound)
        raw: Sequence[Any] = cursor.fetchall() if plan.returns_rows else ()
        rowcount = cursor.rowcount
    except sqlite3.Error as err:
        raise sa_exc.DBAPIError.instance(
            plan.sql, bound, err, sqlite3.Error, ismulti=False
        ) from err
    if not raw:
        return FastResult([], rowcount)
    make, processors = plan.row_type._make, plan.result_processors
    rows = [
        make([p(v) if p is not None else v for p, v in zip(processors, r, strict=True)])
        for r in raw
    ]
    return FastResult(rows, rowcount)
