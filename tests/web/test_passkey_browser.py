"""A passkey ceremony in a real browser: Chromium's virtual authenticator (the DevTools
protocol's WebAuthn domain) registers a passkey from the security page through
static/passkey.js, then signs in with it alone and as the second step after a password.

The page is loaded as http://localhost:PORT: WebAuthn needs a secure context and a domain
for the relying party, and localhost is both."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from qunzu.domain.second_factor import RelyingParty
from tests.factories import PASSWORD, ctx_of
from tests.server import ServerThread, test_settings
from tests.web.test_browser import CHROMIUM, expect

try:
    from playwright.sync_api import Browser, sync_playwright
except ImportError:  # pragma: no cover - the test_browser module skips first
    pytest.skip("playwright is not installed", allow_module_level=True)

from tests.web.conftest import Browser as HttpBrowser


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerThread, str]]:
    thread = ServerThread(test_settings(tmp_path_factory.mktemp("qunzu-passkey"))).start()
    origin = f"http://localhost:{thread.port}"
    ctx_of(thread).relying_party = RelyingParty("localhost", "qunzu", origin)
    yield thread, origin
    thread.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


AUTHENTICATOR: dict[str, Any] = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


def test_a_virtual_authenticator_registers_a_passkey_and_signs_in_with_it(
    site: tuple[ServerThread, str], chromium: Browser
) -> None:
    _, origin = site
    http = HttpBrowser(origin)
    handle = http.sign_up("pk", verify=False)
    token = http.http.cookies.get("qz_session")
    http.close()
    context = chromium.new_context(locale="en")
    context.add_cookies([{"name": "qz_session", "value": token, "url": origin}])
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})

    page.goto(origin + "/me/security")
    page.fill("#passkey-label", "virtual key")
    page.click("#passkey-register")
    expect(page.locator("#passkey-codes li")).to_have_count(10)
    creds = cdp.send("WebAuthn.getCredentials", {"authenticatorId": added["authenticatorId"]})
    assert len(creds["credentials"]) == 1 and creds["credentials"][0]["isResidentCredential"]

    # Passwordless: a discoverable passkey, no handle typed.
    context.clear_cookies()
    page.goto(origin + "/login")
    page.click("#passkey-login")
    page.wait_for_url(origin + "/**")
    expect(page.locator("#passkey-login")).to_have_count(0)
    assert any(c["name"] == "qz_session" for c in context.cookies())

    # Password, then the passkey as the second step.
    context.clear_cookies()
    page.goto(origin + "/login")
    page.fill("#handle", handle)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator("input[name=challenge]")).to_have_count(1)
    page.click("#passkey-login")
    page.wait_for_url(lambda url: "/login" not in url)
    assert any(c["name"] == "qz_session" for c in context.cookies())
    context.close()
    assert not problems, problems
