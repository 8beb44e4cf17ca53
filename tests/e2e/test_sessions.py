"""Live streams end with their session (api/sessions.py) against a real server.

Logging out, revoking or expiring a token closes every stream that uses it with
4401, a disabled account's streams close with 4403, and the SDK raises
``SessionEnded`` instead of reconnecting. A send over an open socket is checked
against the account as it is now and against the sanctions in force, not against
what held at connect. Expiry and the account re-read are driven by the frozen
clock; a close "within a second" is measured on the wall clock.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from qunzu.api.sessions import ACTOR_TTL
from qunzu.client import EventStream, QunzuClient, SessionEnded
from qunzu.domain.clock import FrozenClock
from qunzu.services.context import ServiceContext, transaction
from tests.e2e.test_reports import People, measure, scene
from tests.e2e.test_sanctions_appeals import impose
from tests.factories import PASSWORD, make_group, make_user
from tests.server import ServerThread

TIMEOUT = 5.0
Frame = dict[str, Any]
MakeUser = Callable[[str], Awaitable[QunzuClient]]


@pytest.fixture
async def users(server: ServerThread) -> AsyncIterator[MakeUser]:
    made: list[QunzuClient] = []

    async def make(prefix: str) -> QunzuClient:
        made.append(await make_user(server.url, prefix=prefix))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
async def clocked_users(clocked_server: ServerThread) -> AsyncIterator[MakeUser]:
    made: list[QunzuClient] = []

    async def make(prefix: str) -> QunzuClient:
        made.append(await make_user(clocked_server.url, prefix=prefix))
        return made[-1]

    yield make
    for client in made:
        await client.aclose()


@pytest.fixture
def clock(clocked_server: ServerThread) -> FrozenClock:
    assert clocked_server.clock is not None
    return clocked_server.clock


def ctx_of(server: ServerThread) -> ServiceContext:
    ctx: ServiceContext = server.app.state.qunzu.ctx
    return ctx


async def ended(stream: EventStream) -> tuple[SessionEnded, list[Frame], float]:
    """Read until the session ends: the error, the frames before it, and how long it took."""
    frames: list[Frame] = []
    start = time.monotonic()
    with pytest.raises(SessionEnded) as info:
        while True:
            frames.append(await stream.recv(timeout=TIMEOUT))
    return info.value, frames, time.monotonic() - start


async def token_id(client: QunzuClient) -> int:
    (token,) = await client.tokens()
    return int(token["id"])


async def quietly(server: ServerThread, change: Callable[[Any], Awaitable[None]]) -> None:
    """Change storage without any event: as if the bus had lost the ``SessionEnded``."""
    ctx = ctx_of(server)

    async def run() -> None:
        async with transaction(ctx) as uow:
            await change(uow)

    await server.acall(run)


def me(client: QunzuClient) -> int:
    assert client.account is not None
    return int(client.account["id"])


# ---- logging out, revoking, expiring ------------------------------------------------------


async def test_logging_out_closes_the_tokens_stream_with_4401_within_a_second(
    users: MakeUser,
) -> None:
    alice = await users("alice")
    async with alice.events() as stream:  # auto_resume on: it must not reconnect anyway
        await alice.logout()
        err, _, elapsed = await ended(stream)
    assert (err.close_code, err.status, err.code) == (4401, 401, "token_revoked")
    assert elapsed < 1.0
    assert stream.reconnects == 0


async def test_revoking_a_token_closes_its_streams_and_no_other(
    server: ServerThread, users: MakeUser
) -> None:
    alice = await users("alice")
    gid = (await make_group(alice))["id"]
    phone = await alice.issue_token("phone")
    async with (
        alice.events() as laptop,
        EventStream(server.url, phone["token"]) as on_phone,
        EventStream(server.url, phone["token"]) as on_tablet,
    ):
        await alice.revoke_token(phone["token_id"])
        for stream in (on_phone, on_tablet):
            err, _, elapsed = await ended(stream)
            assert (err.close_code, err.code) == (4401, "token_revoked")
            assert elapsed < 1.0
        sent = await alice.send(gid, "the laptop still listens")
        event = await laptop.next_event(timeout=TIMEOUT)
    assert (event["seq"], event["body"]) == (sent["seq"], "the laptop still listens")


async def test_a_token_expiring_closes_its_stream_with_4401(
    clocked_server: ServerThread, clocked_users: MakeUser, clock: FrozenClock
) -> None:
    alice = await clocked_users("alice")
    async with alice.events() as stream:
        clock.advance(timedelta(hours=clocked_server.settings.token_ttl_hours, seconds=1))
        err, _, elapsed = await ended(stream)
    assert (err.close_code, err.code) == (4401, "token_expired")
    assert elapsed < 2.0  # the sweep looks at the (moved) clock at least once a second


async def test_a_fresh_token_connects_again_after_the_session_ended(
    server: ServerThread, users: MakeUser
) -> None:
    alice = await users("alice")
    assert alice.account is not None
    async with alice.events() as stream:
        await alice.revoke_token(await token_id(alice))
        await ended(stream)
    await alice.login(alice.account["handle"], PASSWORD)
    async with alice.events() as again:
        assert again.ready is not None and again.ready["account_id"] == me(alice)


# ---- what the bus lost is found all the same ----------------------------------------------


async def test_a_send_after_a_revocation_the_bus_lost_is_refused_and_ends_the_stream(
    clocked_server: ServerThread, clocked_users: MakeUser, clock: FrozenClock
) -> None:
    alice = await clocked_users("alice")
    gid = (await make_group(alice))["id"]
    tid = await token_id(alice)
    async with alice.events() as stream:
        await quietly(clocked_server, lambda uow: uow.tokens.revoke(tid, clock.now()))
        clock.advance(ACTOR_TTL + timedelta(milliseconds=1))
        ref = await stream.send_message(gid, "after my log-out", "late-1")
        err, frames, _ = await ended(stream)
    refusal = [f for f in frames if f.get("ref") == ref]
    assert [(f["type"], f["status"], f["code"]) for f in refusal] == [
        ("error", 401, "token_revoked")
    ]
    assert (err.close_code, err.code) == (4401, "token_revoked")
    assert alice.account is not None
    await alice.login(alice.account["handle"], PASSWORD)
    bodies = [e["body"] for e in (await alice.history(gid))["entries"]]
    assert "after my log-out" not in bodies


async def test_a_disabled_account_cannot_post_over_a_socket_opened_before(
    clocked_server: ServerThread, clocked_users: MakeUser, clock: FrozenClock
) -> None:
    alice = await clocked_users("alice")
    gid = (await make_group(alice))["id"]
    async with alice.events() as stream:
        await quietly(clocked_server, lambda uow: uow.accounts.update(me(alice), disabled=True))
        clock.advance(ACTOR_TTL + timedelta(milliseconds=1))
        ref = await stream.send_message(gid, "still here?", "disabled-1")
        err, frames, _ = await ended(stream)
    refusal = [f for f in frames if f.get("ref") == ref]
    assert [(f["type"], f["status"], f["code"]) for f in refusal] == [
        ("error", 403, "account_disabled")
    ]
    assert (err.close_code, err.status, err.code) == (4403, 403, "account_disabled")


async def test_the_session_recheck_closes_every_stream_of_a_disabled_account(
    server: ServerThread, users: MakeUser
) -> None:
    alice, bob = await users("alice"), await users("bob")
    other = await alice.issue_token("other")
    async with (
        alice.events() as first,
        EventStream(server.url, other["token"]) as second,
        bob.events() as bystander,
    ):
        await quietly(server, lambda uow: uow.accounts.update(me(alice), disabled=True))
        # What runs every RECHECK_SECONDS, and at once when the bus reconnects.
        await server.acall(lambda: server.app.state.hub.sessions.recheck())
        for stream in (first, second):
            err, _, _ = await ended(stream)
            assert (err.close_code, err.code) == (4403, "account_disabled")
        pong = await bystander.ping()
        assert (await bystander.recv(timeout=TIMEOUT))["ref"] == pong


# ---- sanctions are read by every send -----------------------------------------------------


async def test_a_blacklist_imposed_while_connected_refuses_the_next_send_over_the_socket(
    clocked_server: ServerThread,
) -> None:
    people = People(clocked_server)
    try:
        s = await scene(people)
        async with s.offender.events() as stream:
            ok = await stream.send_message(s.group["id"], "before the decision", "bl-1")
            await impose(people, s, measure("blacklist", days=30))
            refused = await stream.send_message(s.group["id"], "after the decision", "bl-2")
            answers: dict[int, Frame] = {}
            while refused not in answers:
                frame = await stream.recv(timeout=TIMEOUT)
                if frame.get("ref") in (ok, refused):
                    answers[frame["ref"]] = frame
        assert answers[ok]["type"] == "ack"
        assert (answers[refused]["type"], answers[refused]["code"]) == ("error", "blacklisted")
    finally:
        await people.close()
