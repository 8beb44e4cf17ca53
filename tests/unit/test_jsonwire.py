"""``api/jsonwire.py``: JSON off the wire, with a nesting bound, for HTTP and WebSocket alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qunzu.api.jsonwire import MAX_JSON_DEPTH, loads, too_deep


def depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth_of(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth_of(v) for v in value.values()), default=0)
    return 0


# Strings full of brackets, quotes and backslashes: text that only looks like structure.
tricky = st.text(alphabet='[]{}"\\ab', max_size=8)
documents = st.recursive(
    st.one_of(st.none(), st.integers(), tricky),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(tricky, inner, max_size=3)
    ),
    max_leaves=60,
)


@given(documents, st.integers(0, 8))
def test_too_deep_agrees_with_the_depth_of_the_decoded_document(value: Any, limit: int) -> None:
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
        assert too_deep(text, limit) == (depth_of(value) > limit), text


@pytest.mark.parametrize("depth", [1, MAX_JSON_DEPTH])
def test_loads_takes_documents_up_to_the_bound(depth: int) -> None:
    text = "[" * depth + "]" * depth
    assert depth_of(loads(text)) == depth
    assert depth_of(loads(text.encode())) == depth


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_loads_refuses_deeper_documents_as_malformed_json(depth: int) -> None:
    with pytest.raises(json.JSONDecodeError, match="nested deeper than 32 levels"):
        loads("[" * depth + "]" * depth)
    with pytest.raises(json.JSONDecodeError, match="nested deeper"):
        loads(b'{"a": ' + b"[" * depth)  # unbalanced too: the depth is what it reached


def test_brackets_in_strings_and_utf8_do_not_count() -> None:
    text = json.dumps({"body": "[{" * 500 + '字\\"', "x": [1]}, ensure_ascii=False)
    assert not too_deep(text)
    assert loads(text.encode())["x"] == [1]
