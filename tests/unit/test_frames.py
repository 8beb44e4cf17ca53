"""``api/frames.py``: a client frame is read as an HTTP body is, and refused the same way."""

from __future__ import annotations

import json

import pytest

from qunzu.api.frames import Refusal, read_frame
from qunzu.api.schemas import PingFrame, SendFrame

LIMIT = 64 * 1024


def refusal(raw: str) -> Refusal:
    answer = read_frame(raw, LIMIT)
    assert isinstance(answer, Refusal), answer
    return answer


def test_a_send_frame_is_the_send_model_with_where_and_a_ref() -> None:
    frame = read_frame(
        json.dumps({"type": "send", "ref": 7, "group_id": 3, "body": "你好", "client_txn_id": "t"}),
        LIMIT,
    )
    assert frame == SendFrame(type="send", ref=7, group_id=3, body="你好", client_txn_id="t")
    assert read_frame('{"type": "ping", "ref": "r"}', LIMIT) == PingFrame(type="ping", ref="r")


@pytest.mark.parametrize(
    ("raw", "status", "code"),
    [
        ("{not json", 400, "malformed_json"),
        ('{"type": "ping", "x": ' + "[" * 40 + "]" * 40 + "}", 400, "malformed_json"),
        ("[1, 2]", 422, "validation_error"),
        ('{"type": "dance", "ref": 4}', 400, "unknown_frame"),
        ('{"ref": 4}', 400, "unknown_frame"),
        ('{"type": "send", "group_id": 18446744073709551616, "body": "b", "client_txn_id": "t"}',
         422, "validation_error"),
        ('{"type": "send", "group_id": 1, "body": "a\\u0000", "client_txn_id": "t"}', 422,
         "validation_error"),
        ('{"type": "send", "group_id": 1, "body": "\\ud800", "client_txn_id": "t"}', 422,
         "validation_error"),
        ("x" * (LIMIT + 1), 413, "payload_too_large"),
        ('"' + "字" * (LIMIT // 3) + '"', 413, "payload_too_large"),  # bytes, not characters
    ],
)  # fmt: skip
def test_each_mistake_gets_its_problem(raw: str, status: int, code: str) -> None:
    assert refusal(raw).problem[:2] == (status, code)


def test_a_refused_frame_keeps_its_own_ref_when_it_is_one() -> None:
    assert refusal('{"type": "dance", "ref": "mine"}').ref == "mine"
    assert refusal('{"type": "send", "ref": 9, "group_id": 0}').ref == 9
    assert refusal('{"type": "send", "ref": {"no": 1}}').ref is None
    assert refusal('{"type": "send", "ref": 18446744073709551616}').ref is None


def test_fields_are_named_as_in_the_frame() -> None:
    problem = refusal('{"type": "send", "group_id": "x", "body": 5, "colour": 1}').problem
    fields = sorted(e["field"] for e in problem[3]["errors"])
    assert fields == ["body", "client_txn_id", "colour", "group_id"]
