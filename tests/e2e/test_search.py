"""GET /v1/search through a real server: results, paging, and every bad input a 4xx
problem with a stable code (the engines' own behaviour is in
tests/integration/test_search_conformance.py)."""

from __future__ import annotations

import pytest

from qunzu.client import QunzuClient
from tests.factories import group_with, make_group, me, refused


async def test_search_answers_group_author_time_and_a_highlighted_snippet(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob, name="饭搭子")
    sent = await alice.send(group["id"], "今晚一起吃晚饭吧")
    await alice.send(group["id"], "明天开会")
    page = await bob.search("晚饭")
    assert page["next_before"] is None
    (hit,) = page["results"]
    assert (hit["group_id"], hit["group_name"], hit["seq"]) == (group["id"], "饭搭子", sent["seq"])
    assert (hit["sender_id"], hit["sender_name"]) == (me(alice)["id"], "Alice")
    assert hit["created_at"] == sent["created_at"]
    assert [p["text"] for p in hit["snippet"] if p["hit"]] == ["晚饭"]
    assert "".join(p["text"] for p in hit["snippet"]) == "今晚一起吃晚饭吧"


async def test_search_pages_by_cursor_and_within_one_group(alice: QunzuClient) -> None:
    group = await make_group(alice)
    other = await make_group(alice)
    seqs = [(await alice.send(group["id"], f"Meeting {i}"))["seq"] for i in range(5)]
    await alice.send(other["id"], "meeting elsewhere")
    first = await alice.search("meeting", group=group["id"], limit=3)
    second = await alice.search("meeting", group=group["id"], limit=3, before=first["next_before"])
    found = [r["seq"] for r in first["results"] + second["results"]]
    assert found == sorted(seqs, reverse=True)
    assert second["next_before"] is None


async def test_search_in_a_group_you_are_not_in_is_forbidden(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    error = await refused(bob.search("晚饭", group=group["id"]))
    assert (error.status, error.code) == (403, "not_a_member")


@pytest.mark.parametrize(
    ("q", "code"),
    [
        ("晚", "query_too_short"),
        ("a", "query_too_short"),
        ("x" * 65, "query_too_long"),
        ("晚饭\x00", "query_control_characters"),
        ("晚饭\u202e", "query_control_characters"),
        ("%%% ***", "query_has_no_words"),
        ("a 晚", "query_term_too_short"),
        (" ".join("abcdefghij"), "query_too_many_terms"),
    ],
)
async def test_bad_queries_are_refused_with_a_code(alice: QunzuClient, q: str, code: str) -> None:
    error = await refused(alice.search(q))
    assert (error.status, error.code) == (400, code)


async def test_bad_paging_is_refused_with_a_code(alice: QunzuClient) -> None:
    assert (await refused(alice.search("晚饭", limit=51))).code == "invalid_limit"
    bad: list[dict[str, object]] = [
        {"q": "晚饭", "limit": 0},
        {"q": "晚饭", "before": 0},
        {"q": "晚饭", "before": -1},
        {"q": "晚饭", "before": "x"},
        {"q": "晚饭", "group": 2**70},
        {},
        {"q": "y" * 1001},
    ]
    for params in bad:
        error = await refused(alice.request("GET", "/v1/search", params=params))
        assert (error.status, error.code) == (422, "validation_error"), params


async def test_search_needs_a_login(anon: QunzuClient) -> None:
    assert (await refused(anon.search("晚饭"))).status == 401


async def test_searches_past_the_rulebook_rate_are_refused_with_429(bob: QunzuClient) -> None:
    for _ in range(30):  # [search] per_minute in policies/cn-2017.toml
        await bob.search("晚饭")
    error = await refused(bob.search("晚饭"))
    assert (error.status, error.code) == (429, "search_rate_limited")
