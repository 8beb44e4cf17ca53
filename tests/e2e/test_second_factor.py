"""Second factors over HTTP against a real server on a frozen clock: TOTP enrolment, the
two-step log-in, recovery codes, backoff (429 with Retry-After), passkeys by a software
authenticator (no browser), the staff rule, and bad input on every route."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from qunzu.client import QunzuClient
from qunzu.crypto import otp
from qunzu.domain.models import PlatformRole
from tests.e2e.test_bad_input import assert_problem
from tests.factories import PASSWORD, People, clock_of, ctx_of, me, platform_user
from tests.server import ServerThread
from tests.softauthn import SoftAuthenticator


def _code(server: ServerThread, secret: str, step: int = 1) -> str:
    """The app's code ``step`` time steps on (the clock moves there)."""
    clock_of(server).advance(timedelta(seconds=30 * step))
    return otp.code_at(secret, clock_of(server).now())


def _bearer(client: QunzuClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.token}"}


async def _enrolled(people: People) -> tuple[QunzuClient, str, list[str]]:
    client = await people.user("sf")
    server = people.server
    started = await client.start_totp("phone")
    assert started["qr_svg"].startswith("<svg")
    assert started["otpauth_uri"].startswith("otpauth://totp/")
    code = otp.code_at(started["secret"], clock_of(server).now())
    done = await client.confirm_totp(started["factor_id"], code)
    assert len(done["recovery_codes"]) == 10
    return client, started["secret"], done["recovery_codes"]


async def _post(server: ServerThread, path: str, body: Any, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as raw:
        return await raw.post(path, json=body, **kw)


async def _login(server: ServerThread, handle: str) -> httpx.Response:
    return await _post(server, "/v1/sessions", {"handle": handle, "password": PASSWORD})


async def test_log_in_takes_two_steps_once_a_factor_is_enrolled(
    clocked_server: ServerThread, people: People
) -> None:
    client, secret, _ = await _enrolled(people)
    first = await _login(clocked_server, me(client)["handle"])
    assert first.status_code == 202
    body = first.json()
    assert "token" not in body and body["second_factor_required"] is True
    assert body["methods"] == ["totp", "recovery_code"]
    second = await _post(
        clocked_server,
        "/v1/sessions/second-factor",
        {"challenge": body["challenge"], "code": _code(clocked_server, secret)},
    )
    assert second.status_code == 201, second.text
    assert second.json()["account"]["handle"] == me(client)["handle"]
    assert (await client.security())["second_factor"] is True


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("wrong", 401, "wrong_code"),
        ("replayed", 401, "code_already_used"),
        ("expired", 410, "challenge_expired"),
        ("reused", 410, "challenge_used"),
        ("unknown", 401, "challenge_invalid"),
        ("malformed", 400, "invalid_code"),
        ("both", 400, "proof_required"),
    ],
)
async def test_the_second_step_refuses_bad_codes_and_challenges(
    clocked_server: ServerThread, people: People, case: str, status: int, code: str
) -> None:
    client, secret, codes = await _enrolled(people)
    handle = me(client)["handle"]
    challenge = (await _login(clocked_server, handle)).json()["challenge"]
    now_code = otp.code_at(secret, clock_of(clocked_server).now())
    body: dict[str, Any] = {"challenge": challenge, "code": now_code}
    if case == "wrong":
        body["code"] = f"{(int(now_code) + 1) % 1_000_000:06d}"
    elif case == "expired":
        seconds = ctx_of(clocked_server).second_factor.challenge_seconds
        clock_of(clocked_server).advance(timedelta(seconds=seconds + 1))
        body["code"] = otp.code_at(secret, clock_of(clocked_server).now())
    elif case == "reused":
        body["code"] = _code(clocked_server, secret)
        ok = await _post(clocked_server, "/v1/sessions/second-factor", body)
        assert ok.status_code == 201
        body["code"] = _code(clocked_server, secret)
    elif case == "unknown":
        body["challenge"] = "qzc_" + "x" * 43
    elif case == "malformed":
        body["code"] = "12 45a"
    elif case == "both":
        body["recovery_code"] = codes[0]
    response = await _post(clocked_server, "/v1/sessions/second-factor", body)
    assert_problem(response, status, code)


async def test_a_recovery_code_signs_in_once(clocked_server: ServerThread, people: People) -> None:
    client, _, codes = await _enrolled(people)
    handle = me(client)["handle"]
    for expected, ending in ((201, None), (401, "wrong_recovery_code")):
        challenge = (await _login(clocked_server, handle)).json()["challenge"]
        body = {"challenge": challenge, "recovery_code": codes[3]}
        response = await _post(clocked_server, "/v1/sessions/second-factor", body)
        if ending is None:
            assert response.status_code == expected
        else:
            assert_problem(response, expected, ending)
    assert (await client.security())["recovery_codes_left"] == 9


async def test_wrong_codes_in_a_row_get_429_with_retry_after(
    clocked_server: ServerThread, people: People
) -> None:
    client, secret, _ = await _enrolled(people)
    challenge = (await _login(clocked_server, me(client)["handle"])).json()["challenge"]
    body = {"challenge": challenge, "code": "000000"}
    free = ctx_of(clocked_server).second_factor.free_failures
    statuses = [
        (await _post(clocked_server, "/v1/sessions/second-factor", body)).status_code
        for _ in range(free + 1)
    ]
    assert statuses == [401] * free + [429]
    body["code"] = otp.code_at(secret, clock_of(clocked_server).now())
    refused = await _post(clocked_server, "/v1/sessions/second-factor", body)
    problem = assert_problem(refused, 429, "second_factor_throttled")
    assert int(refused.headers["retry-after"]) == problem["retry_after"] > 0


async def test_regenerating_and_removing_need_a_proof(
    clocked_server: ServerThread, people: People
) -> None:
    client, secret, old = await _enrolled(people)
    response = await _post(
        clocked_server, "/v1/me/recovery-codes", {"password": "wrong!"}, headers=_bearer(client)
    )
    assert_problem(response, 401, "wrong_password")
    new = await client.regenerate_recovery_codes(password=PASSWORD)
    assert len(new) == 10 and not set(new) & set(old)
    factor = (await client.security())["factors"][0]
    response = await _post(
        clocked_server, f"/v1/me/second-factors/{factor['id']}/remove", {}, headers=_bearer(client)
    )
    assert_problem(response, 400, "proof_required")
    await client.remove_factor(factor["id"], code=_code(clocked_server, secret))
    assert (await _login(clocked_server, me(client)["handle"])).status_code == 201


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/me/second-factors/totp", {"label": "a\u202eb"}, 422, "validation_error"),
        ("/v1/me/second-factors/totp", {"label": "x" * 65}, 422, "validation_error"),
        ("/v1/me/second-factors/totp/999999/confirm", {"code": "123456"}, 404, "factor_not_found"),
        ("/v1/me/second-factors/totp/1/confirm", {"code": "1" * 17}, 422, "validation_error"),
        ("/v1/me/second-factors/999999/remove", {"password": PASSWORD}, 404, "factor_not_found"),
        ("/v1/me/recovery-codes", {"password": PASSWORD}, 409, "no_second_factor"),
        ("/v1/me/passkeys", {"challenge": "qzc_x", "credential": {}}, 401, "challenge_invalid"),
        ("/v1/sessions/passkey", {"challenge": "c", "credential": {}}, 401, "challenge_invalid"),
        (
            "/v1/sessions/second-factor",
            {"challenge": "x" * 129, "code": "1"},
            422,
            "validation_error",
        ),
        ("/v1/sessions/second-factor", {"challenge": "qzc_x", "extra": 1}, 422, "validation_error"),
    ],
)
async def test_bad_input_on_the_second_factor_routes_is_a_problem(
    clocked_server: ServerThread,
    people: People,
    path: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    client = await people.user("bad")
    response = await _post(clocked_server, path, body, headers=_bearer(client))
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code


async def test_enrolment_routes_need_a_token(clocked_server: ServerThread) -> None:
    response = await _post(clocked_server, "/v1/me/second-factors/totp", {})
    assert_problem(response, 401, "token_missing")


# ---- passkeys, with a software authenticator -------------------------------------------


async def _passkey(server: ServerThread, client: QunzuClient) -> SoftAuthenticator:
    key = SoftAuthenticator(origin=ctx_of(server).relying_party.origin)
    opts = await _post(server, "/v1/me/passkeys/options", {}, headers=_bearer(client))
    assert opts.status_code == 200, opts.text
    made = opts.json()
    assert made["options"]["rp"]["id"] == ctx_of(server).relying_party.id
    body = {"challenge": made["challenge"], "credential": key.create(made["options"])}
    done = await _post(server, "/v1/me/passkeys", body, headers=_bearer(client))
    assert done.status_code == 201, done.text
    assert done.json()["factor"]["kind"] == "passkey"
    return key


async def test_a_passkey_is_a_second_factor_and_signs_in_alone(
    clocked_server: ServerThread, people: People
) -> None:
    client = await people.user("pk")
    key = await _passkey(clocked_server, client)
    challenge = (await _login(clocked_server, me(client)["handle"])).json()["challenge"]
    opts = await _post(clocked_server, "/v1/sessions/passkey/options", {"challenge": challenge})
    body = {"challenge": challenge, "credential": key.get(opts.json()["options"])}
    done = await _post(clocked_server, "/v1/sessions/passkey", body)
    assert done.status_code == 201, done.text
    # Passwordless: no handle, no password, a discoverable passkey.
    opts = await _post(clocked_server, "/v1/sessions/passkey/options", {})
    made = opts.json()
    body = {"challenge": made["challenge"], "credential": key.get(made["options"])}
    done = await _post(clocked_server, "/v1/sessions/passkey", body)
    assert done.json()["account"]["handle"] == me(client)["handle"]
    # The counter going back (a cloned key) is refused.
    made = (await _post(clocked_server, "/v1/sessions/passkey/options", {})).json()
    body = {"challenge": made["challenge"], "credential": key.get(made["options"], count=1)}
    refused = await _post(clocked_server, "/v1/sessions/passkey", body)
    assert_problem(refused, 401, "passkey_refused")


async def test_a_garbled_passkey_registration_is_a_400(
    clocked_server: ServerThread, people: People
) -> None:
    client = await people.user("pk")
    made = (
        await _post(clocked_server, "/v1/me/passkeys/options", {}, headers=_bearer(client))
    ).json()
    credential = SoftAuthenticator().create(made["options"])
    credential["response"]["attestationObject"] = "AAAA"
    body = {"challenge": made["challenge"], "credential": credential}
    refused = await _post(clocked_server, "/v1/me/passkeys", body, headers=_bearer(client))
    assert_problem(refused, 400, "passkey_refused")


# ---- platform staff --------------------------------------------------------------------


async def test_staff_without_a_second_factor_get_403_on_platform_routes_but_can_enrol(
    clocked_server: ServerThread, people: People
) -> None:
    staff = await platform_user(clocked_server, PlatformRole.reviewer)
    people.clients.append(staff)
    assert (await staff.security())["second_factor"] is True
    factor = (await staff.security())["factors"][0]
    await staff.remove_factor(factor["id"], password=PASSWORD)
    async with httpx.AsyncClient(base_url=clocked_server.url, timeout=30) as raw:
        refused = await raw.get("/v1/platform/cases", headers=_bearer(staff))
    assert_problem(refused, 403, "second_factor_required")
    started = await staff.start_totp()
    code = otp.code_at(started["secret"], clock_of(clocked_server).now())
    await staff.confirm_totp(started["factor_id"], code)
    async with httpx.AsyncClient(base_url=clocked_server.url, timeout=30) as raw:
        allowed = await raw.get("/v1/platform/cases", headers=_bearer(staff))
    assert allowed.status_code == 200, allowed.text
