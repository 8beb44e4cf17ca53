"""The one mapping between rows and domain dataclasses (storage/mapping.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from types import SimpleNamespace

import pytest

from qunzu.storage.mapping import enum_values, from_row, row_reader, row_values


class Colour(StrEnum):
    red = "red"
    blue = "blue"


@dataclass(frozen=True, slots=True)
class Thing:
    id: int
    colour: Colour
    shade: Colour | None
    visible: bool
    seqs: tuple[int, ...]
    data: dict[str, int]
    at: datetime
    note: str = ""


AT = datetime(2026, 12, 5, tzinfo=UTC)
THING = Thing(7, Colour.red, None, True, (1, 2), {"a": 1}, AT, "hi")


def test_values_store_enumerations_by_value_and_tuples_as_lists() -> None:
    assert row_values(THING) == {
        "id": 7,
        "colour": "red",
        "shade": None,
        "visible": True,
        "seqs": [1, 2],
        "data": {"a": 1},
        "at": AT,
        "note": "hi",
    }


def test_values_leave_out_and_override_fields() -> None:
    values = row_values(THING, exclude=("id",), note="cut")
    assert "id" not in values
    assert values["note"] == "cut"


@pytest.mark.parametrize("read", [row_reader(Thing), lambda row: from_row(Thing, row)])
def test_a_row_reads_back_into_the_same_object(read) -> None:  # type: ignore[no-untyped-def]
    row = SimpleNamespace(**{**row_values(THING), "visible": 1})  # SQLite hands back ints
    assert read(row) == THING


def test_nulls_read_as_none_empty_tuple_and_empty_dict() -> None:
    row = SimpleNamespace(
        id=1, colour="blue", shade=None, visible=0, seqs=None, data=None, at=AT, note=""
    )
    thing = row_reader(Thing)(row)
    assert (thing.shade, thing.visible, thing.seqs, thing.data) == (None, False, (), {})
    assert thing.colour is Colour.blue


def test_given_fields_are_taken_as_they_are() -> None:
    row = SimpleNamespace(**row_values(THING))
    assert row_reader(Thing, note="given")(row).note == "given"


def test_an_unknown_enumeration_value_is_refused() -> None:
    row = SimpleNamespace(**{**row_values(THING), "colour": "green"})
    with pytest.raises(ValueError):
        row_reader(Thing)(row)


def test_field_changes_store_enumerations_by_value() -> None:
    assert enum_values({"colour": Colour.blue, "n": 3}) == {"colour": "blue", "n": 3}
