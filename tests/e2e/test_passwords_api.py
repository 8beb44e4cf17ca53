"""Password change and reset, officer reset and signing out elsewhere, over HTTP against
a real server, with the bad inputs of each route."""

from __future__ import annotations

from typing import Any

import pytest

from qunzu.client import QunzuClient
from qunzu.domain.models import PlatformRole
from tests.factories import PASSWORD, People, account_id, crowd, ctx_of, me, refused
from tests.server import ServerThread

NEW = "a much better passphrase"
people = crowd("server")


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))

    def code(self) -> str:
        return self.sent[-1][1].split("code is ")[1][:6]


@pytest.fixture
def outbox(server: ServerThread) -> Outbox:
    box = Outbox()
    ctx_of(server).sms = box
    return box


async def post(client: QunzuClient, path: str, body: Any) -> Any:
    return await client.request("POST", path, json=body)


async def test_change_password_then_log_in_with_the_new_one(people: People) -> None:
    alice = await people.user("pw")
    r = await post(
        alice,
        "/v1/me/password",
        {"current_password": PASSWORD, "new_password": NEW, "revoke_other_sessions": True},
    )
    assert r.json() == {"revoked_sessions": 0}
    await alice.login(me(alice)["handle"], NEW)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"current_password": "wrong one!", "new_password": NEW}, 400, "bad_current_password"),
        ({"current_password": PASSWORD, "new_password": "short"}, 400, "weak_password"),
        ({"current_password": PASSWORD, "new_password": "password123"}, 400, "common_password"),
        ({"current_password": PASSWORD, "new_password": "x" * 300}, 422, "validation_error"),
        ({"current_password": PASSWORD}, 422, "validation_error"),
        ({"current_password": PASSWORD, "new_password": NEW, "extra": 1}, 422, None),
    ],
)
async def test_change_password_refuses_bad_input(
    people: People, body: dict[str, Any], status: int, code: str | None
) -> None:
    alice = await people.user("pw")
    error = await refused(post(alice, "/v1/me/password", body))
    assert error.status == status
    if code is not None:
        assert error.code == code


async def test_change_password_needs_a_session(people: People) -> None:
    body = {"current_password": PASSWORD, "new_password": NEW}
    error = await refused(post(people.anonymous(), "/v1/me/password", body))
    assert error.status == 401


async def test_reset_by_code_sets_the_password_and_the_code_works_once(
    people: People, outbox: Outbox
) -> None:
    alice = await people.user("pw")
    anon = people.anonymous()
    handle = me(alice)["handle"]
    r = await post(anon, "/v1/password-resets", {"handle": handle})
    assert r.status_code == 202
    body = {"handle": handle, "code": outbox.code(), "new_password": NEW}
    assert (await post(anon, "/v1/password-resets/confirm", body)).status_code == 204
    assert (await refused(alice.me())).code == "token_revoked"  # every session ended
    error = await refused(post(anon, "/v1/password-resets/confirm", body))
    assert (error.status, error.code) == (400, "reset_code_invalid")
    await alice.login(handle, NEW)


async def test_a_reset_for_an_unknown_handle_answers_as_for_a_known_one(
    people: People, outbox: Outbox
) -> None:
    r = await post(people.anonymous(), "/v1/password-resets", {"handle": "no_such_user_x"})
    assert r.status_code == 202
    assert outbox.sent == []


@pytest.mark.parametrize(
    "body",
    [{}, {"handle": ""}, {"handle": "a" * 100}, {"handle": "x\u202e"}, {"handle": 5}],
)
async def test_reset_request_refuses_malformed_bodies(people: People, body: Any) -> None:
    error = await refused(post(people.anonymous(), "/v1/password-resets", body))
    assert error.status in (400, 422)


async def test_reset_confirm_refuses_a_wrong_code_and_a_weak_password(
    people: People, outbox: Outbox
) -> None:
    alice = await people.user("pw")
    anon = people.anonymous()
    handle = me(alice)["handle"]
    await post(anon, "/v1/password-resets", {"handle": handle})
    wrong = f"{(int(outbox.code()) + 1) % 10**6:06d}"
    body = {"handle": handle, "code": wrong, "new_password": NEW}
    assert (await refused(post(anon, "/v1/password-resets/confirm", body))).code == (
        "reset_code_invalid"
    )
    body = {"handle": handle, "code": outbox.code(), "new_password": "short"}
    assert (await refused(post(anon, "/v1/password-resets/confirm", body))).code == (
        "weak_password"
    )
    body = {"handle": handle, "code": "1" * 40, "new_password": NEW}
    assert (await refused(post(anon, "/v1/password-resets/confirm", body))).status == 422


async def test_reset_codes_per_number_are_limited_with_429_and_retry_after(
    people: People, outbox: Outbox
) -> None:
    # Every test account has the same mobile number: count from wherever it stands.
    alice = await people.user("pw")
    anon = people.anonymous()
    body = {"handle": me(alice)["handle"]}
    answers = [await anon._http.post("/v1/password-resets", json=body) for _ in range(6)]
    response = answers[-1]
    assert [r.status_code for r in answers].count(202) <= 4
    assert response.status_code == 429
    assert response.json()["code"] == "reset_throttled"
    assert int(response.headers["retry-after"]) > 0


async def test_officer_reset_gives_a_one_time_password_and_needs_admin(people: People) -> None:
    admin = await people.staff(PlatformRole.admin)
    reviewer = await people.staff(PlatformRole.reviewer)
    alice = await people.user("pw")
    path = f"/v1/platform/accounts/{account_id(alice)}/password-reset"
    reason = {"reason": "lost phone; identity checked in person"}
    assert (await refused(post(reviewer, path, reason))).status == 403
    assert (await refused(post(admin, path, {"reason": "x"}))).code == "reason_required"
    own = f"/v1/platform/accounts/{account_id(admin)}/password-reset"
    assert (await refused(post(admin, own, reason))).code == "officer_self_action"
    missing = "/v1/platform/accounts/999999999/password-reset"
    assert (await refused(post(admin, missing, reason))).status == 404
    temporary = (await post(admin, path, reason)).json()["temporary_password"]
    await alice.login(me(alice)["handle"], temporary)


async def test_revoke_others_keeps_this_session_only(people: People) -> None:
    alice = await people.user("pw")
    other = QunzuClient(alice.base_url)
    await other.login(me(alice)["handle"], PASSWORD)
    r = await post(alice, "/v1/me/tokens/revoke-others", None)
    assert r.json()["revoked"] >= 1
    assert (await refused(other.me())).code == "token_revoked"
    await alice.me()
    await other.aclose()


async def test_the_token_list_shows_kind_address_and_last_use(people: People) -> None:
    alice = await people.user("pw")
    tokens = (await alice.request("GET", "/v1/me/tokens")).json()
    assert {t["kind"] for t in tokens} == {"api"}
    assert all(t["address"] == "127.0.0.1" and t["last_used_at"] for t in tokens)
