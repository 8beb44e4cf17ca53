"""Quotas by credit level (Art. 8) against a real server, each at its limit and one past it.

The server runs an edited copy of the default rulebook with tiny quotas so that a
limit is a handful of requests away. A refusal is 429 ``quota_exceeded`` and names
the quota, its limit and what raises it. No one is thrown out by a number.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from qunzu.client import QunzuClient
from qunzu.client.http import QunzuAPIError
from qunzu.domain.clock import FrozenClock
from qunzu.domain.models import PlatformRole
from qunzu.policy import parse_rulebook
from qunzu.services.accounts import do_create_platform_user
from qunzu.services.actor import SYSTEM
from qunzu.services.context import ServiceContext
from tests.factories import (
    PASSWORD,
    clock_of,
    enrol_totp,
    make_group,
    make_user,
    me,
    refused,
    unique_handle,
)
from tests.rulebooks import default_with_quotas
from tests.server import ServerThread, module_server

MakeUser = Callable[..., Awaitable[QunzuClient]]

# Tiny quotas: level 1 (a fresh verified account) and level 2; levels 0, 3, 4 as shipped.
LEVEL_1 = (
    "quotas = { groups_owned = 2, groups_joined = 3, new_groups_per_day = 2, "
    "messages_per_minute = 3, invitations_per_day = 3, reports_per_day = 10, "
    "members_per_group = { family = 3, friends = 3, work = 4, interest = 3, community = 3, "
    "public-affairs = 3, commercial = 3 } }"
)
LEVEL_2 = (
    "quotas = { groups_owned = 4, groups_joined = 5, new_groups_per_day = 4, "
    "messages_per_minute = 5, invitations_per_day = 5, reports_per_day = 20, "
    "members_per_group = { family = 5, friends = 5, work = 6, interest = 5, community = 5, "
    "public-affairs = 5, commercial = 5 } }"
)


def tiny_rulebook_text() -> str:
    text = default_with_quotas({1: LEVEL_1, 2: LEVEL_2})
    book = parse_rulebook(text, "tiny-quotas.toml")  # still a valid rulebook
    assert book.credit.level(1).quotas.groups_owned == 2
    return text


def tiny_rulebooks() -> dict[str, str]:
    return {"tiny-quotas.toml": tiny_rulebook_text()}


srv = module_server(
    "gov-quotas", clock=FrozenClock, rulebooks=tiny_rulebooks, token_ttl_hours=24 * 3650
)


# ---- helpers ------------------------------------------------------------------------------


def assert_quota(err: QunzuAPIError, quota: str, limit: int, level: int, raised_by: str) -> None:
    """429 quota_exceeded naming the quota, the limit, the level and what raises it."""
    assert (err.status, err.code) == (429, "quota_exceeded"), err
    problem = err.problem
    assert (problem["quota"], problem["limit"], problem["level"]) == (quota, limit, level)
    assert problem["raised_by"] == raised_by
    assert str(limit) in err.detail and raised_by in err.detail


@pytest.fixture
async def users(srv: ServerThread) -> AsyncIterator[MakeUser]:
    made: list[QunzuClient] = []

    async def make(prefix: str = "q", verified: bool = True) -> QunzuClient:
        client = await make_user(srv.url, prefix=prefix, verified=verified)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def senior(srv: ServerThread) -> AsyncIterator[QunzuClient]:
    """A senior reviewer, made through ``services`` on the server's loop."""
    handle = unique_handle("senior")
    ctx: ServiceContext = srv.app.state.qunzu.ctx
    await srv.acall(
        lambda: do_create_platform_user(
            ctx, SYSTEM, handle, PASSWORD, PlatformRole.senior_reviewer, "Senior"
        )
    )
    client = QunzuClient(srv.url)
    await client.login(handle, PASSWORD)
    await enrol_totp(client, ctx)  # staff need a second factor for platform work
    yield client
    await client.aclose()


async def lock(senior: QunzuClient, client: QunzuClient, level: int | None) -> None:
    await senior._json(
        "POST",
        "/v1/platform/credit-locks",
        json={"account_id": me(client)["id"], "level": level, "reason": "quota test lock"},
    )


async def open_group(owner: QunzuClient, category: str = "friends") -> dict[str, Any]:
    group: dict[str, Any] = await owner.create_group(
        unique_handle("g"), category, join_policy="open"
    )
    return group


async def member_count(client: QunzuClient, group_id: int) -> int:
    count: int = (await client.group(group_id))["member_count"]
    return count


# ---- groups owned and created -------------------------------------------------------------


async def test_groups_owned_at_its_limit_and_one_past(users: MakeUser) -> None:
    owner = await users("owner")
    for _ in range(2):
        await owner.create_group(unique_handle("g"), "friends")
    err = await refused(owner.create_group(unique_handle("g"), "friends"))
    assert_quota(err, "groups_owned", 2, 1, "Credit level 2 (score 500+) allows 4.")
    assert len(await owner.my_groups()) == 2


async def test_new_groups_per_day_at_its_limit_and_one_past_then_a_day_later(
    srv: ServerThread, users: MakeUser
) -> None:
    owner = await users("daily")
    first = await owner.create_group(unique_handle("g"), "work")
    await owner.create_group(unique_handle("g"), "work")
    await owner.dissolve_group(first["id"])  # one owned: below groups_owned, not below daily
    err = await refused(owner.create_group(unique_handle("g"), "work"))
    assert_quota(err, "new_groups_per_day", 2, 1, "Credit level 2 (score 500+) allows 4.")
    clock_of(srv).advance(timedelta(days=1, seconds=1))
    await owner.create_group(unique_handle("g"), "work")


# ---- groups joined ------------------------------------------------------------------------


async def test_groups_joined_at_its_limit_and_one_past(users: MakeUser) -> None:
    owner_a, owner_b, joiner = await users("oa"), await users("ob"), await users("joiner")
    groups = [await open_group(owner_a), await open_group(owner_a)]
    groups += [await open_group(owner_b), await open_group(owner_b)]
    for group in groups[:3]:
        await joiner.join(group["id"])
    err = await refused(joiner.join(groups[3]["id"]))
    assert_quota(err, "groups_joined", 3, 1, "Credit level 2 (score 500+) allows 5.")
    assert await member_count(owner_b, groups[3]["id"]) == 1


async def test_accepting_an_invitation_past_groups_joined_is_refused(users: MakeUser) -> None:
    owner_a, owner_b, joiner = await users("oa"), await users("ob"), await users("invitee")
    groups = [await open_group(owner_a), await open_group(owner_a), await open_group(owner_b)]
    for group in groups:
        await joiner.join(group["id"])
    closed = await owner_b.create_group(unique_handle("g"), "friends")
    invitation = await owner_b.invite(closed["id"], me(joiner)["handle"])
    err = await refused(joiner.accept_invitation(invitation["id"]))
    assert_quota(err, "groups_joined", 3, 1, "Credit level 2 (score 500+) allows 5.")
    # Leaving one group makes room again; the invitation is still there to accept.
    await joiner.leave(groups[0]["id"])
    await joiner.accept_invitation(invitation["id"])
    assert await member_count(owner_b, closed["id"]) == 2


# ---- invitations --------------------------------------------------------------------------


async def test_invitations_per_day_at_its_limit_and_one_past_then_a_day_later(
    srv: ServerThread, users: MakeUser
) -> None:
    owner = await users("inviter")
    group = await owner.create_group(unique_handle("g"), "work")
    invitees = [await users("invitee", verified=False) for _ in range(5)]
    for invitee in invitees[:3]:
        await owner.invite(group["id"], me(invitee)["handle"])
    err = await refused(owner.invite(group["id"], me(invitees[3])["handle"]))
    assert_quota(err, "invitations_per_day", 3, 1, "Credit level 2 (score 500+) allows 5.")
    clock_of(srv).advance(timedelta(days=1, seconds=1))
    await owner.invite(group["id"], me(invitees[3])["handle"])


# ---- messages per minute ------------------------------------------------------------------


async def test_messages_per_minute_at_its_limit_and_one_past_then_after_a_minute(
    srv: ServerThread, users: MakeUser
) -> None:
    sender = await users("sender")
    group = await make_group(sender)
    for i in range(3):
        await sender.send(group["id"], f"message {i}")
    err = await refused(sender.send(group["id"], "one too many"))
    assert_quota(err, "messages_per_minute", 3, 1, "Credit level 2 (score 500+) allows 5.")
    clock_of(srv).advance(timedelta(seconds=30))
    err = await refused(sender.send(group["id"], "still within the minute"))
    assert err.problem["quota"] == "messages_per_minute"
    clock_of(srv).advance(timedelta(seconds=31))
    await sender.send(group["id"], "a minute later")
    history = await sender.history(group["id"])
    bodies = [e["body"] for e in history["entries"] if e["kind"] == "message"]
    assert bodies == ["message 0", "message 1", "message 2", "a minute later"]


async def test_a_verified_account_at_level_zero_cannot_post(
    users: MakeUser, senior: QunzuClient
) -> None:
    owner, member = await users("owner"), await users("member")
    group = await open_group(owner)
    await member.join(group["id"])
    await member.send(group["id"], "before the lock")
    await lock(senior, member, 0)
    err = await refused(member.send(group["id"], "after the lock"))
    assert (err.status, err.code) == (403, "credit_level_read_only")
    assert err.problem["level"] == 0
    assert (await member.me())["identity_verified"] is True


# ---- members per group --------------------------------------------------------------------


async def test_members_per_group_at_the_owners_cap_and_one_past(users: MakeUser) -> None:
    owner = await users("owner")
    group = await open_group(owner, "friends")  # level 1 friends cap: 3
    for _ in range(2):
        await (await users("m")).join(group["id"])
    late = await users("late")
    err = await refused(late.join(group["id"]))
    assert_quota(err, "members_per_group", 3, 1, "Credit level 2 (score 500+) allows 5.")
    assert "owner's credit level" in err.detail
    assert err.problem["category"] == "friends"
    assert await member_count(owner, group["id"]) == 3


async def test_members_per_group_depends_on_the_category(users: MakeUser) -> None:
    owner = await users("owner")
    group = await open_group(owner, "work")  # level 1 work cap: 4
    for _ in range(3):
        await (await users("m")).join(group["id"])
    err = await refused((await users("late")).join(group["id"]))
    assert_quota(err, "members_per_group", 4, 1, "Credit level 2 (score 500+) allows 6.")
    assert err.problem["category"] == "work"


async def test_members_per_group_rises_with_the_owners_level(
    users: MakeUser, senior: QunzuClient
) -> None:
    owner = await users("owner")
    group = await open_group(owner, "friends")
    for _ in range(2):
        await (await users("m")).join(group["id"])
    late = await users("late")
    assert (await refused(late.join(group["id"]))).problem["limit"] == 3
    await lock(senior, owner, 2)  # level 2 friends cap: 5
    await late.join(group["id"])
    await (await users("m")).join(group["id"])
    err = await refused((await users("late")).join(group["id"]))
    assert_quota(err, "members_per_group", 5, 2, "Credit level 3 (score 700+) allows 500.")


async def test_an_invitation_to_a_full_group_is_refused(users: MakeUser) -> None:
    owner = await users("owner")
    group = await open_group(owner, "family")  # level 1 family cap: 3
    for _ in range(2):
        await (await users("m")).join(group["id"])
    err = await refused(owner.invite(group["id"], me(await users("invitee"))["handle"]))
    assert_quota(err, "members_per_group", 3, 1, "Credit level 2 (score 500+) allows 5.")


async def test_when_the_owners_level_drops_no_one_is_removed_but_no_one_is_admitted(
    users: MakeUser, senior: QunzuClient
) -> None:
    owner = await users("owner")
    await lock(senior, owner, 2)
    group = await open_group(owner, "friends")
    gid = group["id"]
    members = [await users("m") for _ in range(4)]
    for member in members:
        await member.join(gid)
    assert await member_count(owner, gid) == 5
    await lock(senior, owner, 1)  # the cap falls from 5 to 3
    assert await member_count(owner, gid) == 5
    assert len(await owner.members(gid)) == 5
    assert (await members[0].send(gid, "we are all still here"))["seq"] > 0
    newcomer = await users("newcomer")
    assert_quota(
        await refused(newcomer.join(gid)),
        "members_per_group",
        3,
        1,
        "Credit level 2 (score 500+) allows 5.",
    )
    err = await refused(owner.invite(gid, me(newcomer)["handle"]))
    assert (err.code, err.problem["quota"]) == ("quota_exceeded", "members_per_group")
    # Back at the cap is not under it: still closed.
    await members[0].leave(gid)
    await members[1].leave(gid)
    assert (await refused(newcomer.join(gid))).problem["quota"] == "members_per_group"
    # Under the cap: admitting again.
    await members[2].leave(gid)
    await newcomer.join(gid)
    assert await member_count(owner, gid) == 3
