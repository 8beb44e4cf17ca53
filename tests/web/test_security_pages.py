"""The account security pages without JavaScript: enrol an authenticator app from the QR
page, see the recovery codes once, then log in in two steps (a code or a recovery code)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from qunzu.crypto import otp
from tests.factories import PASSWORD
from tests.server import ServerThread
from tests.web.conftest import Browser

_SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')
_CODE = re.compile(r"<li><code>([0-9A-Z]{5}-[0-9A-Z]{5})</code></li>")
_CHALLENGE = re.compile(r'name="challenge" value="(qzc_[^"]+)"')


def _enrol(b: Browser) -> tuple[str, list[str]]:
    b.get("/me/security")
    page = b.post("/me/security/totp", {"label": "phone"})
    assert page.status_code == 200
    assert '<div class="qr" id="totp-qr"><svg' in page.text
    secret = _SECRET.search(page.text)
    assert secret
    action = re.search(r'action="(/me/security/totp/\d+/confirm)"', page.text)
    assert action
    code = otp.code_at(secret.group(1), datetime.now(UTC))
    done = b.post(action.group(1), {"code": code})
    codes = _CODE.findall(done.text)
    assert len(codes) == 10, done.text[:800]
    return secret.group(1), codes


def _password_step(web: ServerThread, handle: str) -> tuple[Browser, str]:
    b = Browser(web.url)
    b.get("/login")
    page = b.post("/login", {"handle": handle, "password": PASSWORD})
    assert page.status_code == 200
    challenge = _CHALLENGE.search(page.text)
    assert challenge, page.text[:800]
    assert "qz_session" not in b.http.cookies
    return b, challenge.group(1)


def test_enrolling_shows_the_qr_and_the_codes_once_then_log_in_takes_a_recovery_code(
    web: ServerThread,
) -> None:
    owner = Browser(web.url)
    handle = owner.sign_up("sec")
    _, codes = _enrol(owner)
    again = owner.get("/me/security")
    assert codes[0] not in again.text  # shown once
    assert "10" in again.text
    b, challenge = _password_step(web, handle)
    done = b.post(
        "/login/second-factor", {"challenge": challenge, "recovery_code": codes[0], "next": "/"}
    )
    assert done.status_code == 200
    assert "qz_session" in b.http.cookies
    b.close()
    owner.close()


def test_a_wrong_code_shows_the_second_step_again_with_the_reason(web: ServerThread) -> None:
    owner = Browser(web.url)
    handle = owner.sign_up("sec", name="Sec", verify=False)
    _enrol(owner)
    b, challenge = _password_step(web, handle)
    page = b.post("/login/second-factor", {"challenge": challenge, "code": "000000"})
    assert page.status_code == 401
    assert challenge in page.text
    assert "qz_session" not in b.http.cookies
    b.close()
    owner.close()


def test_the_security_page_is_linked_from_me_and_needs_a_session(web: ServerThread) -> None:
    b = Browser(web.url)
    assert b.get("/me/security", follow=False).status_code == 303
    b.sign_up("sec", verify=False)
    assert 'href="/me/security"' in b.get("/me").text
    b.close()
