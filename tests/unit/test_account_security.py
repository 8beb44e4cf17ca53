"""Passwords, throttling and sessions through the services, over the fakes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from qunzu.domain.audit import AuditAction
from qunzu.domain.errors import (
    Forbidden,
    Gone,
    InvalidInput,
    QuotaExceeded,
    Unauthenticated,
    Unavailable,
)
from qunzu.domain.models import PlatformRole
from qunzu.domain.throttle import Backoff, MemoryThrottleStore
from qunzu.services import passwords
from qunzu.services.accounts import (
    Client,
    TokenKind,
    authenticate,
    do_login,
    do_register,
    do_revoke_other_tokens,
    list_tokens,
)
from qunzu.services.credentials import HashGate, check_password
from tests.fakes import fake_uow, frozen_clock, make_ctx
from tests.unit.world import PASSWORD, listen_account, refusal, register

NEW = "a much better passphrase"


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))

    def code(self) -> str:
        return self.sent[-1][1].split("code is ")[1][:6]


# Passwords


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "weak_password"),
        ("x" * 129, "weak_password"),
        ("password123", "common_password"),
        ("QWERTYUIOP", "common_password"),
    ],
)
def test_short_long_and_common_passwords_are_refused(password: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_password(password)
    assert caught.value.code == code


async def test_sign_up_refuses_a_common_password() -> None:
    ctx = make_ctx()
    assert await refusal(do_register(ctx, "alice", "iloveyou"), InvalidInput) == "common_password"


async def test_change_needs_the_current_password() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    call = passwords.do_change_password(ctx, alice, "wrong password!", NEW)
    assert await refusal(call, InvalidInput) == "bad_current_password"
    await do_login(ctx, "alice", PASSWORD)  # still the old one


async def test_change_sets_the_new_password_and_revokes_other_sessions_on_request() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    other = await do_login(ctx, "alice", PASSWORD)
    revoked = await passwords.do_change_password(ctx, alice, PASSWORD, NEW, revoke_others=True)
    assert revoked == 1
    assert await refusal(authenticate(ctx, other.token), Unauthenticated) == "token_revoked"
    live = [t.id for t in await list_tokens(ctx, alice) if t.revoked_at is None]
    assert live == [alice.token_id]
    await do_login(ctx, "alice", NEW)
    assert await refusal(do_login(ctx, "alice", PASSWORD), Unauthenticated) == "bad_credentials"


async def test_change_without_revoking_keeps_other_sessions() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    other = await do_login(ctx, "alice", PASSWORD)
    assert await passwords.do_change_password(ctx, alice, PASSWORD, NEW) == 0
    assert (await authenticate(ctx, other.token)).id == alice.id


async def test_reset_code_goes_to_the_verified_number_and_sets_a_new_password_once() -> None:
    ctx = make_ctx()
    ctx.sms = outbox = Outbox()
    alice = await register(ctx, "alice")
    await passwords.do_request_reset(ctx, "alice", "203.0.113.5")
    assert outbox.sent[0][0] == "13800138000"
    code = outbox.code()
    stored = next(iter(fake_uow(ctx).state.reset_codes.values()))
    assert code not in stored.code_hash  # kept hashed
    await passwords.do_reset_password(ctx, "alice", code, NEW)
    await do_login(ctx, "alice", NEW)
    again = passwords.do_reset_password(ctx, "alice", code, "yet another passphrase")
    assert await refusal(again, InvalidInput) == "reset_code_invalid"
    # every session of the account ended
    tokens = await list_tokens(ctx, alice)
    assert tokens[0].revoked_at is not None


async def test_a_reset_code_expires() -> None:
    ctx = make_ctx()
    clock = frozen_clock(ctx)
    ctx.sms = outbox = Outbox()
    await register(ctx, "alice")
    await passwords.do_request_reset(ctx, "alice")
    clock.advance(ctx.reset_code_ttl + timedelta(seconds=1))
    call = passwords.do_reset_password(ctx, "alice", outbox.code(), NEW)
    assert await refusal(call, Gone) == "reset_code_expired"


async def test_a_reset_code_dies_after_five_wrong_guesses() -> None:
    ctx = make_ctx()
    ctx.sms = outbox = Outbox()
    await register(ctx, "alice")
    await passwords.do_request_reset(ctx, "alice")
    right = outbox.code()
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for _ in range(passwords.RESET_CODE_TRIES):
        call = passwords.do_reset_password(ctx, "alice", wrong, NEW)
        assert await refusal(call, InvalidInput) == "reset_code_invalid"
    call = passwords.do_reset_password(ctx, "alice", right, NEW)
    assert await refusal(call, Gone) == "reset_code_expired"


async def test_reset_codes_are_limited_per_number_per_hour() -> None:
    ctx = make_ctx()
    ctx.sms = outbox = Outbox()
    await register(ctx, "alice")
    for _ in range(ctx.throttles.reset_number.free + 1):
        await passwords.do_request_reset(ctx, "alice")
    call = passwords.do_request_reset(ctx, "alice")
    assert await refusal(call, QuotaExceeded) == "reset_throttled"
    assert len(outbox.sent) == ctx.throttles.reset_number.free + 1


async def test_a_reset_for_an_unknown_or_unverified_account_sends_nothing_and_says_nothing() -> (
    None
):
    ctx = make_ctx()
    ctx.sms = outbox = Outbox()
    await register(ctx, "bob", verified=False)
    await passwords.do_request_reset(ctx, "nobody")
    await passwords.do_request_reset(ctx, "bob")
    assert outbox.sent == []


async def test_without_an_sms_sender_reset_is_unavailable() -> None:
    ctx = make_ctx()
    await register(ctx, "alice")
    call = passwords.do_request_reset(ctx, "alice")
    assert await refusal(call, Unavailable) == "sms_unavailable"


async def test_officer_reset_is_audited_ends_sessions_and_gives_a_working_password() -> None:
    ctx = make_ctx()
    admin = await register(ctx, "root_admin", role=PlatformRole.admin)
    alice = await register(ctx, "alice")
    temporary = await passwords.do_officer_reset_password(
        ctx, admin, alice.id, "lost phone, identity checked in person"
    )
    await do_login(ctx, "alice", temporary)
    entry = fake_uow(ctx).state.audit[-1]
    assert entry.action == AuditAction.password_reset_by_officer.value
    assert entry.subject == f"account:{alice.id}"
    assert entry.detail["reason"] == "lost phone, identity checked in person"


async def test_an_officer_cannot_reset_their_own_password_this_way() -> None:
    ctx = make_ctx()
    admin = await register(ctx, "root_admin", role=PlatformRole.admin)
    call = passwords.do_officer_reset_password(ctx, admin, admin.id, "forgot it myself")
    assert await refusal(call, Forbidden) == "officer_self_action"


async def test_log_in_rehashes_when_the_argon2_parameters_change() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    ctx.hasher.version = 2  # type: ignore[attr-defined]
    await do_login(ctx, "alice", PASSWORD)
    assert fake_uow(ctx).state.password_hashes[alice.id].startswith("fake$2$")


# Throttling


async def test_failed_log_ins_for_an_account_back_off_with_retry_after_and_are_recorded() -> None:
    ctx = make_ctx()
    clock = frozen_clock(ctx)
    await register(ctx, "alice")
    rule = ctx.throttles.login_account
    for _ in range(rule.free + 1):
        assert await refusal(do_login(ctx, "alice", "wrong!!!!"), Unauthenticated)
    with pytest.raises(QuotaExceeded) as caught:
        await do_login(ctx, "alice", PASSWORD)
    assert caught.value.code == "login_throttled"
    assert caught.value.extra["retry_after"] == int(rule.base.total_seconds())
    actions = [e.action for e in fake_uow(ctx).state.audit]
    assert actions.count(AuditAction.throttled.value) == 1
    clock.advance(rule.base)
    await do_login(ctx, "alice", PASSWORD)  # after the wait, the right password works


async def test_failed_log_ins_from_an_address_are_throttled_across_accounts() -> None:
    ctx = make_ctx()
    ctx.throttles = type(ctx.throttles)(
        login_address=Backoff(3, timedelta(minutes=15), timedelta(seconds=5), timedelta(minutes=15))
    )
    where = Client("198.51.100.9")
    for name in ("aa_1", "aa_2", "aa_3", "aa_4"):
        await refusal(do_login(ctx, name, "wrong!!!!", client=where), Unauthenticated)
    call = do_login(ctx, "aa_5", "wrong!!!!", client=where)
    assert await refusal(call, QuotaExceeded) == "login_throttled"


async def test_sign_up_is_limited_per_address() -> None:
    ctx = make_ctx()
    where = Client("198.51.100.10")
    for i in range(ctx.throttles.signup_address.free + 1):
        await do_register(ctx, f"user_{i}", PASSWORD, client=where)
    call = do_register(ctx, "user_last", PASSWORD, client=where)
    assert await refusal(call, QuotaExceeded) == "signup_throttled"


async def test_the_backoff_doubles_up_to_its_cap() -> None:
    rule = Backoff(2, timedelta(hours=1), timedelta(seconds=2), timedelta(seconds=10))
    assert [rule.wait_after(n).total_seconds() for n in range(1, 7)] == [0, 0, 2, 4, 8, 10]


async def test_memory_store_forgets_expired_keys_when_full() -> None:
    store = MemoryThrottleStore(max_keys=3)
    rule = Backoff(5, timedelta(seconds=1), timedelta(seconds=1), timedelta(seconds=1))
    for i in range(3):
        await store.take(f"k{i}", 0, rule)
    await store.take("new", 5_000, rule)
    assert set(store.counts) == {"new"}


async def test_the_hash_gate_runs_at_most_its_slots_and_refuses_past_its_queue() -> None:
    gate = HashGate(slots=1, queue=1)
    release = asyncio.Event()
    running = 0

    async def slow(fn, *args):  # type: ignore[no-untyped-def]
        nonlocal running
        running += 1
        await release.wait()
        return fn(*args)

    first = asyncio.create_task(gate.run(slow, str, 1))
    await asyncio.sleep(0)
    second = asyncio.create_task(gate.run(slow, str, 2))
    await asyncio.sleep(0)
    with pytest.raises(Unavailable) as caught:
        await gate.run(slow, str, 3)
    assert caught.value.code == "hashing_busy"
    assert running == 1
    release.set()
    assert await first == "1"
    assert await second == "2"


# Sessions


async def test_a_web_session_token_is_not_a_bearer_token_and_the_reverse() -> None:
    ctx = make_ctx()
    await register(ctx, "alice")
    web = await do_login(ctx, "alice", PASSWORD, kind=TokenKind.web)
    api = await do_login(ctx, "alice", PASSWORD)
    assert await refusal(authenticate(ctx, web.token), Unauthenticated) == "token_invalid"
    call = authenticate(ctx, api.token, TokenKind.web)
    assert await refusal(call, Unauthenticated) == "token_invalid"
    assert (await authenticate(ctx, web.token, TokenKind.web)).token_id == web.token_id


async def test_sign_in_from_a_new_device_or_place_notifies_the_account() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    await do_login(ctx, "alice", PASSWORD, client=Client("203.0.113.5", "Firefox/1"))
    heard = await listen_account(ctx, alice.id)
    await do_login(ctx, "alice", PASSWORD, client=Client("203.0.113.77", "Firefox/1"))
    assert heard.kinds() == []  # same device, same /24
    await do_login(ctx, "alice", PASSWORD, client=Client("198.51.100.1", "Chrome/2"))
    assert heard.kinds() == ["sign_in_new_device", "sign_in_new_place"]


async def test_the_device_list_shows_last_use_and_address() -> None:
    ctx = make_ctx()
    clock = frozen_clock(ctx)
    await register(ctx, "alice")
    issued = await do_login(ctx, "alice", PASSWORD, client=Client("203.0.113.5", "Firefox/1"))
    clock.advance(timedelta(hours=1))
    actor = await authenticate(ctx, issued.token, address="203.0.113.6")
    mine = {t.id: t for t in await list_tokens(ctx, actor)}[issued.token_id]
    assert (mine.address, mine.user_agent, mine.last_used_at) == (
        "203.0.113.6",
        "Firefox/1",
        clock.now(),
    )


async def test_revoking_all_others_keeps_only_this_session() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice")
    others = [await do_login(ctx, "alice", PASSWORD) for _ in range(3)]
    assert await do_revoke_other_tokens(ctx, alice) == 3
    for other in others:
        assert await refusal(authenticate(ctx, other.token), Unauthenticated) == "token_revoked"
    live = [t for t in await list_tokens(ctx, alice) if t.revoked_at is None]
    assert [t.id for t in live] == [alice.token_id]
