from __future__ import annotations

from qunzu.client import QunzuClient
from tests.factories import group_with


async def test_owner_and_member_exchange_messages_in_order(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    first = await alice.send(group["id"], "hello")
    second = await bob.send(group["id"], "hi alice")
    assert second["seq"] == first["seq"] + 1
    page = await bob.history(group["id"])
    bodies = [e["body"] for e in page["entries"] if e["kind"] == "message"]
    assert bodies == ["hello", "hi alice"]
