"""Second factors through the services, over the fakes: TOTP enrolment, the log-in
challenge, recovery codes, backoff, passkeys (a software authenticator) and the staff rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from qunzu.crypto import otp
from qunzu.crypto.passkeys import b64
from qunzu.domain.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    QuotaExceeded,
    Unauthenticated,
)
from qunzu.domain.models import PlatformRole
from qunzu.domain.second_factor import (
    SecondFactorPolicy,
    backoff_seconds,
    normalize_recovery_code,
)
from qunzu.services import second_factor as sf
from qunzu.services.accounts import authenticate, do_login
from qunzu.services.actor import Actor, require_platform_role
from qunzu.services.context import ServiceContext
from qunzu.services.signin import IssuedToken, OpenChallenge
from tests.fakes import frozen_clock, make_ctx
from tests.softauthn import SoftAuthenticator
from tests.unit.world import PASSWORD, enrol_totp, refresh, refusal, register


async def _enrolled(ctx: ServiceContext, handle: str = "alice") -> tuple[Actor, str, list[str]]:
    actor = await register(ctx, handle)
    started = await sf.do_start_totp(ctx, actor)
    done = await sf.do_confirm_totp(
        ctx, actor, started.factor_id, otp.code_at(started.secret, ctx.clock.now())
    )
    assert done.recovery_codes is not None
    return await authenticate_again(ctx, actor), started.secret, done.recovery_codes


async def authenticate_again(ctx: ServiceContext, actor: Actor) -> Actor:
    return await refresh(ctx, actor)


async def _challenge(ctx: ServiceContext, handle: str = "alice") -> OpenChallenge:
    opened = await do_login(ctx, handle, PASSWORD, "phone")
    assert isinstance(opened, OpenChallenge)
    return opened


def _next_code(ctx: ServiceContext, secret: str) -> str:
    frozen_clock(ctx).advance(timedelta(seconds=30))
    return otp.code_at(secret, ctx.clock.now())


async def test_start_gives_a_secret_uri_and_svg_qr_and_stores_the_secret_encrypted() -> None:
    ctx = make_ctx()
    actor = await register(ctx, "alice")
    started = await sf.do_start_totp(ctx, actor, "phone")
    assert started.uri.startswith("otpauth://totp/qunzu:alice?secret=")
    assert started.qr_svg.startswith("<svg")
    async with ctx.uow(write=False) as uow:
        stored = await uow.second_factors.get(started.factor_id)
    assert stored is not None and stored.secret_enc is not None
    assert started.secret not in stored.secret_enc
    assert not stored.active


async def test_confirming_makes_the_factor_active_and_gives_ten_distinct_recovery_codes() -> None:
    ctx = make_ctx()
    actor, _, codes = await _enrolled(ctx)
    assert actor.account.second_factor
    assert len(set(codes)) == 10
    assert all(normalize_recovery_code(c) == c for c in codes)
    assert (await sf.security_of(ctx, actor)).recovery_codes_left == 10


async def test_a_wrong_confirmation_code_leaves_the_factor_inactive() -> None:
    ctx = make_ctx()
    actor = await register(ctx, "alice")
    started = await sf.do_start_totp(ctx, actor)
    right = otp.code_at(started.secret, ctx.clock.now())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    code = await refusal(sf.do_confirm_totp(ctx, actor, started.factor_id, wrong), Unauthenticated)
    assert code == "wrong_code"
    assert not (await authenticate_again(ctx, actor)).account.second_factor


async def test_a_password_alone_opens_a_challenge_not_a_token_once_a_factor_exists() -> None:
    ctx = make_ctx()
    await _enrolled(ctx)
    opened = await _challenge(ctx)
    assert opened.challenge.startswith("qzc_")
    assert opened.methods == ("totp", "recovery_code")


async def test_the_next_code_closes_the_challenge_and_issues_a_token() -> None:
    ctx = make_ctx()
    _, secret, _ = await _enrolled(ctx)
    opened = await _challenge(ctx)
    issued = await sf.do_complete_login(ctx, opened.challenge, code=_next_code(ctx, secret))
    assert isinstance(issued, IssuedToken)
    assert (await authenticate(ctx, issued.token)).account.handle == "alice"


async def test_the_code_used_to_confirm_is_refused_as_a_replay_within_its_window() -> None:
    ctx = make_ctx()
    _, secret, _ = await _enrolled(ctx)
    opened = await _challenge(ctx)
    same = otp.code_at(secret, ctx.clock.now())
    call = sf.do_complete_login(ctx, opened.challenge, code=same)
    assert await refusal(call, Unauthenticated) == "code_already_used"


async def test_a_challenge_closes_once() -> None:
    ctx = make_ctx()
    _, secret, _ = await _enrolled(ctx)
    opened = await _challenge(ctx)
    await sf.do_complete_login(ctx, opened.challenge, code=_next_code(ctx, secret))
    again = sf.do_complete_login(ctx, opened.challenge, code=_next_code(ctx, secret))
    assert await refusal(again, Gone) == "challenge_used"


async def test_an_expired_challenge_is_refused() -> None:
    ctx = make_ctx()
    _, secret, _ = await _enrolled(ctx)
    opened = await _challenge(ctx)
    frozen_clock(ctx).advance(timedelta(seconds=ctx.second_factor.challenge_seconds + 1))
    call = sf.do_complete_login(ctx, opened.challenge, code=otp.code_at(secret, ctx.clock.now()))
    assert await refusal(call, Gone) == "challenge_expired"


async def test_a_recovery_code_works_once() -> None:
    ctx = make_ctx()
    _, _, codes = await _enrolled(ctx)
    first = await _challenge(ctx)
    await sf.do_complete_login(ctx, first.challenge, recovery_code=codes[0].lower())
    second = await _challenge(ctx)
    call = sf.do_complete_login(ctx, second.challenge, recovery_code=codes[0])
    assert await refusal(call, Unauthenticated) == "wrong_recovery_code"


async def test_regenerated_recovery_codes_replace_the_old_ones() -> None:
    ctx = make_ctx()
    actor, _, old = await _enrolled(ctx)
    new = await sf.do_regenerate_recovery_codes(ctx, actor, password=PASSWORD)
    assert not set(new) & set(old)
    opened = await _challenge(ctx)
    call = sf.do_complete_login(ctx, opened.challenge, recovery_code=old[1])
    assert await refusal(call, Unauthenticated) == "wrong_recovery_code"
    await sf.do_complete_login(ctx, opened.challenge, recovery_code=new[1])


async def test_wrong_codes_back_off_with_a_retry_after_and_a_right_code_resets_the_count() -> None:
    ctx = make_ctx()
    _, secret, codes = await _enrolled(ctx)
    opened = await _challenge(ctx)
    for _ in range(ctx.second_factor.free_failures):
        await refusal(sf.do_complete_login(ctx, opened.challenge, code="000000"), Unauthenticated)
    with pytest.raises(QuotaExceeded) as caught:
        await sf.do_complete_login(ctx, opened.challenge, recovery_code=codes[0])
    assert caught.value.code == "second_factor_throttled"
    assert caught.value.extra["retry_after"] == ctx.second_factor.backoff_base_seconds
    frozen_clock(ctx).advance(timedelta(seconds=ctx.second_factor.backoff_base_seconds))
    opened = await _challenge(ctx)
    await sf.do_complete_login(ctx, opened.challenge, code=_next_code(ctx, secret))
    async with ctx.uow(write=False) as uow:
        assert await uow.second_factors.failures(1) == (0, None)


def test_backoff_doubles_after_the_free_failures_up_to_its_ceiling() -> None:
    policy = SecondFactorPolicy(free_failures=2, backoff_base_seconds=10, backoff_max_seconds=50)
    assert [backoff_seconds(n, policy) for n in range(1, 7)] == [0, 10, 20, 40, 50, 50]


async def test_removing_the_last_factor_needs_a_proof_and_ends_the_second_step() -> None:
    ctx = make_ctx()
    actor, secret, _ = await _enrolled(ctx)
    factor = (await sf.security_of(ctx, actor)).factors[0]
    call = sf.do_remove_factor(ctx, actor, factor.id)
    assert await refusal(call, InvalidInput) == "proof_required"
    call = sf.do_remove_factor(ctx, actor, factor.id, password="not the password")
    assert await refusal(call, Unauthenticated) == "wrong_password"
    await sf.do_remove_factor(ctx, actor, factor.id, code=_next_code(ctx, secret))
    assert isinstance(await do_login(ctx, "alice", PASSWORD), IssuedToken)
    assert (await sf.security_of(ctx, actor)).recovery_codes_left == 0


async def test_a_malformed_code_is_invalid_input_not_a_wrong_code() -> None:
    ctx = make_ctx()
    await _enrolled(ctx)
    opened = await _challenge(ctx)
    call = sf.do_complete_login(ctx, opened.challenge, code="12ab56")
    assert await refusal(call, InvalidInput) == "invalid_code"
    call = sf.do_complete_login(ctx, "qzc_nonsense", code="123456")
    assert await refusal(call, Unauthenticated) == "challenge_invalid"


async def test_staff_without_a_second_factor_are_refused_platform_work() -> None:
    ctx = make_ctx()
    staff = await register(ctx, "rev", role=PlatformRole.reviewer)
    require_platform_role(staff, PlatformRole.reviewer)  # world enrols staff
    bare = Actor(replace(staff.account, second_factor=False), staff.token_id)
    with pytest.raises(Forbidden) as caught:
        require_platform_role(bare, PlatformRole.reviewer)
    assert caught.value.code == "second_factor_required"


# ---- passkeys ----------------------------------------------------------------------------


async def _with_passkey(ctx: ServiceContext) -> tuple[Actor, SoftAuthenticator]:
    actor = await register(ctx, "alice")
    key = SoftAuthenticator(origin=ctx.relying_party.origin)
    handle, options = await sf.passkey_registration(ctx, actor)
    done = await sf.do_register_passkey(ctx, actor, handle, key.create(options), "laptop")
    assert done.recovery_codes is not None and len(done.recovery_codes) == 10
    return await authenticate_again(ctx, actor), key


async def test_a_passkey_registers_and_then_closes_the_log_in_challenge() -> None:
    ctx = make_ctx()
    actor, key = await _with_passkey(ctx)
    assert actor.account.second_factor
    opened = await _challenge(ctx)
    assert "passkey" in opened.methods
    handle, options = await sf.passkey_login(ctx, opened.challenge)
    assert [c["id"] for c in options["allowCredentials"]] == [b64(key.credential_id)]
    issued = await sf.do_complete_passkey_login(ctx, handle, key.get(options))
    assert (await authenticate(ctx, issued.token)).id == actor.id


async def test_a_discoverable_passkey_signs_in_without_a_password() -> None:
    ctx = make_ctx()
    actor, key = await _with_passkey(ctx)
    handle, options = await sf.passkey_login(ctx)
    assert options["allowCredentials"] == []
    issued = await sf.do_complete_passkey_login(ctx, handle, key.get(options))
    assert (await authenticate(ctx, issued.token)).id == actor.id


async def test_a_sign_count_that_goes_back_is_refused() -> None:
    ctx = make_ctx()
    _, key = await _with_passkey(ctx)
    handle, options = await sf.passkey_login(ctx)
    await sf.do_complete_passkey_login(ctx, handle, key.get(options, count=5))
    handle, options = await sf.passkey_login(ctx)
    call = sf.do_complete_passkey_login(ctx, handle, key.get(options, count=3))
    assert await refusal(call, Unauthenticated) == "passkey_refused"


async def test_an_assertion_from_another_origin_is_refused() -> None:
    ctx = make_ctx()
    _, key = await _with_passkey(ctx)
    handle, options = await sf.passkey_login(ctx)
    call = sf.do_complete_passkey_login(ctx, handle, key.get(options, origin="https://evil"))
    assert await refusal(call, Unauthenticated) == "passkey_refused"


async def test_the_same_passkey_cannot_register_twice() -> None:
    ctx = make_ctx()
    actor, key = await _with_passkey(ctx)
    handle, options = await sf.passkey_registration(ctx, actor)
    call = sf.do_register_passkey(ctx, actor, handle, key.create(options))
    assert await refusal(call, Conflict) == "passkey_already_registered"


async def test_world_staff_have_a_factor_and_enrol_totp_gives_codes() -> None:
    ctx = make_ctx()
    actor = await register(ctx, "bob")
    assert len(await enrol_totp(ctx, actor)) == 10
