"""Bad input gets a 4xx problem document, never a 500 and never a bare error page.

These tests send raw HTTP on purpose (malformed bodies, oversized bodies, odd paths),
so they use the SDK's connection (``QunzuClient._http``) without its conveniences.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from qunzu.client import QunzuClient
from tests.factories import make_group, me
from tests.server import ServerThread

PROBLEM = "application/problem+json"
LIMIT = 64 * 1024


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem with qunzu's ``code``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM
    problem = response.json()
    for member in ("type", "title", "status", "detail", "code"):
        assert member in problem, f"{member} missing from {problem}"
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"].endswith("/" + code)
    assert isinstance(problem["title"], str) and problem["title"]
    assert isinstance(problem["detail"], str) and problem["detail"]
    return problem


def auth(client: QunzuClient, **extra: str) -> dict[str, str]:
    assert client.token is not None
    return {"Authorization": f"Bearer {client.token}", **extra}


JSON = {"content-type": "application/json"}


@pytest.fixture
async def raw(server: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


def test_the_default_body_limit_is_64_kib(server: ServerThread) -> None:
    assert server.settings.max_request_bytes == LIMIT


# ---- malformed and mistyped bodies ----------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b'{"handle": "abc", ', b"{'handle': 'abc'}", b"not json at all", b"\xff\xfe\xfd"],
    ids=["truncated", "single-quotes", "prose", "not-utf8"],
)
async def test_malformed_json_is_a_400(raw: httpx.AsyncClient, body: bytes) -> None:
    response = await raw.post("/v1/accounts", content=body, headers=JSON)
    assert_problem(response, 400, "malformed_json")


async def test_malformed_json_to_an_authenticated_route_is_a_400(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    group = await make_group(alice)
    response = await raw.post(
        f"/v1/groups/{group['id']}/messages",
        content=b'{"body": "hi", "client_txn_id": ',
        headers=auth(alice, **JSON),
    )
    assert_problem(response, 400, "malformed_json")


async def test_wrong_types_are_a_validation_error_naming_the_fields(
    raw: httpx.AsyncClient,
) -> None:
    response = await raw.post("/v1/accounts", json={"handle": 123, "password": ["x"]})
    problem = assert_problem(response, 422, "validation_error")
    assert {e["field"] for e in problem["errors"]} == {"handle", "password"}


async def test_a_wrong_type_in_a_group_body_is_a_validation_error(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    response = await raw.post(
        "/v1/groups",
        json={"name": "typed", "category": "friends", "discoverable": "maybe"},
        headers=auth(alice),
    )
    problem = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["discoverable"]


async def test_an_unknown_field_is_a_validation_error(raw: httpx.AsyncClient) -> None:
    response = await raw.post(
        "/v1/accounts", json={"handle": "abcdef", "password": "long enough", "is_admin": True}
    )
    problem = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["is_admin"]


async def test_a_missing_field_is_a_validation_error(raw: httpx.AsyncClient) -> None:
    response = await raw.post("/v1/accounts", json={"handle": "abcdef"})
    problem = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["password"]


@pytest.mark.parametrize("body", [b"[]", b"null", b'"text"', b"42", b""])
async def test_a_body_that_is_not_an_object_is_a_validation_error(
    raw: httpx.AsyncClient, body: bytes
) -> None:
    response = await raw.post("/v1/accounts", content=body, headers=JSON)
    assert_problem(response, 422, "validation_error")


async def test_a_lone_surrogate_in_a_string_is_a_validation_error(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    group = await make_group(alice)
    response = await raw.post(
        f"/v1/groups/{group['id']}/messages",
        content=b'{"body": "a\\ud800b", "client_txn_id": "surrogate-1"}',
        headers=auth(alice, **JSON),
    )
    assert_problem(response, 422, "validation_error")


# ---- oversized bodies -----------------------------------------------------------------------


def oversized_registration() -> bytes:
    body = json.dumps({"handle": "abcdef", "password": "p" * (LIMIT + 1)}).encode()
    assert len(body) > LIMIT
    return body


async def test_a_body_over_the_limit_with_content_length_is_a_413(
    raw: httpx.AsyncClient,
) -> None:
    body = oversized_registration()
    response = await raw.post("/v1/accounts", content=body, headers=JSON)
    assert response.request.headers["content-length"] == str(len(body))
    problem = assert_problem(response, 413, "payload_too_large")
    assert problem["limit"] == LIMIT


async def test_a_chunked_body_over_the_limit_is_a_413(raw: httpx.AsyncClient) -> None:
    body = oversized_registration()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 8192):
            yield body[start : start + 8192]

    response = await raw.post("/v1/accounts", content=chunks(), headers=JSON)
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    problem = assert_problem(response, 413, "payload_too_large")
    assert problem["limit"] == LIMIT


async def test_a_chunked_body_over_the_limit_to_an_authenticated_route_is_a_413(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    group = await make_group(alice)
    body = json.dumps({"body": "x" * (LIMIT + 10), "client_txn_id": "big-1"}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    response = await raw.post(
        f"/v1/groups/{group['id']}/messages", content=chunks(), headers=auth(alice, **JSON)
    )
    assert_problem(response, 413, "payload_too_large")
    assert (await alice.history(group["id"]))["entries"][-1]["kind"] == "group_created"


async def test_a_chunked_body_under_the_limit_is_accepted(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    group = await make_group(alice)
    body = json.dumps({"body": "small and chunked", "client_txn_id": "chunked-ok"}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 5):
            yield body[start : start + 5]

    response = await raw.post(
        f"/v1/groups/{group['id']}/messages", content=chunks(), headers=auth(alice, **JSON)
    )
    assert response.status_code == 201, response.text
    assert response.json()["body"] == "small and chunked"


async def test_a_large_body_under_the_limit_reaches_the_service(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    group = await make_group(alice)
    body = json.dumps({"body": "x" * (LIMIT - 100), "client_txn_id": "big-2"}).encode()
    assert len(body) <= LIMIT
    response = await raw.post(
        f"/v1/groups/{group['id']}/messages", content=body, headers=auth(alice, **JSON)
    )
    assert_problem(response, 400, "message_too_long")


async def test_the_server_still_serves_after_oversized_bodies(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    for _ in range(3):
        response = await raw.post("/v1/accounts", content=oversized_registration(), headers=JSON)
        assert response.status_code == 413
    assert (await alice.me())["id"] == me(alice)["id"]


# ---- paths and queries ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/groups/0",
        "/v1/groups/-1",
        f"/v1/groups/{2**62 + 1}",
        "/v1/groups/99999999999999999999999999999",
        "/v1/groups/abc",
        "/v1/groups/1.5",
        "/v1/groups/by-number/0",
        f"/v1/groups/by-number/{2**63}",
        f"/v1/groups/1/messages?after={2**62 + 1}",
        "/v1/groups/1/messages?after=-1",
        "/v1/groups/1/messages?limit=1001",
        "/v1/groups/1/members?offset=-5",
        "/v1/groups?limit=0",
    ],
)
async def test_out_of_range_path_and_query_values_are_a_validation_error(
    raw: httpx.AsyncClient, alice: QunzuClient, path: str
) -> None:
    response = await raw.get(path, headers=auth(alice))
    assert_problem(response, 422, "validation_error")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/v1/me/tokens/0"),
        ("POST", f"/v1/invitations/{2**62 + 1}/accept"),
        ("POST", "/v1/join-requests/-3/approve"),
        ("POST", "/v1/ownership-offers/x/accept"),
        ("PUT", "/v1/groups/1/members/0/role"),
    ],
)
async def test_out_of_range_ids_on_mutations_are_a_validation_error(
    raw: httpx.AsyncClient, alice: QunzuClient, method: str, path: str
) -> None:
    response = await raw.request(method, path, headers=auth(alice), json={})
    assert_problem(response, 422, "validation_error")


async def test_an_unknown_route_is_a_problem(raw: httpx.AsyncClient) -> None:
    assert_problem(await raw.get("/v1/no-such-thing"), 404, "route_not_found")


async def test_a_wrong_method_is_a_problem(raw: httpx.AsyncClient) -> None:
    assert_problem(await raw.put("/v1/accounts", json={}), 405, "method_not_allowed")


# ---- every refusal is a problem document --------------------------------------------------


async def test_every_kind_of_refusal_is_a_problem_document(
    raw: httpx.AsyncClient, alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    """One request per status the API gives, each checked for the full problem shape."""
    private = await make_group(alice)
    open_group = await make_group(carol, join_policy="open", discoverable=True)
    await bob.join(open_group["id"])
    invitation = await alice.invite(private["id"], me(bob)["handle"])
    await bob.decline_invitation(invitation["id"])
    cases: list[tuple[str, str, dict[str, Any] | None, QunzuClient | None, int, str]] = [
        ("POST", "/v1/accounts", {"handle": "1bad", "password": "long enough"}, None, 400,
         "invalid_handle"),
        ("GET", "/v1/me", None, None, 401, "token_missing"),
        ("POST", f"/v1/groups/{open_group['id']}/rules", None, bob, 405, "method_not_allowed"),
        ("PATCH", f"/v1/groups/{open_group['id']}", {"name": "x"}, bob, 403, "not_permitted"),
        ("GET", f"/v1/groups/{private['id']}", None, bob, 404, "group_not_found"),
        ("POST", f"/v1/groups/{open_group['id']}/join", {}, bob, 409, "already_member"),
        ("POST", f"/v1/invitations/{invitation['id']}/accept", {}, bob, 409,
         "invitation_answered"),
        ("POST", "/v1/groups", {"name": "x", "category": "nope"}, alice, 422,
         "validation_error"),
    ]  # fmt: skip
    for method, path, body, who, status, code in cases:
        headers = auth(who) if who is not None else {}
        response = await raw.request(method, path, json=body, headers=headers)
        assert_problem(response, status, code)


async def test_a_401_carries_a_bearer_challenge(raw: httpx.AsyncClient) -> None:
    response = await raw.get("/v1/me", headers={"Authorization": "Bearer nonsense"})
    assert_problem(response, 401, "token_invalid")
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_non_bearer_authorization_is_token_missing(raw: httpx.AsyncClient) -> None:
    response = await raw.get("/v1/me", headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})
    assert_problem(response, 401, "token_missing")


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (None, "token_missing"),
        ("Basic YWxpY2U6c2VjcmV0", "token_missing"),
        ("Bearer", "token_missing"),
        ("Bearer nonsense", "token_invalid"),
        ("bearer nonsense", "token_invalid"),
    ],
)
async def test_the_send_route_authenticates_as_every_other_route(
    raw: httpx.AsyncClient, alice: QunzuClient, authorization: str | None, code: str
) -> None:
    """The send route reads its bearer token itself (api/deps.get_session); the answers,
    and their precedence over a malformed body, are those of the HTTPBearer routes."""
    group = await make_group(alice)
    headers = {"Authorization": authorization} if authorization is not None else {}
    path = f"/v1/groups/{group['id']}/messages"
    for body in ({"body": "hi", "client_txn_id": "t-1"}, {"body": 5}):
        response = await raw.post(path, json=body, headers=headers)
        assert_problem(response, 401, code)
        assert response.headers["www-authenticate"] == "Bearer"
        same = await raw.get("/v1/me", headers=headers)
        assert_problem(same, 401, code)


# ---- text: one rule for every field ----------------------------------------------------------

NUL, SURROGATE, RLO, LRI = "\x00", "\ud800", "\u202e", "\u2066"


def raw_json(document: dict[str, Any]) -> bytes:
    """JSON text as a client may send it: a lone surrogate escaped (``\\ud800``), which is
    valid JSON text, if not a character."""
    return json.dumps(document, ensure_ascii=True).encode()


async def text_refusal(
    raw: httpx.AsyncClient, client: QunzuClient, method: str, path: str, body: dict[str, Any]
) -> list[str]:
    """The request is refused as 422 validation_error; the fields it names."""
    response = await raw.request(method, path, content=raw_json(body), headers=auth(client, **JSON))
    problem = assert_problem(response, 422, "validation_error")
    return [e["field"] for e in problem["errors"]]


@pytest.mark.parametrize("bad", [NUL, SURROGATE], ids=["nul", "lone-surrogate"])
async def test_nul_and_lone_surrogates_are_refused_in_every_text_field(
    raw: httpx.AsyncClient, alice: QunzuClient, bob: QunzuClient, bad: str
) -> None:
    group = await make_group(alice, join_policy="approval")
    gid = group["id"]
    sent = await alice.send(gid, "something to report")
    target = {"kind": "message", "seq": sent["seq"]}
    text = f"a{bad}b"
    cases: list[tuple[str, str, dict[str, Any], QunzuClient, str]] = [
        ("POST", f"/v1/groups/{gid}/messages", {"body": text, "client_txn_id": "t-1"}, alice,
         "body"),
        ("POST", "/v1/reports",
         {"group_id": gid, "target": target, "category": "spam", "statement": text}, alice,
         "statement"),
        ("POST", f"/v1/groups/{gid}/report-up",
         {"target": target, "category": "spam", "statement": text}, alice, "statement"),
        ("POST", "/v1/groups", {"name": text, "category": "friends"}, alice, "name"),
        ("PUT", f"/v1/groups/{gid}/rules", {"text": text}, alice, "text"),
        ("PUT", f"/v1/groups/{gid}/notice", {"text": text}, alice, "text"),
        ("PATCH", "/v1/me", {"display_name": text}, alice, "display_name"),
        ("POST", "/v1/me/tokens", {"label": text}, alice, "label"),
        ("POST", f"/v1/groups/{gid}/join-requests", {"note": text}, bob, "note"),
        ("POST", f"/v1/groups/{gid}/members/{me(bob)['id']}/mute",
         {"minutes": 5, "reason": text}, alice, "reason"),
        ("POST", "/v1/accounts", {"handle": "abcdef", "password": f"long {text} enough"}, alice,
         "password"),
    ]  # fmt: skip
    for method, path, body, who, field in cases:
        assert await text_refusal(raw, who, method, path, body) == [field], path
    assert [e["body"] for e in (await alice.history(gid))["entries"]][-1] == sent["body"]


@pytest.mark.parametrize("control", [RLO, LRI], ids=["override", "isolate"])
async def test_bidirectional_controls_are_refused_in_names_rules_notices_and_labels(
    raw: httpx.AsyncClient, alice: QunzuClient, control: str
) -> None:
    group = await make_group(alice)
    gid = group["id"]
    text = f"exe.{control}txt"
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/v1/groups", {"name": text, "category": "friends"}, "name"),
        ("PATCH", f"/v1/groups/{gid}", {"name": text}, "name"),
        ("PUT", f"/v1/groups/{gid}/rules", {"text": text}, "text"),
        ("PUT", f"/v1/groups/{gid}/notice", {"text": text}, "text"),
        ("POST", "/v1/me/tokens", {"label": text}, "label"),
    ]
    for method, path, body, field in cases:
        assert await text_refusal(raw, alice, method, path, body) == [field], path
    # Display names keep their own, stricter rule (no control or format character at all).
    response = await raw.patch("/v1/me", json={"display_name": text}, headers=auth(alice))
    assert_problem(response, 400, "invalid_display_name")
    # A message is the sender's own words, in any script and direction.
    sent = await alice.send(gid, f"שלום {control}abc")
    assert sent["body"] == f"שלום {control}abc"


async def test_a_control_character_in_a_search_or_a_handle_is_a_validation_error(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    for path in ("/v1/groups?q=a%00b", "/v1/accounts/a%00b", "/v1/groups?q=%E2%80%AEx"):
        response = await raw.get(path, headers=auth(alice))
        assert_problem(response, 422, "validation_error")


# ---- JSON nesting -----------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_json_nested_past_the_bound_is_malformed(
    raw: httpx.AsyncClient, alice: QunzuClient
) -> None:
    group = await make_group(alice)
    path = f"/v1/groups/{group['id']}/messages"
    for depth in (33, 5000):  # the object itself is one level
        body = f'{{"body": {nested(depth - 1)}, "client_txn_id": "deep"}}'.encode()
        response = await raw.post(path, content=body, headers=auth(alice, **JSON))
        problem = assert_problem(response, 400, "malformed_json")
        assert "nested deeper than 32 levels" in problem["detail"]
    body = f'{{"body": {nested(31)}, "client_txn_id": "deep"}}'.encode()  # 32: within
    response = await raw.post(path, content=body, headers=auth(alice, **JSON))
    problem = assert_problem(response, 422, "validation_error")
    assert [e["field"] for e in problem["errors"]] == ["body"]
    deep_in_text = json.dumps({"body": "[" * 100, "client_txn_id": "brackets"}).encode()
    response = await raw.post(path, content=deep_in_text, headers=auth(alice, **JSON))
    assert response.status_code == 201, response.text  # brackets in a string do not nest


# ---- 405 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/v1/accounts", "POST"),
        ("DELETE", "/v1/groups/1/rules", "GET, PUT"),  # two routes share the path
        ("PUT", "/v1/groups/1/messages", "GET, POST"),
        ("POST", "/v1/me", "GET, PATCH"),
        ("HEAD", "/v1/me", "GET, PATCH"),
        ("GET", "/v1/groups/1/members/2/mute", "DELETE, POST"),
    ],
)
async def test_a_405_names_every_method_the_path_allows(
    raw: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    response = await raw.request(method, path)
    if method == "HEAD":  # no body to read: the status and the header say it all
        assert response.status_code == 405
        assert response.headers["allow"] == allow
        return
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == allow
