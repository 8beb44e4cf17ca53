"""Tiers and activity (Art. 7) and the Art. 8 information page, against a real server.

The server runs the generous test rulebook edited to tiny thresholds: a family group
of up to 3 is private, up to 4 members is small, groups of more than 4 show the
information page, and 3 messages in a day make a group busy.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from qunzu.client import QunzuClient
from qunzu.domain.clock import FrozenClock
from qunzu.policy import parse_rulebook
from tests.factories import People, add_member, clock_of, crowd, me, unique_handle
from tests.rulebooks import generous_rulebook_text
from tests.server import ServerThread, module_server

MakeUser = Callable[..., Awaitable[QunzuClient]]
TIMEOUT = 5.0

EDITS = {
    r"family_private_max = \d+": "family_private_max = 3",
    r"small_max = \d+": "small_max = 4",
    r"info_page_min_members = \d+": "info_page_min_members = 4",
    r"busy_messages_per_day = \d+": "busy_messages_per_day = 3",
}


def tiny_rulebooks() -> dict[str, str]:
    text = generous_rulebook_text()
    for pattern, replacement in EDITS.items():
        text, n = re.subn(pattern, replacement, text, count=1)
        assert n == 1, pattern
    book = parse_rulebook(text, "tiny-tiers.toml")
    assert (book.tiers.family_private_max, book.tiers.small_max) == (3, 4)
    assert book.activity.dormant_after_days == 30
    return {"tiny-tiers.toml": text}


srv = module_server(
    "gov-tiers", clock=FrozenClock, rulebooks=tiny_rulebooks, token_ttl_hours=24 * 3650
)


# ---- helpers ------------------------------------------------------------------------------


people = crowd("srv")


@pytest.fixture
def users(people: People) -> MakeUser:
    return people.user


async def group_of(
    users: MakeUser, owner: QunzuClient, size: int, category: str = "friends", **kw: Any
) -> dict[str, Any]:
    """A group of ``size`` members (owner included), each added by invitation."""
    group = await owner.create_group(unique_handle("g"), category, **kw)
    for _ in range(size - 1):
        await add_member(owner, group, await users("m"))
    fresh: dict[str, Any] = await owner.group(group["id"])
    assert fresh["member_count"] == size
    return fresh


async def tier_changes(client: QunzuClient, group_id: int) -> list[dict[str, Any]]:
    history = await client.history(group_id, limit=200)
    return [e["data"] for e in history["entries"] if e["kind"] == "tier_changed"]


# ---- tiers --------------------------------------------------------------------------------


async def test_a_direct_conversation_is_private(users: MakeUser) -> None:
    alice, bob = await users("alice"), await users("bob")
    direct = await alice.open_direct(me(bob)["handle"])
    assert (await alice.group(direct["id"]))["tier"] == "private"
    assert (await bob.group(direct["id"]))["tier"] == "private"


async def test_a_family_group_up_to_the_threshold_is_private(users: MakeUser) -> None:
    owner = await users("owner")
    group = await owner.create_group("我们家", "family")
    assert group["tier"] == "private"
    for _ in range(2):
        await add_member(owner, group, await users("m"))
    profile = await owner.group(group["id"])
    assert (profile["member_count"], profile["tier"]) == (3, "private")
    assert await tier_changes(owner, group["id"]) == []


async def test_a_family_group_past_the_threshold_becomes_small_and_members_are_told(
    users: MakeUser,
) -> None:
    owner = await users("owner")
    group = await group_of(users, owner, 3, "family")
    member = await users("member")
    await add_member(owner, group, member)
    profile = await owner.group(group["id"])
    assert (profile["member_count"], profile["tier"]) == (4, "small")
    assert await tier_changes(owner, group["id"]) == [{"from": "private", "to": "small"}]
    assert await tier_changes(member, group["id"]) == [{"from": "private", "to": "small"}]


async def test_a_tier_change_is_delivered_live_to_members(users: MakeUser) -> None:
    owner = await users("owner")
    group = await group_of(users, owner, 3, "family")
    async with owner.events() as stream:
        await add_member(owner, group, await users("fourth"))
        joined = await stream.next_event(timeout=TIMEOUT)
        changed = await stream.next_event(timeout=TIMEOUT)
    assert joined["kind"] == "member_joined"
    assert changed["kind"] == "tier_changed" and changed["group_id"] == group["id"]
    assert changed["data"] == {"from": "private", "to": "small"}
    assert changed["seq"] == joined["seq"] + 1


async def test_small_up_to_small_max_then_large_and_back(users: MakeUser) -> None:
    owner = await users("owner")
    group = await group_of(users, owner, 4, "friends")
    assert group["tier"] == "small"
    fifth = await users("fifth")
    await add_member(owner, group, fifth)
    assert (await owner.group(group["id"]))["tier"] == "large"
    await fifth.leave(group["id"])
    assert (await owner.group(group["id"]))["tier"] == "small"
    assert await tier_changes(owner, group["id"]) == [
        {"from": "small", "to": "large"},
        {"from": "large", "to": "small"},
    ]


async def test_an_open_discoverable_group_is_public_whatever_its_size(users: MakeUser) -> None:
    owner = await users("owner")
    group = await owner.create_group(
        unique_handle("g"), "family", join_policy="open", discoverable=True
    )
    assert group["tier"] == "public"  # even a family group of one
    for _ in range(5):
        await (await users("m")).join(group["id"])
    assert (await owner.group(group["id"]))["tier"] == "public"
    assert await tier_changes(owner, group["id"]) == []


@pytest.mark.parametrize(
    ("join_policy", "discoverable"),
    [("open", False), ("invite-only", True), ("approval", True)],
)
async def test_open_or_discoverable_alone_is_not_public(
    users: MakeUser, join_policy: str, discoverable: bool
) -> None:
    owner = await users("owner")
    group = await owner.create_group(
        unique_handle("g"), "friends", join_policy=join_policy, discoverable=discoverable
    )
    assert group["tier"] == "small"


async def test_a_settings_change_moves_the_tier_and_is_recorded(users: MakeUser) -> None:
    owner = await users("owner")
    group = await owner.create_group(
        unique_handle("g"), "friends", join_policy="open", discoverable=True
    )
    hidden = await owner.update_group(group["id"], discoverable=False)
    assert hidden["tier"] == "small"
    shown = await owner.update_group(group["id"], discoverable=True)
    assert shown["tier"] == "public"
    assert await tier_changes(owner, group["id"]) == [
        {"from": "public", "to": "small"},
        {"from": "small", "to": "public"},
    ]


# ---- the Art. 8 information page ----------------------------------------------------------


async def test_a_group_over_the_threshold_shows_the_information_page(users: MakeUser) -> None:
    owner = await users("owner", display_name="群主老王")
    group = await group_of(users, owner, 5, "community")
    member = await users("reader")
    await add_member(owner, group, member)
    profile = await member.group(group["id"])
    assert profile["info_page"] == {
        "name": group["name"],
        "member_count": 6,
        "category": "community",
        "owner_display_name": "群主老王",
        "number": group["number"],
    }


async def test_a_group_at_the_threshold_has_no_information_page(users: MakeUser) -> None:
    owner = await users("owner")
    group = await group_of(users, owner, 4, "community")
    assert group["info_page"] is None
    fifth = await users("fifth")
    await add_member(owner, group, fifth)
    assert (await owner.group(group["id"]))["info_page"]["member_count"] == 5
    await fifth.leave(group["id"])
    assert (await owner.group(group["id"]))["info_page"] is None


# ---- activity -----------------------------------------------------------------------------


async def test_activity_is_normal_after_messages_and_dormant_after_the_quiet_period(
    srv: ServerThread, users: MakeUser
) -> None:
    owner = await users("owner")
    group = await owner.create_group(unique_handle("g"), "interest")
    await owner.send(group["id"], "hello")
    assert (await owner.group(group["id"]))["activity"] == "normal"
    clock_of(srv).advance(timedelta(days=30))
    assert (await owner.group(group["id"]))["activity"] == "normal"  # exactly 30 days: not yet
    clock_of(srv).advance(timedelta(seconds=1))
    assert (await owner.group(group["id"]))["activity"] == "dormant"
    await owner.send(group["id"], "we are back")
    assert (await owner.group(group["id"]))["activity"] == "normal"


async def test_activity_is_busy_at_the_daily_message_threshold(
    srv: ServerThread, users: MakeUser
) -> None:
    owner = await users("owner")
    group = await owner.create_group(unique_handle("g"), "interest")
    for i in range(2):
        await owner.send(group["id"], f"message {i}")
    assert (await owner.group(group["id"]))["activity"] == "normal"
    await owner.send(group["id"], "the third today")
    assert (await owner.group(group["id"]))["activity"] == "busy"
    # A day later those messages no longer count towards the day.
    clock_of(srv).advance(timedelta(days=1, seconds=1))
    assert (await owner.group(group["id"]))["activity"] == "normal"
