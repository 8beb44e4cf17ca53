"""Security of the pages: headers, CSRF, session cookies, escaping, the event socket."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.server import ServerThread
from tests.web.conftest import Browser

WEB = Path(__file__).parents[2] / "src" / "qunzu" / "web"
NewBrowser = Callable[..., Browser]


def csp(response: object) -> str:
    return str(response.headers["content-security-policy"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/", "/login", "/signup", "/static/app.js", "/docs"])
def test_pages_and_their_files_carry_a_strict_policy(new_browser: NewBrowser, path: str) -> None:
    response = new_browser().get(path)
    assert response.status_code == 200
    policy = csp(response)
    script_src = re.search(r"script-src ([^;]*)", policy)
    assert script_src and script_src.group(1).strip() == "'self'"
    assert "frame-ancestors 'none'" in policy
    assert "default-src 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_the_api_is_left_without_page_headers(new_browser: NewBrowser) -> None:
    response = new_browser().get("/healthz")
    assert response.status_code == 200
    assert "content-security-policy" not in response.headers


def test_no_template_holds_inline_script_style_or_event_handlers() -> None:
    for template in (WEB / "templates").glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert not re.search(r"<style\b", text), template.name
        assert not re.search(r"\sstyle=", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    new_browser: NewBrowser,
) -> None:
    alice = new_browser()
    alice.sign_up("csrf", name="Alice")
    refused = alice.post("/me/profile", {"display_name": "Mallory"}, csrf="")
    assert refused.status_code == 403
    assert "表单已过期" in refused.text
    assert "Mallory" not in alice.get("/me").text


def test_a_csrf_token_of_another_session_is_refused(new_browser: NewBrowser) -> None:
    alice, mallory = new_browser(), new_browser()
    alice.sign_up("victim", name="Alice")
    mallory.sign_up("attacker", name="Mallory")
    token_of_mallory = mallory.csrf("/me")
    refused = alice.post("/me/profile", {"display_name": "Owned"}, csrf=token_of_mallory)
    assert refused.status_code == 403
    assert "Owned" not in alice.get("/me").text


def test_the_session_cookie_is_http_only_and_same_site_lax(new_browser: NewBrowser) -> None:
    b = new_browser()
    b.sign_up("cookie")
    b.post("/logout", follow=False)
    b.get("/login")
    response = b.post(
        "/login", {"handle": b.handle, "password": "correct horse battery"}, follow=False
    )
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("qz_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP here


def test_behind_https_the_session_cookie_is_secure(new_browser: NewBrowser) -> None:
    b = new_browser()
    b.sign_up("secure")
    b.post("/logout", follow=False)
    b.http.headers["x-forwarded-proto"] = "https"
    b.get("/login")
    response = b.post(
        "/login", {"handle": b.handle, "password": "correct horse battery"}, follow=False
    )
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("qz_session="))
    assert "Secure" in cookie


def test_the_web_session_is_a_device_and_revoking_it_signs_out(new_browser: NewBrowser) -> None:
    b = new_browser()
    b.sign_up("device")
    page = b.get("/me/devices").text
    assert "web · " in page and "当前设备" in page
    token_id = re.search(r'action="/me/devices/(\d+)/revoke"', page)
    assert token_id
    b.post(f"/me/devices/{token_id.group(1)}/revoke", follow=False)
    after = b.get("/me", follow=False)
    assert after.status_code == 303
    assert after.headers["location"].startswith("/login")


def test_logging_out_revokes_the_session_token(new_browser: NewBrowser) -> None:
    b = new_browser()
    b.sign_up("logout")
    token = b.http.cookies.get("qz_session")
    b.post("/logout", follow=False)
    stale = Browser(b.http.base_url.__str__())
    stale.http.cookies.set("qz_session", token or "")
    assert stale.get("/me", follow=False).status_code == 303
    stale.close()


def test_user_strings_are_escaped_wherever_they_appear(new_browser: NewBrowser) -> None:
    evil_name = '<img src=x onerror="alert(1)">'
    evil_group = "<script>alert('g')</script>"
    evil_body = "<script>alert('m')</script>\u202egnp.exe"
    owner = new_browser()
    owner.sign_up("xss", name=evil_name)
    gid = owner.create_group(evil_group)
    owner.get(f"/g/{gid}")
    sent = owner.post(f"/g/{gid}/send", {"body": evil_body, "client_txn_id": "xss-1"})
    assert sent.status_code == 200
    owner.get(f"/g/{gid}/manage")
    owner.post(f"/g/{gid}/manage/notice", {"text": evil_body})
    for path in ("/", f"/g/{gid}", f"/g/{gid}/info", f"/g/{gid}/manage", "/manage", "/me"):
        html = owner.get(path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "&lt;script&gt;" in html or "&lt;img" in html, path
    timeline = owner.get(f"/g/{gid}").text
    # The name is isolated from the text around it, the body runs in its own direction.
    assert '<bdi class="name"' in timeline
    assert 'class="body" dir="auto"' in timeline


def test_the_event_socket_takes_the_session_cookie_from_this_site_only(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    b = new_browser()
    b.sign_up("socket")
    cookie = f"qz_session={b.http.cookies.get('qz_session')}"
    url = web.url.replace("http://", "ws://") + "/web/events"
    host = web.url.removeprefix("http://")
    with connect(url, additional_headers={"Origin": f"http://{host}", "Cookie": cookie}) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "ready"
    with connect(url, additional_headers={"Origin": "http://evil.example", "Cookie": cookie}) as ws:
        frame = json.loads(ws.recv(timeout=10))
        assert (frame["type"], frame["code"]) == ("error", "token_missing")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
