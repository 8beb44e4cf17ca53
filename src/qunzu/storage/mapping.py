"""One mapping between table rows and domain dataclasses, read off the dataclass fields.

A domain dataclass names its fields once; this module derives, from those fields and their
type hints, how to read a row into it (``row_reader``) and how to turn it into column values
(``row_values``). Columns carry the field's name. A field typed as an enumeration is stored
as its value; ``bool`` fields are read back as ``bool`` (SQLite hands back integers); a
``tuple`` field is stored as a JSON list; a ``dict`` field as a JSON object.

The plan for each class is computed once, so reading a row costs one attribute read and at
most one conversion per field: the message path reads its rows through here.
"""

from __future__ import annotations

import dataclasses
import enum
import sys
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")

Convert = Callable[[Any], Any] | None


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def _reader_for(hint: Any) -> Convert:
    inner, optional = _unwrap_optional(hint)
    base = typing.get_origin(inner) or inner
    convert: Convert
    if isinstance(base, type) and issubclass(base, enum.Enum):
        convert = base
    elif base is bool:
        convert = bool
    elif base is tuple:
        convert = tuple
    elif base is dict:
        return lambda v: dict(v or {})
    else:
        return None
    if optional or base is tuple:
        # A NULL stays None (a tuple column that was never written reads as empty).
        empty: Any = () if base is tuple and not optional else None
        fn = convert
        return lambda v: fn(v) if v is not None else empty
    return convert


def _writer_for(hint: Any) -> Convert:
    inner, _ = _unwrap_optional(hint)
    base = typing.get_origin(inner) or inner
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return lambda v: v.value if v is not None else None
    if base is tuple:
        return lambda v: list(v) if v is not None else None
    return None


def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    module = sys.modules[cls.__module__]
    hints = typing.get_type_hints(cls, vars(module))
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init)


Plan = tuple[tuple[str, Convert], ...]
_read_plans: dict[type, Plan] = {}
_write_plans: dict[type, Plan] = {}


def _read_plan(cls: type) -> Plan:
    plan = _read_plans.get(cls)
    if plan is None:
        plan = _read_plans[cls] = tuple((n, _reader_for(h)) for n, h in _fields(cls))
    return plan


def _write_plan(cls: type) -> Plan:
    plan = _write_plans.get(cls)
    if plan is None:
        plan = _write_plans[cls] = tuple((n, _writer_for(h)) for n, h in _fields(cls))
    return plan


def from_row(cls: type[T], row: Any, /, **given: Any) -> T:
    """Build ``cls`` from a row whose columns are named as the fields.

    ``given`` supplies fields the row does not hold (or holds in another shape), as is.
    """
    values: dict[str, Any] = {}
    for name, convert in _read_plan(cls):
        if name in given:
            values[name] = given[name]
            continue
        raw = getattr(row, name)
        values[name] = convert(raw) if convert is not None else raw
    return cls(**values)


def row_reader(cls: type[T], **given: Any) -> Callable[[Any], T]:
    """A function reading one row into ``cls``: the converter a repository passes around.

    Its body is generated once, field by field, as a hand-written converter would be
    (``cls(id=row.id, kind=_kind(row.kind), ...)``), so the message path pays nothing for
    the fields being listed only in the dataclass.
    """
    if given:
        return lambda row: from_row(cls, row, **given)
    namespace: dict[str, Any] = {"_cls": cls}
    args = []
    for i, (name, convert) in enumerate(_read_plan(cls)):
        if convert is None:
            args.append(f"{name}=row.{name}")
        else:
            namespace[f"_c{i}"] = convert
            args.append(f"{name}=_c{i}(row.{name})")
    source = f"def read_{cls.__name__}(row):\n    return _cls({', '.join(args)})\n"
    exec(source, namespace)  # the source is built from dataclass field names only
    reader: Callable[[Any], T] = namespace[f"read_{cls.__name__}"]
    return reader


def row_values(obj: Any, /, *, exclude: tuple[str, ...] = (), **overrides: Any) -> dict[str, Any]:
    """Column values for ``obj``: every field but ``exclude``, enumerations as their values."""
    values: dict[str, Any] = {}
    for name, convert in _write_plan(type(obj)):
        if name in exclude:
            continue
        raw = getattr(obj, name)
        values[name] = convert(raw) if convert is not None else raw
    values.update(overrides)
    return values


def enum_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Field changes as column values: enumerations by their value."""
    return {k: v.value if isinstance(v, enum.Enum) else v for k, v in fields.items()}
