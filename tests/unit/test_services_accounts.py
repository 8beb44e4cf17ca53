"""Accounts, passwords and tokens through the services, over the fakes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qunzu.domain.audit import SYSTEM_ACTOR_ID
from qunzu.domain.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from qunzu.domain.models import PlatformRole
from qunzu.services.accounts import (
    TOKEN_PREFIX,
    authenticate,
    do_create_platform_user,
    do_issue_token,
    do_login,
    do_logout,
    do_register,
    do_revoke_token,
    do_update_profile,
    find_account,
    hash_token,
    list_tokens,
)
from qunzu.services.actor import SYSTEM, require_platform_role
from tests.fakes import FakePasswordHasher, fake_uow, frozen_clock, make_ctx
from tests.unit.world import PASSWORD, refusal, register


async def test_register_normalises_the_handle_and_defaults_the_display_name() -> None:
    ctx = make_ctx()
    account = await do_register(ctx, "  Alice_1 ", PASSWORD)
    assert account.handle == "alice_1"
    assert account.display_name == "alice_1"
    assert not account.identity_verified
    assert account.platform_role is None


async def test_register_stores_a_hash_not_the_password() -> None:
    ctx = make_ctx()
    account = await do_register(ctx, "alice", PASSWORD)
    stored = fake_uow(ctx).state.password_hashes[account.id]
    assert PASSWORD not in stored
    assert ctx.hasher.verify(stored, PASSWORD)


async def test_register_refuses_a_taken_handle_in_any_case() -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    assert await refusal(do_register(ctx, "ALICE", PASSWORD), Conflict) == "handle_taken"
    assert len(fake_uow(ctx).state.accounts) == 1


@pytest.mark.parametrize(
    ("handle", "password", "display_name", "code"),
    [
        ("al", PASSWORD, None, "invalid_handle"),
        ("1alice", PASSWORD, None, "invalid_handle"),
        ("alice", "short", None, "weak_password"),
        ("alice", PASSWORD, "   ", "invalid_display_name"),
        ("alice", PASSWORD, "bell\x07", "invalid_display_name"),
    ],
)
async def test_register_refuses_malformed_input(
    handle: str, password: str, display_name: str | None, code: str
) -> None:
    ctx = make_ctx()
    with pytest.raises(InvalidInput) as caught:
        await do_register(ctx, handle, password, display_name)
    assert caught.value.code == code
    assert fake_uow(ctx).state.accounts == {}


async def test_register_of_an_ordinary_user_writes_no_audit_entry() -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    assert fake_uow(ctx).state.audit == []


async def test_creating_platform_staff_from_the_command_line_is_audited_as_the_system() -> None:
    ctx = make_ctx()
    account = await do_create_platform_user(
        ctx, SYSTEM, "reviewer1", PASSWORD, PlatformRole.reviewer
    )
    assert account.platform_role is PlatformRole.reviewer
    [entry] = fake_uow(ctx).state.audit
    assert (entry.actor_id, entry.action, entry.subject) == (
        SYSTEM_ACTOR_ID,
        "platform_user.create",
        f"account:{account.id}",
    )
    assert entry.detail == {"role": "reviewer"}


async def test_an_admin_creating_platform_staff_is_named_in_the_audit_entry() -> None:
    ctx = make_ctx()
    admin = await register(ctx, "admin1", verified=False, role=PlatformRole.admin)
    account = await do_create_platform_user(ctx, admin, "auditor1", PASSWORD, PlatformRole.auditor)
    entry = fake_uow(ctx).state.audit[-1]
    assert (entry.actor_id, entry.subject) == (admin.id, f"account:{account.id}")


async def test_a_taken_handle_creates_no_staff_account_and_no_entry() -> None:
    ctx = make_ctx()
    await do_register(ctx, "taken", PASSWORD)
    with pytest.raises(Conflict):
        await do_create_platform_user(ctx, SYSTEM, "taken", PASSWORD, PlatformRole.admin)
    assert fake_uow(ctx).state.audit == []


# ---- login -------------------------------------------------------------------------------


async def test_login_issues_a_prefixed_token_that_expires_after_the_ttl() -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    issued = await do_login(ctx, "alice", PASSWORD, label="laptop")
    assert issued.token.startswith(TOKEN_PREFIX)
    expected = ctx.clock.now() + timedelta(hours=ctx.limits.token_ttl_hours)
    assert issued.expires_at == expected
    [stored] = fake_uow(ctx).state.tokens.values()
    assert stored.label == "laptop"


async def test_only_the_hash_of_a_token_is_stored() -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    issued = await do_login(ctx, "alice", PASSWORD)
    [stored] = fake_uow(ctx).state.tokens.values()
    assert stored.token_hash == hash_token(issued.token)
    assert issued.token not in stored.token_hash


@pytest.mark.parametrize(
    ("handle", "password"),
    [("alice", "wrong password"), ("nobody", PASSWORD), ("!!", PASSWORD)],
    ids=["wrong-password", "unknown-handle", "malformed-handle"],
)
async def test_failed_logins_look_alike(handle: str, password: str) -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    with pytest.raises(Unauthenticated) as caught:
        await do_login(ctx, handle, password)
    assert caught.value.code == "bad_credentials"
    assert caught.value.detail == "Wrong handle or password."
    assert fake_uow(ctx).state.tokens == {}


async def test_login_to_a_disabled_account_is_refused() -> None:
    ctx = make_ctx()
    account = await do_register(ctx, "alice", PASSWORD)
    async with ctx.uow() as uow:
        await uow.accounts.update(account.id, disabled=True)
        await uow.commit()
    assert await refusal(do_login(ctx, "alice", PASSWORD), Forbidden) == "account_disabled"


async def test_login_rehashes_a_password_stored_with_old_parameters() -> None:
    ctx = make_ctx()
    account = await do_register(ctx, "alice", PASSWORD)
    old = fake_uow(ctx).state.password_hashes[account.id]
    ctx.hasher = FakePasswordHasher(version=2)
    await do_login(ctx, "alice", PASSWORD)
    new = fake_uow(ctx).state.password_hashes[account.id]
    assert new != old
    assert not ctx.hasher.needs_rehash(new)


# ---- authenticate, logout, revoke, expiry ------------------------------------------------


async def test_authenticate_returns_the_account_and_token_behind_a_token() -> None:
    ctx = make_ctx()
    account = await do_register(ctx, "alice", PASSWORD)
    issued = await do_login(ctx, "alice", PASSWORD)
    actor = await authenticate(ctx, issued.token)
    assert actor.id == account.id
    assert actor.token_id == issued.token_id


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (None, "token_missing"),
        ("", "token_missing"),
        ("not-a-qunzu-token", "token_invalid"),
        (TOKEN_PREFIX + "x" * 200, "token_invalid"),
        (TOKEN_PREFIX + "unknown", "token_invalid"),
    ],
)
async def test_authenticate_refuses_missing_and_unknown_tokens(
    token: str | None, code: str
) -> None:
    ctx = make_ctx()
    with pytest.raises(Unauthenticated) as caught:
        await authenticate(ctx, token)
    assert caught.value.code == code


async def test_a_token_works_until_just_before_its_expiry() -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    issued = await do_login(ctx, "alice", PASSWORD)
    frozen_clock(ctx).advance(timedelta(hours=ctx.limits.token_ttl_hours) - timedelta(seconds=1))
    assert (await authenticate(ctx, issued.token)).token_id == issued.token_id


async def test_a_token_is_refused_once_the_clock_reaches_its_expiry() -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    issued = await do_login(ctx, "alice", PASSWORD)
    frozen_clock(ctx).advance(timedelta(hours=ctx.limits.token_ttl_hours))
    assert await refusal(authenticate(ctx, issued.token), Unauthenticated) == "token_expired"


async def test_logout_revokes_only_the_token_it_was_called_with() -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    phone = await do_login(ctx, "alice", PASSWORD)
    laptop = await do_login(ctx, "alice", PASSWORD)
    await do_logout(ctx, await authenticate(ctx, phone.token))
    assert await refusal(authenticate(ctx, phone.token), Unauthenticated) == "token_revoked"
    assert (await authenticate(ctx, laptop.token)).token_id == laptop.token_id


async def test_a_revoked_token_reports_revoked_even_after_expiry() -> None:
    ctx = make_ctx()
    await do_register(ctx, "alice", PASSWORD)
    issued = await do_login(ctx, "alice", PASSWORD)
    await do_logout(ctx, await authenticate(ctx, issued.token))
    frozen_clock(ctx).advance(timedelta(days=365))
    assert await refusal(authenticate(ctx, issued.token), Unauthenticated) == "token_revoked"


async def test_revoke_token_revokes_another_token_of_the_same_account() -> None:
    ctx = make_ctx()
    actor = await register(ctx, "alice", verified=False)
    script = await do_issue_token(ctx, actor, "backup script")
    await do_revoke_token(ctx, actor, script.token_id)
    with pytest.raises(Unauthenticated):
        await authenticate(ctx, script.token)
    assert fake_uow(ctx).state.tokens[script.token_id].revoked_at == ctx.clock.now()


async def test_revoke_token_twice_is_a_conflict() -> None:
    ctx = make_ctx()
    actor = await register(ctx, "alice", verified=False)
    script = await do_issue_token(ctx, actor, "script")
    await do_revoke_token(ctx, actor, script.token_id)
    assert (
        await refusal(do_revoke_token(ctx, actor, script.token_id), Conflict)
        == "token_already_revoked"
    )


async def test_revoke_token_of_another_account_is_not_found() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    bob = await register(ctx, "bob", verified=False)
    assert await refusal(do_revoke_token(ctx, bob, alice.token_id), NotFound) == "token_not_found"
    assert fake_uow(ctx).state.tokens[alice.token_id].revoked_at is None


async def test_list_tokens_lists_only_the_actors_tokens() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    await register(ctx, "bob", verified=False)
    extra = await do_issue_token(ctx, alice, "x" * 100)
    tokens = await list_tokens(ctx, alice)
    assert [t.id for t in tokens] == [alice.token_id, extra.token_id]
    assert tokens[1].label == "x" * 64


async def test_a_disabled_accounts_token_is_refused() -> None:
    ctx = make_ctx()
    account = await do_register(ctx, "alice", PASSWORD)
    issued = await do_login(ctx, "alice", PASSWORD)
    async with ctx.uow() as uow:
        await uow.accounts.update(account.id, disabled=True)
        await uow.commit()
    assert await refusal(authenticate(ctx, issued.token), Forbidden) == "account_disabled"


# ---- profile and look-ups ----------------------------------------------------------------


async def test_update_profile_changes_the_display_name_only() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    updated = await do_update_profile(ctx, alice, "  小  爱 ")
    assert updated.display_name == "小 爱"
    assert updated.handle == "alice"


async def test_find_account_by_handle_and_unknown_handle() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    assert (await find_account(ctx, " ALICE ")).id == alice.id
    with pytest.raises(NotFound):
        await find_account(ctx, "nobody")
    with pytest.raises(NotFound):
        await find_account(ctx, "??")


async def test_require_platform_role_refuses_ordinary_users() -> None:
    ctx = make_ctx()
    alice = await register(ctx, "alice", verified=False)
    admin = await register(ctx, "admin1", verified=False, role=PlatformRole.admin)
    require_platform_role(admin, PlatformRole.admin)
    require_platform_role(SYSTEM, PlatformRole.admin)  # the operator holds every role
    with pytest.raises(Forbidden) as caught:
        require_platform_role(alice, PlatformRole.admin, PlatformRole.reviewer)
    assert caught.value.code == "platform_role_required"
