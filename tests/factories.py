"""Test helpers and personas shared by the suites that drive a real server (SDK, CLI).

Each test builds the world it needs, nothing shared and pre-filled: ``make_user`` and
friends make one thing; ``People`` makes users and platform staff on one server and closes
their clients afterwards; ``persona`` and ``crowd`` turn those into fixtures.
"""

from __future__ import annotations

import itertools
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from typing import Any

import pytest

from qunzu.client import EventStream, QunzuClient
from qunzu.client.http import QunzuAPIError
from qunzu.crypto import otp
from qunzu.domain.clock import FrozenClock
from qunzu.domain.identity import make_resident_id
from qunzu.domain.models import PlatformRole
from qunzu.services.accounts import do_create_platform_user
from qunzu.services.actor import SYSTEM
from qunzu.services.context import ServiceContext
from qunzu.services.ports import AuditRecord
from tests.server import ServerThread

_counter = itertools.count(1)
PASSWORD = "correct horse battery"
REGIONS = ("110101", "310104", "440305", "510107", "330106")
STREAM_TIMEOUT = 5.0  # every receive waits at most this long: a missing frame fails the test
Frame = dict[str, Any]
FAST_ARGON = {"QUNZU_ARGON2_TIME_COST": "1", "QUNZU_ARGON2_MEMORY_KIB": "64"}


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


async def group_with(owner: QunzuClient, *members: QunzuClient, **kw: Any) -> dict[str, Any]:
    """A group ``owner`` makes (``make_group`` options) with ``members`` added in order."""
    group = await make_group(owner, **kw)
    for member in members:
        await add_member(owner, group, member)
    return group


def qunzu(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The ``qunzu`` command run as a user runs it: a separate process (cheap argon2)."""
    return subprocess.run(
        [sys.executable, "-m", "qunzu.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **FAST_ARGON, **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


# ---- reading what the server said ------------------------------------------------------


async def refused(call: Awaitable[Any]) -> QunzuAPIError:
    """The API error ``call`` fails with (the test fails if it succeeds)."""
    with pytest.raises(QunzuAPIError) as info:
        await call
    return info.value


def me(client: QunzuClient) -> dict[str, Any]:
    """The account a factory-made client is logged in as."""
    assert client.account is not None
    return client.account


def account_id(client: QunzuClient) -> int:
    return int(me(client)["id"])


async def collect(stream: EventStream, done: Callable[[list[Frame]], bool]) -> list[Frame]:
    """Every frame (events, notices, acks...) until ``done`` says the list is complete."""
    frames: list[Frame] = []
    while not done(frames):
        frames.append(await stream.recv(timeout=STREAM_TIMEOUT))
    return frames


# ---- reaching into the running server ----------------------------------------------------


def ctx_of(server: ServerThread) -> ServiceContext:
    ctx: ServiceContext = server.app.state.qunzu.ctx
    return ctx


def clock_of(server: ServerThread) -> FrozenClock:
    """The clock of a server started with a frozen one (tests move it, never sleep)."""
    assert isinstance(server.clock, FrozenClock)
    return server.clock


async def audit_entries(server: ServerThread) -> list[AuditRecord]:
    """The whole audit log, read straight from storage (reading it through the service
    would itself be audited)."""
    ctx = ctx_of(server)

    async def read() -> list[AuditRecord]:
        async with ctx.uow(write=False) as uow:
            return await uow.audit.scan(0, 100_000)

    return await server.acall(read)


async def platform_user(server: ServerThread, role: PlatformRole) -> QunzuClient:
    """Platform staff, made through ``services`` on the server's loop (as the CLI does)."""
    handle = unique_handle(role.value.replace("-", "_"))
    ctx = ctx_of(server)
    await server.acall(
        lambda: do_create_platform_user(
            ctx, SYSTEM, handle, PASSWORD, role, f"Platform {role.value}"
        )
    )
    client = QunzuClient(server.url)
    await client.login(handle, PASSWORD)
    await enrol_totp(client, ctx)
    client.account = await client.me()
    return client


# Recovery codes of the staff made here, by handle: a later log-in takes one as its second step.
STAFF_RECOVERY_CODES: dict[str, list[str]] = {}


async def enrol_totp(client: QunzuClient, ctx: ServiceContext) -> tuple[str, list[str]]:
    """Enrol an authenticator app for a logged-in client, as a person would: start, then
    confirm with the code the app shows now (on the server's clock). Staff need one
    before any platform route works. Returns the secret and the recovery codes."""
    started = await client.start_totp("tests")
    code = otp.code_at(started["secret"], ctx.clock.now())
    done = await client.confirm_totp(started["factor_id"], code)
    handle = (await client.me())["handle"]
    STAFF_RECOVERY_CODES[handle] = list(done["recovery_codes"] or [])
    return started["secret"], STAFF_RECOVERY_CODES[handle]


async def login_with_second_factor(client: QunzuClient, handle: str) -> None:
    """Log in; an account enrolled by ``enrol_totp`` spends one of its recovery codes (a
    TOTP code would repeat on the tests' frozen clock, and a repeated code is refused)."""
    data = await client.login(handle, PASSWORD)
    if data.get("second_factor_required"):
        await client.second_step(recovery_code=STAFF_RECOVERY_CODES[handle].pop())


# ---- personas ------------------------------------------------------------------------------


class People:
    """Makes users and platform staff on one server, and closes their clients afterwards."""

    def __init__(self, server: ServerThread) -> None:
        self.server = server
        self.clients: list[QunzuClient] = []

    async def user(
        self, prefix: str = "user", verified: bool = True, display_name: str | None = None
    ) -> QunzuClient:
        client = await make_user(
            self.server.url, prefix=prefix, verified=verified, display_name=display_name
        )
        self.clients.append(client)
        return client

    async def staff(self, role: PlatformRole) -> QunzuClient:
        client = await platform_user(self.server, role)
        self.clients.append(client)
        return client

    def anonymous(self) -> QunzuClient:
        client = QunzuClient(self.server.url)
        self.clients.append(client)
        return client

    async def relogin(self, client: QunzuClient) -> None:
        """A fresh token (after the clock moved past the old one's lifetime)."""
        await login_with_second_factor(client, me(client)["handle"])

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


def crowd(server: str = "server") -> Any:
    """A fixture: ``People`` on the server fixture named ``server``."""

    @pytest.fixture
    async def people(request: pytest.FixtureRequest) -> AsyncIterator[People]:
        made = People(request.getfixturevalue(server))
        yield made
        await made.close()

    return people


def persona(
    prefix: str | None = None,
    display_name: str | None = None,
    *,
    server: str = "server",
    verified: bool = True,
    role: PlatformRole | None = None,
) -> Any:
    """A fixture: one client on the server fixture named ``server``, closed after the test.

    A fresh user whose handle starts with ``prefix`` (verified unless told otherwise),
    platform staff with ``role``, or with neither an anonymous client.
    """

    @pytest.fixture
    async def client(request: pytest.FixtureRequest) -> AsyncIterator[QunzuClient]:
        people = People(request.getfixturevalue(server))
        if role is not None:
            yield await people.staff(role)
        elif prefix is None:
            yield people.anonymous()
        else:
            yield await people.user(prefix, verified, display_name)
        await people.close()

    return client
