"""Accounts, sessions and API tokens, through the SDK against a real server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from qunzu.client import QunzuClient
from tests.factories import PASSWORD, make_user, me, refused, unique_handle
from tests.server import ServerThread


async def test_register_returns_the_new_unverified_account(anon: QunzuClient) -> None:
    handle = unique_handle("reg")
    account = await anon.register(handle, PASSWORD, "小明")
    assert account["handle"] == handle
    assert account["display_name"] == "小明"
    assert account["identity_verified"] is False
    assert isinstance(account["id"], int) and account["id"] >= 1


async def test_register_normalises_the_handle_to_lower_case(anon: QunzuClient) -> None:
    handle = unique_handle("case")
    account = await anon.register(handle.upper(), PASSWORD)
    assert account["handle"] == handle
    assert account["display_name"] == handle


async def test_register_refuses_a_duplicate_handle(anon: QunzuClient) -> None:
    handle = unique_handle("dup")
    await anon.register(handle, PASSWORD)
    err = await refused(anon.register(handle, "another good password"))
    assert (err.status, err.code) == (409, "handle_taken")


@pytest.mark.parametrize("handle", ["ab", "9lives", "has space", "bad-dash", "x" * 33, "名字"])
async def test_register_refuses_an_invalid_handle(anon: QunzuClient, handle: str) -> None:
    err = await refused(anon.register(handle, PASSWORD))
    assert (err.status, err.code) == (400, "invalid_handle")


async def test_register_refuses_a_weak_password(anon: QunzuClient) -> None:
    err = await refused(anon.register(unique_handle("weak"), "short"))
    assert (err.status, err.code) == (400, "weak_password")


async def test_login_with_the_right_password_issues_a_working_token(anon: QunzuClient) -> None:
    handle = unique_handle("login")
    await anon.register(handle, PASSWORD, "Login Person")
    session = await anon.login(handle, PASSWORD, label="laptop")
    assert session["token"].startswith("qz_")
    assert session["account"]["handle"] == handle
    mine = await anon.me()
    assert mine["handle"] == handle
    assert mine["platform_role"] is None


async def test_login_with_a_wrong_password_is_bad_credentials(anon: QunzuClient) -> None:
    handle = unique_handle("wrongpw")
    await anon.register(handle, PASSWORD)
    err = await refused(anon.login(handle, "not the password"))
    assert (err.status, err.code) == (401, "bad_credentials")


async def test_login_with_an_unknown_handle_looks_like_a_wrong_password(
    anon: QunzuClient,
) -> None:
    err = await refused(anon.login(unique_handle("ghost"), PASSWORD))
    assert (err.status, err.code) == (401, "bad_credentials")
    err = await refused(anon.login("-not a handle-", PASSWORD))
    assert (err.status, err.code) == (401, "bad_credentials")


async def test_logout_revokes_the_token_used(alice: QunzuClient) -> None:
    token = alice.token
    assert token is not None
    await alice.logout()
    assert alice.token is None
    alice.token = token
    err = await refused(alice.me())
    assert (err.status, err.code) == (401, "token_revoked")


async def test_an_issued_token_works_and_is_listed(alice: QunzuClient) -> None:
    issued = await alice.issue_token("ci script")
    assert issued["token"].startswith("qz_") and issued["token"] != alice.token
    other = alice.with_token(issued["token"])
    assert (await other.me())["id"] == me(alice)["id"]
    listed = {t["id"]: t for t in await alice.tokens()}
    assert issued["token_id"] in listed
    assert listed[issued["token_id"]]["label"] == "ci script"
    assert listed[issued["token_id"]]["revoked_at"] is None


async def test_a_revoked_token_stops_working_and_shows_as_revoked(alice: QunzuClient) -> None:
    issued = await alice.issue_token("to revoke")
    await alice.revoke_token(issued["token_id"])
    err = await refused(alice.with_token(issued["token"]).me())
    assert (err.status, err.code) == (401, "token_revoked")
    listed = {t["id"]: t for t in await alice.tokens()}
    assert listed[issued["token_id"]]["revoked_at"] is not None
    assert (await alice.me())["handle"] == me(alice)["handle"]


async def test_revoking_a_token_twice_is_a_conflict(alice: QunzuClient) -> None:
    issued = await alice.issue_token("twice")
    await alice.revoke_token(issued["token_id"])
    err = await refused(alice.revoke_token(issued["token_id"]))
    assert (err.status, err.code) == (409, "token_already_revoked")


async def test_revoking_someone_elses_token_is_not_found(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    issued = await bob.issue_token("bob's")
    err = await refused(alice.revoke_token(issued["token_id"]))
    assert (err.status, err.code) == (404, "token_not_found")
    assert (await bob.with_token(issued["token"]).me())["id"] == me(bob)["id"]


async def test_a_request_without_a_token_is_token_missing(anon: QunzuClient) -> None:
    err = await refused(anon.me())
    assert (err.status, err.code) == (401, "token_missing")


@pytest.mark.parametrize("token", ["garbage", "qz_" + "A" * 43, "qz_" + "x" * 200])
async def test_a_garbage_token_is_token_invalid(server: ServerThread, token: str) -> None:
    async with QunzuClient(server.url, token) as client:
        err = await refused(client.me())
    assert (err.status, err.code) == (401, "token_invalid")
    assert err.problem["status"] == 401


async def test_a_401_names_the_bearer_scheme(anon: QunzuClient) -> None:
    response = await anon._http.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_a_token_past_its_lifetime_is_token_expired(clocked_server: ServerThread) -> None:
    client = await make_user(clocked_server.url, prefix="expiring")
    try:
        assert clocked_server.clock is not None
        ttl = clocked_server.settings.token_ttl_hours
        clocked_server.clock.advance(timedelta(hours=ttl - 1))
        assert (await client.me())["id"] == me(client)["id"]
        clocked_server.clock.advance(timedelta(hours=1, seconds=1))
        err = await refused(client.me())
        assert (err.status, err.code) == (401, "token_expired")
        # A new login gives a fresh token that works at the new time.
        await client.login(me(client)["handle"], PASSWORD)
        assert (await client.me())["id"] == me(client)["id"]
    finally:
        await client.aclose()


async def test_update_display_name_changes_the_public_profile(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    updated = await alice.update_me("  Alice   in  Wonderland ")
    assert updated["display_name"] == "Alice in Wonderland"
    handle = me(alice)["handle"]
    # The SDK's ``account`` attribute shadows its ``account()`` method on instances.
    seen = await bob.profile(handle)
    assert seen["display_name"] == "Alice in Wonderland"
    assert seen["identity_verified"] is True
    assert "platform_role" not in seen


async def test_update_display_name_refuses_control_characters(alice: QunzuClient) -> None:
    err = await refused(alice.update_me("bad\u0007name"))
    assert (err.status, err.code) == (400, "invalid_display_name")


async def test_public_profile_of_an_unknown_handle_is_not_found(alice: QunzuClient) -> None:
    err = await refused(alice.profile(unique_handle("nobody")))
    assert (err.status, err.code) == (404, "account_not_found")
