"""HTTP and WebSocket sends give the same answer to the same input (property-based).

Hypothesis makes sends (a group id of any size, bodies of any JSON type, text with NUL,
lone surrogates and bidirectional controls, over-long and nested bodies, malformed
client_txn_ids, missing and unknown members) and raw documents that are not JSON
objects. Each goes to one real server twice: as ``POST /v1/groups/{id}/messages`` by one
member and as a ``send`` frame by another (client_txn_ids are per sender, so the two
see the same history of retries). The answers must agree: the same status and code,
the same fields named; an accepted send is accepted on both, as new or as a retry.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from tests.factories import add_member, make_group, make_user
from tests.server import ServerThread

TIMEOUT = 10.0
REAL_GROUP = object()  # stands for the group both senders are members of

# Text that each text rule is about, among ordinary characters.
SPECIAL = ["\x00", "\ud800", "\udfff", "\u202e", "\u2066", "\x07", " ", "\n", "字"]
texts = st.text(alphabet=st.one_of(st.characters(), st.sampled_from(SPECIAL)), max_size=20)


def nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


# Plain text a member might send, so that sends also get past validation to the rules.
plain = st.text(
    alphabet=st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
).filter(str.strip)
valid_txn_ids = st.from_regex(r"[A-Za-z0-9._:\-]{1,64}", fullmatch=True)

bodies = st.one_of(
    plain,
    texts,
    st.integers(3995, 4005).map(lambda n: "x" * n),  # around the rulebook's limit
    st.integers(29, 34).map(nested),  # around the nesting bound (the document adds one)
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
txn_ids = st.one_of(
    valid_txn_ids,
    st.sampled_from(["same-1", "same-2"]),  # reused: retries and txn_id_reused
    texts,
    st.integers(-5, 5),
)
group_ids = st.one_of(
    st.just(REAL_GROUP),
    st.sampled_from([0, -1, 2**62, 2**62 + 1, 2**63 - 1, 2**63, 2**64]),
    st.integers(-(2**70), 2**70),
)
documents = st.one_of(
    # a send that is well-formed but for one member at most, to the real group...
    st.builds(
        lambda body, txn, which, value: {"body": body, "client_txn_id": txn, which: value},
        plain,
        st.one_of(valid_txn_ids, st.sampled_from(["same-1", "same-2"])),
        st.sampled_from(["body", "client_txn_id", "colour"]),
        st.one_of(bodies, txn_ids),
    ).map(lambda d: (REAL_GROUP, d)),
    # ...and anything at all.
    st.tuples(
        group_ids,
        st.fixed_dictionaries(
            {}, optional={"body": bodies, "client_txn_id": txn_ids, "colour": st.integers()}
        ),
    ),
)


@dataclass
class World:
    server: ServerThread
    group_id: int
    http: httpx.Client  # as the first member
    ws: ClientConnection  # as the second member
    refs: int = 0

    def over_http(self, group_id: int, text: str) -> tuple[Any, ...]:
        response = self.http.post(f"/v1/groups/{group_id}/messages", content=text.encode())
        if response.status_code in (200, 201):
            return ("ok", response.status_code == 201)
        problem = response.json()
        fields = sorted(e["field"].removeprefix("path.") for e in problem.get("errors", ()))
        return (response.status_code, problem["code"], fields)

    def over_ws(self, text: str) -> tuple[Any, ...]:
        self.ws.send(text)
        while True:
            frame = json.loads(self.ws.recv(timeout=TIMEOUT))
            if frame["type"] in ("ack", "error"):
                break
        if frame["type"] == "ack":
            return ("ok", frame["created"])
        fields = sorted(e["field"] for e in frame.get("errors", ()))
        return (frame["status"], frame["code"], fields)


async def _members(server: ServerThread) -> tuple[str, str, int]:
    first = await make_user(server.url, prefix="viahttp")
    second = await make_user(server.url, prefix="viaws")
    try:
        group = await make_group(first)
        await add_member(first, group, second)
        assert first.token is not None and second.token is not None
        return first.token, second.token, int(group["id"])
    finally:
        await first.aclose()
        await second.aclose()


@pytest.fixture(scope="module")
def world(server: ServerThread) -> Iterator[World]:
    first, second, group_id = asyncio.run(_members(server))
    headers = {"Authorization": f"Bearer {first}", "content-type": "application/json"}
    ws_url = "ws" + server.url.removeprefix("http") + "/v1/events"
    with (
        httpx.Client(base_url=server.url, headers=headers, timeout=TIMEOUT) as http,
        connect(ws_url, additional_headers={"Authorization": f"Bearer {second}"}) as ws,
    ):
        assert json.loads(ws.recv(timeout=TIMEOUT))["type"] == "ready"
        yield World(server, group_id, http, ws)


PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY
@given(send=documents)
def test_a_send_gets_the_same_answer_over_http_and_websocket(
    world: World, send: tuple[object, dict[str, Any]]
) -> None:
    group_id, document = send
    gid = world.group_id if group_id is REAL_GROUP else group_id
    assert isinstance(gid, int)
    world.refs += 1
    # ensure_ascii: a lone surrogate travels as the JSON escape \ud800 (a text frame must
    # be UTF-8, which cannot hold one; a JSON escape can).
    body = json.dumps(document, ensure_ascii=True)
    frame = json.dumps(
        {"type": "send", "ref": world.refs, "group_id": gid, **document}, ensure_ascii=True
    )
    over_http = world.over_http(gid, body)
    over_ws = world.over_ws(frame)
    assert over_http == over_ws, (document, gid)
    assert over_http[0] != 500
    event(f"answer {over_http[:2]}")  # --hypothesis-show-statistics: what was covered


def _is_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False


raw_documents = st.one_of(
    st.text(alphabet='[]{}",:0123456789.-eE truefalsn\\u', min_size=1, max_size=40),
    st.text(min_size=1, max_size=20),
    st.integers(1, 60).map(lambda n: "[" * n + "]" * n),
    st.sampled_from(["[]", "null", "5", '"text"', "[1, 2]", "  ", "{", "}"]),
).filter(lambda text: not _is_object(text))


@PROPERTY
@given(text=raw_documents)
def test_a_document_that_is_not_a_json_object_gets_the_same_answer_on_both_paths(
    world: World, text: str
) -> None:
    """Not JSON, or JSON but not an object: 400 malformed_json or 422 validation_error.
    (An object goes by its members: one without ``type`` is no frame at all.)"""
    over_http = world.over_http(world.group_id, text)
    over_ws = world.over_ws(text)
    assert over_http[:2] == over_ws[:2], text
    event(f"answer {over_http[:2]}")
    assert over_http[:2] in ((400, "malformed_json"), (422, "validation_error"))
