"""Messages: seq order, idempotent sends, limits, history paging, direct conversations."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import pytest

from qunzu.client import QunzuClient
from tests.factories import add_member, make_group, me, refused
from tests.server import ServerThread


async def post(client: QunzuClient, group_id: int, body: str, txn: str) -> tuple[int, Any]:
    response = await client.request(
        "POST", f"/v1/groups/{group_id}/messages", json={"body": body, "client_txn_id": txn}
    )
    return response.status_code, response.json()


async def bodies(client: QunzuClient, group_id: int) -> list[str]:
    page = await client.history(group_id, limit=200)
    return [e["body"] for e in page["entries"] if e["kind"] == "message"]


# ---- sending ------------------------------------------------------------------------------


async def test_sending_returns_the_stored_message_with_its_seq(alice: QunzuClient) -> None:
    group = await make_group(alice)
    sent = await alice.send(group["id"], "你好，世界", client_txn_id="first-1")
    assert sent["seq"] == group["last_seq"] + 1
    assert sent["kind"] == "message"
    assert (sent["body"], sent["client_txn_id"]) == ("你好，世界", "first-1")
    assert (sent["group_id"], sent["sender_id"]) == (group["id"], me(alice)["id"])
    assert (await alice.group(group["id"]))["last_seq"] == sent["seq"]


async def test_seqs_are_gap_free_across_messages_and_events(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    await alice.send(group["id"], "one")
    await add_member(alice, group, bob)
    await bob.send(group["id"], "two")
    await alice.set_rules(group["id"], "rules")
    await alice.send(group["id"], "three")
    seqs = [e["seq"] for e in (await alice.history(group["id"], limit=200))["entries"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert seqs[-1] == (await alice.group(group["id"]))["last_seq"]


async def test_a_retry_with_the_same_txn_id_returns_the_original(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    await add_member(alice, group, bob)
    txn = uuid.uuid4().hex
    status, first = await post(bob, group["id"], "only once", txn)
    assert status == 201
    await alice.send(group["id"], "in between")
    status, retried = await post(bob, group["id"], "only once", txn)
    assert status == 200
    assert retried == first
    assert await bodies(alice, group["id"]) == ["only once", "in between"]


async def test_concurrent_retries_store_one_message(alice: QunzuClient) -> None:
    group = await make_group(alice)
    txn = uuid.uuid4().hex
    results = await asyncio.gather(
        *(post(alice, group["id"], "flaky network", txn) for _ in range(8))
    )
    assert sorted(status for status, _ in results) == [200] * 7 + [201]
    assert len({entry["seq"] for _, entry in results}) == 1
    assert await bodies(alice, group["id"]) == ["flaky network"]


async def test_concurrent_senders_get_gap_free_seqs(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice)
    await add_member(alice, group, bob)
    start = (await alice.group(group["id"]))["last_seq"]
    sent = await asyncio.gather(
        *(client.send(group["id"], f"m{i}") for i in range(10) for client in (alice, bob))
    )
    assert sorted(m["seq"] for m in sent) == list(range(start + 1, start + 21))
    page = await alice.history(group["id"], after=start, limit=200)
    assert [e["seq"] for e in page["entries"]] == list(range(start + 1, start + 21))


async def test_a_txn_id_is_per_sender(alice: QunzuClient, bob: QunzuClient) -> None:
    group = await make_group(alice)
    await add_member(alice, group, bob)
    first = await alice.send(group["id"], "same words", client_txn_id="shared-txn")
    second = await bob.send(group["id"], "same words", client_txn_id="shared-txn")
    assert second["seq"] == first["seq"] + 1
    assert second["sender_id"] == me(bob)["id"]


async def test_reusing_a_txn_id_for_a_different_body_is_a_conflict(alice: QunzuClient) -> None:
    group = await make_group(alice)
    await alice.send(group["id"], "original", client_txn_id="reuse-me")
    err = await refused(alice.send(group["id"], "different", client_txn_id="reuse-me"))
    assert (err.status, err.code) == (409, "txn_id_reused")
    assert await bodies(alice, group["id"]) == ["original"]


async def test_reusing_a_txn_id_in_another_group_is_a_conflict(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    one, two = await make_group(alice), await alice.open_direct(me(bob)["handle"])
    await alice.send(one["id"], "hello", client_txn_id="across-groups")
    err = await refused(alice.send(two["id"], "hello", client_txn_id="across-groups"))
    assert (err.status, err.code) == (409, "txn_id_reused")
    assert await bodies(alice, two["id"]) == []


async def test_a_malformed_txn_id_is_refused(alice: QunzuClient) -> None:
    group = await make_group(alice)
    err = await refused(alice.send(group["id"], "hi", client_txn_id="has space"))
    assert (err.status, err.code) == (400, "invalid_client_txn_id")


async def test_a_message_at_the_limit_is_accepted(alice: QunzuClient) -> None:
    group = await make_group(alice)
    sent = await alice.send(group["id"], "字" * 4000)
    assert len(sent["body"]) == 4000


async def test_a_message_over_the_limit_is_too_long(alice: QunzuClient) -> None:
    group = await make_group(alice)
    err = await refused(alice.send(group["id"], "x" * 4001))
    assert (err.status, err.code) == (400, "message_too_long")
    assert err.problem["limit"] == 4000


async def test_an_empty_message_is_refused(alice: QunzuClient) -> None:
    group = await make_group(alice)
    err = await refused(alice.send(group["id"], ""))
    assert (err.status, err.code) == (422, "validation_error")
    err = await refused(alice.send(group["id"], " \n\t "))
    assert (err.status, err.code) == (400, "empty_message")
    assert await bodies(alice, group["id"]) == []


async def test_a_message_with_a_nul_character_is_refused(alice: QunzuClient) -> None:
    group = await make_group(alice)
    err = await refused(alice.send(group["id"], "a\x00b"))
    assert (err.status, err.code) == (422, "validation_error")
    assert [e["field"] for e in err.problem["errors"]] == ["body"]
    assert "NUL" in err.problem["errors"][0]["problem"]
    assert await bodies(alice, group["id"]) == []


async def test_an_outsider_cannot_post_to_a_discoverable_group(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice, discoverable=True)
    err = await refused(bob.send(group["id"], "let me speak"))
    assert (err.status, err.code) == (403, "not_a_member")


async def test_an_outsider_cannot_post_to_a_private_group(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    err = await refused(bob.send(group["id"], "let me speak"))
    assert (err.status, err.code) == (404, "group_not_found")


# ---- history ----------------------------------------------------------------------------


@pytest.fixture
async def chatty(alice: QunzuClient) -> dict[str, Any]:
    """A group whose timeline is seq 1 (created) and seq 2..11 (messages m0..m9)."""
    group = await make_group(alice)
    for i in range(10):
        await alice.send(group["id"], f"m{i}")
    return group


async def test_history_defaults_to_the_newest_page(
    alice: QunzuClient, chatty: dict[str, Any]
) -> None:
    page = await alice.history(chatty["id"], limit=3)
    assert [e["body"] for e in page["entries"]] == ["m7", "m8", "m9"]
    assert (page["first_visible_seq"], page["last_visible_seq"]) == (1, 11)


async def test_history_pages_forward_after_a_seq(
    alice: QunzuClient, chatty: dict[str, Any]
) -> None:
    page = await alice.history(chatty["id"], after=0, limit=4)
    assert [e["seq"] for e in page["entries"]] == [1, 2, 3, 4]
    assert page["entries"][0]["kind"] == "group_created"
    seen: list[str] = []
    cursor = 1
    while True:
        page = await alice.history(chatty["id"], after=cursor, limit=4)
        if not page["entries"]:
            break
        seen += [e["body"] for e in page["entries"]]
        cursor = page["entries"][-1]["seq"]
    assert seen == [f"m{i}" for i in range(10)]


async def test_history_pages_backward_before_a_seq(
    alice: QunzuClient, chatty: dict[str, Any]
) -> None:
    page = await alice.history(chatty["id"], before=6, limit=3)
    assert [e["seq"] for e in page["entries"]] == [3, 4, 5]
    page = await alice.history(chatty["id"], before=2, limit=3)
    assert [e["seq"] for e in page["entries"]] == [1]
    page = await alice.history(chatty["id"], before=12, limit=1)
    assert [e["body"] for e in page["entries"]] == ["m9"]


async def test_history_at_the_end_is_empty(alice: QunzuClient, chatty: dict[str, Any]) -> None:
    page = await alice.history(chatty["id"], after=11)
    assert page["entries"] == []


@pytest.mark.parametrize("cursor", [{"after": 12}, {"before": 13}, {"before": 0}])
async def test_a_cursor_beyond_the_timeline_is_invalid(
    alice: QunzuClient, chatty: dict[str, Any], cursor: dict[str, int]
) -> None:
    err = await refused(alice.history(chatty["id"], **cursor))
    assert (err.status, err.code) == (400, "invalid_cursor")
    assert err.problem["last_seq"] == 11


async def test_after_and_before_together_are_invalid(
    alice: QunzuClient, chatty: dict[str, Any]
) -> None:
    err = await refused(alice.history(chatty["id"], after=2, before=5))
    assert (err.status, err.code) == (400, "invalid_cursor")


async def test_a_page_larger_than_the_maximum_is_refused(
    alice: QunzuClient, chatty: dict[str, Any]
) -> None:
    err = await refused(alice.history(chatty["id"], limit=201))
    assert (err.status, err.code) == (400, "invalid_limit")
    err = await refused(alice.history(chatty["id"], limit=0))
    assert (err.status, err.code) == (422, "validation_error")


async def test_a_member_who_joined_later_does_not_see_earlier_messages(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    await alice.send(group["id"], "before bob")
    await add_member(alice, group, bob)
    await alice.send(group["id"], "after bob")
    page = await bob.history(group["id"])
    assert [e["body"] for e in page["entries"] if e["kind"] == "message"] == ["after bob"]
    assert page["entries"][0]["kind"] == "member_joined"
    assert page["first_visible_seq"] == page["entries"][0]["seq"]
    assert (await bob.history(group["id"], after=0))["entries"][0]["seq"] == page[
        "first_visible_seq"
    ]
    older = await bob.history(group["id"], before=page["first_visible_seq"])
    assert older["entries"] == []


# ---- direct conversations -------------------------------------------------------------------


async def test_opening_a_direct_conversation_twice_returns_the_same_one(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    first = await alice.open_direct(me(bob)["handle"])
    again = await alice.open_direct(me(bob)["handle"])
    from_bob = await bob.open_direct(me(alice)["handle"].upper())
    assert first["id"] == again["id"] == from_bob["id"]
    assert first["kind"] == "direct"
    assert (first["owner_id"], first["category"], first["discoverable"]) == (None, None, False)


async def test_a_direct_conversation_has_exactly_two_members(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    direct = await alice.open_direct(me(bob)["handle"])
    members = await bob.members(direct["id"])
    assert sorted(m["account_id"] for m in members) == sorted([me(alice)["id"], me(bob)["id"]])
    assert {m["role"] for m in members} == {"member"}
    assert (await bob.group(direct["id"]))["member_count"] == 2


async def test_both_sides_of_a_direct_conversation_post_and_read(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    direct = await alice.open_direct(me(bob)["handle"])
    await alice.send(direct["id"], "hi bob")
    await bob.send(direct["id"], "hi alice")
    assert await bodies(alice, direct["id"]) == ["hi bob", "hi alice"]


async def test_nobody_can_be_invited_into_a_direct_conversation(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    direct = await alice.open_direct(me(bob)["handle"])
    err = await refused(alice.invite(direct["id"], me(carol)["handle"]))
    assert (err.status, err.code) == (403, "not_permitted")


async def test_a_direct_conversation_has_no_management(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    direct = await alice.open_direct(me(bob)["handle"])
    for call in (
        alice.set_rules(direct["id"], "my rules"),
        alice.remove_member(direct["id"], me(bob)["id"]),
        alice.set_role(direct["id"], me(bob)["id"], "admin"),
        alice.dissolve_group(direct["id"]),
        alice.update_group(direct["id"], name="ours"),
        alice.leave(direct["id"]),
    ):
        err = await refused(call)
        assert (err.status, err.code) == (403, "not_permitted")


async def test_a_third_party_cannot_read_a_direct_conversation(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    direct = await alice.open_direct(me(bob)["handle"])
    await alice.send(direct["id"], "just between us")
    for call in (
        carol.history(direct["id"]),
        carol.group(direct["id"]),
        carol.members(direct["id"]),
        carol.send(direct["id"], "can I join?"),
        carol.join(direct["id"]),
    ):
        err = await refused(call)
        assert (err.status, err.code) == (404, "group_not_found")


async def test_a_direct_conversation_needs_another_existing_account(alice: QunzuClient) -> None:
    err = await refused(alice.open_direct(me(alice)["handle"]))
    assert (err.status, err.code) == (400, "cannot_message_self")
    err = await refused(alice.open_direct("nobody_at_all"))
    assert (err.status, err.code) == (404, "account_not_found")


async def test_request_metrics_count_each_send_by_route_template_and_status(
    server: ServerThread, alice: QunzuClient
) -> None:
    group = await make_group(alice)

    async def counted(status: str) -> float:
        text = (await alice.request("GET", "/metrics")).text
        pattern = (
            r'^qunzu_http_requests_total\{method="POST",'
            r'route="/v1/groups/\{group_id\}/messages",status="' + status + r'"\} (\S+)$'
        )
        found = re.search(pattern, text, re.M)
        return float(found.group(1)) if found else 0.0

    created, missing = await counted("201"), await counted("404")
    for i in range(3):
        await alice.send(group["id"], f"counted {i}")
    await refused(alice.send(10**12, "nowhere"))
    assert await counted("201") == created + 3
    assert await counted("404") == missing + 1
