"""Small builders for the service unit tests: each test makes the world it needs."""

from __future__ import annotations

import itertools
import json
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest

from qunzu.crypto import otp
from qunzu.domain.errors import DomainError
from qunzu.domain.events import account_topic, group_topic
from qunzu.domain.identity import make_resident_id
from qunzu.domain.models import Group, GroupCategory, JoinPolicy, Membership, PlatformRole
from qunzu.services.accounts import (
    authenticate,
    do_create_platform_user,
    do_login,
    do_register,
    get_account,
)
from qunzu.services.actor import SYSTEM, Actor
from qunzu.services.context import ServiceContext
from qunzu.services.groups import do_create_group
from qunzu.services.identity import do_submit_identity
from qunzu.services.membership import do_accept_invitation, do_invite
from qunzu.services.second_factor import do_confirm_totp, do_start_totp
from qunzu.services.signin import IssuedToken

PASSWORD = "correct horse battery"
_ids = itertools.count(1)


def unique_resident_id() -> str:
    """A valid resident ID number no other call returns."""
    n = next(_ids)
    born = date(1950 + n // 1000 % 50, 1 + n // 50 % 12, 1 + n % 28)
    return make_resident_id("310104", born, n % 1000)


async def register(
    ctx: ServiceContext,
    handle: str,
    *,
    verified: bool = True,
    role: PlatformRole | None = None,
    resident_id: str | None = None,
) -> Actor:
    """Register, log in and (by default) verify an account; the actor holds a fresh token."""
    if role is None:
        await do_register(ctx, handle, PASSWORD)
    else:
        await do_create_platform_user(ctx, SYSTEM, handle, PASSWORD, role)
    issued = await do_login(ctx, handle, PASSWORD)
    assert isinstance(issued, IssuedToken)
    actor = await authenticate(ctx, issued.token)
    if role is not None:
        # Staff need a second factor before any platform work (services/actor.py).
        await enrol_totp(ctx, actor)
        actor = await authenticate(ctx, issued.token)
    if verified:
        await do_submit_identity(
            ctx, actor, "张三", resident_id or unique_resident_id(), "13800138000"
        )
        actor = await authenticate(ctx, issued.token)
    return actor


async def enrol_totp(ctx: ServiceContext, actor: Actor) -> list[str]:
    """Enrol an authenticator app as a person would (start, confirm with the current code);
    the recovery codes come back."""
    started = await do_start_totp(ctx, actor)
    code = otp.code_at(started.secret, ctx.clock.now())
    done = await do_confirm_totp(ctx, actor, started.factor_id, code)
    return done.recovery_codes or []


async def users(ctx: ServiceContext, *handles: str) -> list[Actor]:
    """Verified accounts, one per handle."""
    return [await register(ctx, handle) for handle in handles]


async def refresh(ctx: ServiceContext, actor: Actor) -> Actor:
    """The same actor with the account as stored now."""
    return Actor(await get_account(ctx, actor.id), actor.token_id)


async def make_group(
    ctx: ServiceContext,
    owner: Actor,
    *,
    name: str = "家人群",
    join_policy: JoinPolicy = JoinPolicy.invite_only,
    discoverable: bool = False,
    rules: str | None = None,
) -> Group:
    return await do_create_group(
        ctx,
        owner,
        name,
        GroupCategory.family,
        join_policy=join_policy,
        discoverable=discoverable,
        rules_text=rules,
    )


async def add_member(ctx: ServiceContext, owner: Actor, group_id: int, member: Actor) -> Membership:
    """Invite and accept, accepting the current rules."""
    invitation = await do_invite(ctx, owner, group_id, member.account.handle)
    async with ctx.uow(write=False) as uow:
        group = await uow.groups.get(group_id)
    assert group is not None
    return await do_accept_invitation(ctx, member, invitation.id, group.rules_version or None)


async def group_of(
    ctx: ServiceContext, owner: str, *members: str, **group: Any
) -> tuple[list[Actor], Group]:
    """Verified users: ``owner`` makes a group (``make_group`` options), the rest join it."""
    actors = await users(ctx, owner, *members)
    made = await make_group(ctx, actors[0], **group)
    for member in actors[1:]:
        await add_member(ctx, actors[0], made.id, member)
    return actors, made


async def refusal(call: Awaitable[object], kind: type[DomainError]) -> str:
    """The code of the ``kind`` of refusal ``call`` ends in (the test fails on any other end)."""
    with pytest.raises(kind) as caught:
        await call
    return caught.value.code


async def committed_group(ctx: ServiceContext, group_id: int) -> Group:
    async with ctx.uow(write=False) as uow:
        group = await uow.groups.get(group_id)
    assert group is not None
    return group


async def committed_membership(
    ctx: ServiceContext, group_id: int, account_id: int
) -> Membership | None:
    async with ctx.uow(write=False) as uow:
        return await uow.memberships.get(group_id, account_id)


@dataclass
class Recorder:
    """Everything the bus delivered on the topics it listens to, decoded."""

    frames: list[dict[str, Any]] = field(default_factory=list)

    def __call__(self, topic: str, payload: bytes) -> None:
        self.frames.append({"topic": topic, **json.loads(payload)})

    def kinds(self) -> list[str]:
        return [f["kind"] for f in self.frames]


async def listen_group(ctx: ServiceContext, group_id: int) -> Recorder:
    recorder = Recorder()
    await ctx.bus.subscribe(group_topic(group_id), recorder)
    return recorder


async def listen_account(ctx: ServiceContext, account_id: int) -> Recorder:
    recorder = Recorder()
    await ctx.bus.subscribe(account_topic(account_id), recorder)
    return recorder
