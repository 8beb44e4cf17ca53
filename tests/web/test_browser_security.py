"""Changing and resetting a password, and the device list, in Chromium (Playwright)."""

# ruff: noqa: F811  (the browser fixtures are imported from test_browser and requested here)

from __future__ import annotations

from tests.factories import PASSWORD, ctx_of
from tests.server import ServerThread
from tests.web.test_browser import (  # noqa: F401  (fixtures)
    Browser,
    Person,
    chromium,
    expect,
    join,
    people,
    playwright,
)

NEW = "a much better passphrase"


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))

    def code(self) -> str:
        return self.sent[-1][1].split("code is ")[1][:6]


def log_in(chromium: Browser, web: ServerThread, handle: str, password: str) -> str:
    """Log in from a fresh browser; the path it lands on."""
    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(web.url + "/login")
    page.fill("#handle", handle)
    page.fill("#password", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()
    path = page.url.removeprefix(web.url)
    context.close()
    return path


def test_change_the_password_signing_out_other_devices(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    alice = join(chromium, web, people, "pwchange", "Alice")
    log_in(chromium, web, alice.http.handle, PASSWORD)  # another device
    page = alice.go("/me")
    page.click("a[href='/me/password']")
    alice.check_accessibility()
    page.fill("#current_password", PASSWORD)
    page.fill("#new_password", NEW)
    page.fill("#new_password2", NEW)
    page.check("input[name=revoke_others]")
    page.click("form[action='/me/password'] button[type=submit]")
    expect(page.locator(".flash-ok")).to_contain_text("密码已修改")
    alice.go("/me/devices")
    assert page.locator("form[action$='/revoke']").count() == 1  # only this device is live
    assert not log_in(chromium, web, alice.http.handle, NEW).startswith("/login")
    assert log_in(chromium, web, alice.http.handle, PASSWORD).startswith("/login")


def test_a_wrong_current_password_is_refused_and_says_why(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    bob = join(chromium, web, people, "pwwrong", "Bob")
    page = bob.go("/me/password")
    page.fill("#current_password", "not my password")
    page.fill("#new_password", NEW)
    page.fill("#new_password2", NEW)
    page.click("form[action='/me/password'] button[type=submit]")
    expect(page.locator(".flash-error")).to_contain_text("当前密码不正确")


def test_reset_a_forgotten_password_with_the_code_from_the_sms(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    outbox = Outbox()
    ctx_of(web).sms = outbox
    carol = join(chromium, web, people, "pwreset", "Carol")
    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(web.url + "/login")
    page.click("a[href='/password/forgot']")
    page.fill("#handle", carol.http.handle)
    page.click("form[action='/password/forgot'] button[type=submit]")
    expect(page.locator(".flash-ok")).to_contain_text("验证码已发出")
    assert outbox.sent[-1][0] == "13800138000"
    expect(page.locator("#handle")).to_have_value(carol.http.handle)
    page.fill("#code", outbox.code())
    page.fill("#new_password", NEW)
    page.fill("#new_password2", NEW)
    page.click("form[action='/password/reset'] button[type=submit]")
    expect(page.locator(".flash-ok")).to_contain_text("新密码已设置")
    assert page.url.startswith(web.url + "/login")
    context.close()
    assert not log_in(chromium, web, carol.http.handle, NEW).startswith("/login")


def test_the_device_list_shows_last_use_and_signs_out_the_others(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    dana = join(chromium, web, people, "pwdev", "Dana")
    log_in(chromium, web, dana.http.handle, PASSWORD)  # a second device
    page = dana.go("/me/devices")
    expect(page.locator("body")).to_contain_text("最近使用")
    expect(page.locator("body")).to_contain_text("127.0.0.1")
    dana.check_accessibility()
    page.click("form[action='/me/devices/revoke-others'] button")
    expect(page.locator(".flash-ok")).to_contain_text("其他设备均已退出登录")
    assert page.locator("form[action$='/revoke']").count() == 1  # only this device left
