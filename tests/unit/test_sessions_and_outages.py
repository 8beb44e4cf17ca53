"""Session ends go out on the bus after commit; a bus outage never fails a committed change;
database errors that mean "unreachable" are told apart from bugs."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from qunzu.api.sessions import SessionWatch
from qunzu.bus.memory import MemoryBus
from qunzu.domain.errors import Conflict
from qunzu.domain.models import Account
from qunzu.services.accounts import (
    authenticate,
    do_issue_token,
    do_logout,
    do_revoke_token,
    ended_sessions,
)
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.messaging import do_send_message, read_history
from qunzu.storage.outage import is_unavailable
from tests.fakes import CountingObserver, fake_uow, frozen_clock, make_ctx
from tests.unit.world import listen_account, make_group, register, users

# ---- session ends are published after commit ----------------------------------------------


async def test_logout_tells_every_node_that_its_token_ended() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    heard = await listen_account(ctx, alice.id)
    await do_logout(ctx, alice)
    assert heard.frames == [
        {
            "topic": f"account.{alice.id}",
            "type": "session_ended",
            "account_id": alice.id,
            "token_id": alice.token_id,
            "reason": "token_revoked",
        }
    ]


async def test_revoking_another_token_names_that_token() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    phone = await do_issue_token(ctx, alice, "phone")
    heard = await listen_account(ctx, alice.id)
    await do_revoke_token(ctx, alice, phone.token_id)
    assert [(f["type"], f["token_id"]) for f in heard.frames] == [("session_ended", phone.token_id)]


async def test_a_refused_revocation_publishes_nothing() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    phone = await do_issue_token(ctx, alice, "phone")
    await do_revoke_token(ctx, alice, phone.token_id)
    heard = await listen_account(ctx, alice.id)
    with pytest.raises(Conflict):
        await do_revoke_token(ctx, alice, phone.token_id)
    assert heard.frames == []


async def test_authenticate_tells_when_the_token_expires() -> None:
    ctx = make_ctx()
    issued = await do_issue_token(ctx, await register(ctx, "alice"), "phone")
    assert (await authenticate(ctx, issued.token)).token_expires_at == issued.expires_at


async def test_ended_sessions_names_each_token_that_no_longer_authenticates() -> None:
    ctx = make_ctx()
    alice, bob, carol = await users(ctx, "alice", "bob", "carol")
    short = await do_issue_token(ctx, alice, "short")
    await do_revoke_token(ctx, alice, short.token_id)
    async with ctx.uow() as uow:
        await uow.accounts.update(carol.id, disabled=True)
        await uow.commit()
    expiring = await do_issue_token(ctx, bob, "soon")
    state = fake_uow(ctx).state
    tok = state.tokens[expiring.token_id]
    state.tokens[expiring.token_id] = replace(tok, expires_at=ctx.clock.now())
    ended = await ended_sessions(
        ctx, [alice.token_id, short.token_id, bob.token_id, expiring.token_id, carol.token_id, 999]
    )
    assert ended == {
        short.token_id: "token_revoked",
        expiring.token_id: "token_expired",
        carol.token_id: "account_disabled",
        999: "token_invalid",
    }
    frozen_clock(ctx).advance(timedelta(days=365))
    assert set(await ended_sessions(ctx, [alice.token_id])) == {alice.token_id}


# ---- a bus outage does not fail a committed change ----------------------------------------


class DownBus(MemoryBus):
    """A bus whose server is away: every publish fails."""

    async def publish(self, topic: str, payload: bytes) -> None:
        raise ConnectionError("bus server unreachable")


async def test_a_send_whose_publish_fails_is_acknowledged_stored_and_counted() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    group = await make_group(ctx, alice)
    ctx.bus = DownBus()
    result = await do_send_message(ctx, alice, group.id, "while the bus is down", "down-1")
    assert result.created
    page = await read_history(ctx, alice, group.id)
    assert page.entries[-1].seq == result.entry.seq
    assert page.entries[-1].body == "while the bus is down"
    assert isinstance(ctx.observer, CountingObserver)
    assert ctx.observer.publish_failures == 1


# ---- unreachable database versus a bug ----------------------------------------------------


def _dbapi(orig: BaseException, invalidated: bool = False) -> DBAPIError:
    return DBAPIError("SELECT 1", {}, orig, connection_invalidated=invalidated)


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        PoolTimeout("QueuePool limit reached"),
        _dbapi(Exception("connection was closed"), invalidated=True),
        _dbapi(_PgError("57P01")),  # admin shutdown
        _dbapi(_PgError("57P03")),  # the database system is starting up
        _dbapi(_PgError("08006")),  # connection failure
        OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked")),
    ],
    ids=lambda e: type(e).__name__,
)
def test_connection_level_errors_mean_the_database_is_unavailable(error: Exception) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        IntegrityError("INSERT", {}, Exception("unique violation")),
        OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: accounts")),
        _dbapi(_PgError("42P01")),  # undefined table: a bug or a missing migration
        ValueError("bad"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_other_errors_are_not_taken_for_an_outage(error: Exception) -> None:
    assert not is_unavailable(error)


def test_an_error_raised_from_a_refused_connection_is_an_outage() -> None:
    try:
        try:
            raise ConnectionRefusedError(111, "refused")
        except OSError as exc:
            raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_unavailable(wrapped)


# ---- the hub's session watch --------------------------------------------------------------


class StubStream:
    """What SessionWatch needs of a live stream."""

    def __init__(self, actor: Actor, ctx: ServiceContext) -> None:
        self.actor, self.ctx = actor, ctx
        self.ended: tuple[int, str] | None = None

    def end(self, code: int, reason: str) -> None:
        self.ended = (code, reason)


def stub(ctx: ServiceContext, account: Account, token_id: int, ttl: timedelta) -> StubStream:
    return StubStream(Actor(account, token_id, 0, ctx.clock.now() + ttl), ctx)


async def test_the_watch_ends_streams_as_their_tokens_expire_and_by_event() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    watch = SessionWatch()
    soon, later, other = (
        stub(ctx, alice.account, 1, timedelta(seconds=5)),
        stub(ctx, alice.account, 2, timedelta(hours=1)),
        stub(ctx, alice.account, 3, timedelta(hours=1)),
    )
    try:
        for stream in (soon, later, other):
            watch.add(stream)  # type: ignore[arg-type]
        frozen_clock(ctx).advance(timedelta(seconds=5))
        watch.expire(ctx.clock.now())
        assert soon.ended == (4401, "token_expired: log in again")
        assert later.ended is None and other.ended is None
        watch.on_event({"account_id": alice.id, "token_id": 2, "reason": "token_revoked"})
        assert later.ended == (4401, "token_revoked: log in again")
        watch.on_event({"account_id": alice.id, "token_id": None, "reason": "account_disabled"})
        assert other.ended == (4403, "account_disabled")
        assert watch.count == 0
    finally:
        await watch.close()


async def test_the_expiry_heap_stays_bounded_under_reconnect_churn() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    watch = SessionWatch()
    try:
        for token_id in range(1, 1001):  # each connects once and goes
            stream = stub(ctx, alice.account, token_id, timedelta(days=30))
            watch.add(stream)  # type: ignore[arg-type]
            watch.remove(stream)  # type: ignore[arg-type]
        assert len(watch._expiry) <= 2 * watch.count + 65
    finally:
        await watch.close()
