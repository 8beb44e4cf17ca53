"""Small factories: each test builds the world it needs, nothing shared and pre-filled."""

from __future__ import annotations

import itertools
import random
from datetime import date
from typing import Any

from qunzu.client import QunzuClient
from qunzu.domain.identity import make_resident_id

_counter = itertools.count(1)
PASSWORD = "correct horse battery"
REGIONS = ("110101", "310104", "440305", "510107", "330106")


def valid_resident_id(seed: int | None = None) -> str:
    rnd = random.Random(seed)
    born = date(1960 + rnd.randrange(45), 1 + rnd.randrange(12), 1 + rnd.randrange(28))
    return make_resident_id(rnd.choice(REGIONS), born, rnd.randrange(1000))


def unique_handle(prefix: str = "user") -> str:
    return f"{prefix}{next(_counter)}_{random.randrange(10**6)}"


async def make_user(
    base_url: str, *, verified: bool = True, prefix: str = "user", display_name: str | None = None
) -> QunzuClient:
    """Register, log in and (by default) verify a fresh account; returns its client."""
    client = QunzuClient(base_url)
    handle = unique_handle(prefix)
    await client.register(handle, PASSWORD, display_name)
    await client.login(handle, PASSWORD)
    if verified:
        await client.submit_identity("张三", valid_resident_id(), "13800138000")
    client.account = await client.me()
    return client


async def make_group(owner: QunzuClient, **kw: Any) -> dict[str, Any]:
    kw.setdefault("name", f"group {next(_counter)}")
    kw.setdefault("category", "friends")
    return await owner.create_group(**kw)


async def add_member(owner: QunzuClient, group: dict[str, Any], member: QunzuClient) -> None:
    """Invite and accept, accepting the current rules."""
    assert member.account is not None
    invitation = await owner.invite(group["id"], member.account["handle"])
    fresh = await owner.group(group["id"])
    await member.accept_invitation(invitation["id"], fresh["rules_version"] or None)
