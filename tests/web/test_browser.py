"""The web app in a real browser: Debian's chromium driven by Playwright, two or more
people at once against a real server. Skipped, saying why, when there is no browser.

Accessibility: axe-core (vendored from npm, tests/web/vendor) runs on every page the
flows visit; no serious or critical violation is allowed. Every page is also watched
for script errors and Content-Security-Policy violations.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server import ServerThread
from tests.web.conftest import Browser as HttpBrowser

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SHOTS = os.environ.get("QUNZU_WEB_SCREENSHOTS")  # a directory: write screenshots there

try:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
    from playwright.sync_api import expect as _expect
except ImportError:  # pragma: no cover - the test extra is not installed
    sync_playwright = None  # type: ignore[assignment]

if sync_playwright is None:
    pytest.skip(
        "browser tests skipped: playwright is not installed (pip install -e '.[test]')",
        allow_module_level=True,
    )
if not CHROMIUM.exists():
    pytest.skip(
        "browser tests skipped: /usr/bin/chromium is missing (apt-get install chromium "
        "fonts-noto-cjk; .ci/run does this)",
        allow_module_level=True,
    )

expect = _expect
expect.set_options(timeout=10_000)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
    )
    yield browser
    browser.close()


class Person:
    """One person at one browser: a Playwright context with a signed-in session."""

    def __init__(self, chromium: Browser, web: ServerThread, http: HttpBrowser, **kw: Any):
        self.http = http
        self.web = web
        options: dict[str, Any] = {"locale": "zh-CN", "viewport": {"width": 1100, "height": 860}}
        options.update(kw)
        self.context: BrowserContext = chromium.new_context(**options)
        token = http.http.cookies.get("qz_session")
        if token:
            self.context.add_cookies([{"name": "qz_session", "value": token, "url": web.url}])
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(f"script error: {e}"))
        self.page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and ("Content Security Policy" in text or "Refused" in text):
            self.problems.append(f"CSP: {text}")

    def go(self, path: str) -> Page:
        self.page.goto(self.web.url + path)
        return self.page

    def check_accessibility(self) -> None:
        """axe-core on the current page: no serious or critical violation."""
        if not self.page.evaluate("() => typeof window.axe !== 'undefined'"):
            # Evaluated through the DevTools protocol, which the page's CSP does not govern.
            self.page.evaluate(AXE.read_text())
        result = self.page.evaluate(
            """async () => {
                const r = await axe.run(document, {resultTypes: ['violations']});
                return r.violations
                  .filter(v => v.impact === 'serious' || v.impact === 'critical')
                  .map(v => v.id + ': ' + v.help + ' @ ' +
                       v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '));
            }"""
        )
        assert not result, f"{self.page.url}: {result}"

    def shot(self, name: str) -> None:
        if SHOTS:
            self.page.wait_for_timeout(150)
            self.page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=False)

    def close(self) -> None:
        self.context.close()
        assert not self.problems, self.problems


@pytest.fixture
def people(chromium: Browser, web: ServerThread) -> Iterator[list[Person]]:
    made: list[Person] = []
    yield made
    for person in made:
        person.http.close()
    problems = []
    for person in made:
        try:
            person.close()
        except AssertionError as exc:
            problems.append(str(exc))
    assert not problems, problems


def join(
    chromium: Browser, web: ServerThread, made: list[Person], prefix: str, name: str, **kw: Any
) -> Person:
    http = HttpBrowser(web.url)
    http.sign_up(prefix, name=name)
    person = Person(chromium, web, http, **kw)
    made.append(person)
    return person


def group_with(owner: Person, *members: Person, name: str = "家人群", rules: str = "") -> int:
    gid = owner.http.create_group(name, rules=rules)
    for m in members:
        owner.http.get(f"/g/{gid}/manage")
        owner.http.post(f"/g/{gid}/manage/invite", {"handle": m.http.handle})
        invitation = re.search(r'action="/invitations/(\d+)/decline"', m.http.get("/").text)
        assert invitation
        m.http.get(f"/g/{gid}/info")
        m.http.post(
            f"/invitations/{invitation.group(1)}/accept", {"rules_version": "1" if rules else ""}
        )
    return gid


def seqs(page: Page) -> list[int]:
    return page.eval_on_selector_all(
        "#timeline li.entry[data-seq]", "els => els.map(e => +e.dataset.seq)"
    )


def send(page: Page, text: str) -> None:
    page.fill("#body", text)
    page.keyboard.press("Enter")


# ---- flows --------------------------------------------------------------------------------


def test_sign_up_verify_create_invite_and_both_see_each_other_live(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    # The first person does everything through the pages.
    anna = Person(chromium, web, HttpBrowser(web.url))
    people.append(anna)
    page = anna.go("/signup")
    anna.check_accessibility()
    anna.shot("signup-desktop")
    handle = f"anna{os.getpid() % 10000}"
    page.get_by_label("用户名").fill(handle)
    page.get_by_label("昵称").fill("安娜")
    page.get_by_label("密码", exact=True).fill("correct horse battery")
    page.get_by_label("再次输入密码").fill("correct horse battery")
    page.get_by_label("我已阅读并同意").check()
    page.get_by_role("button", name="同意协议并注册").click()
    expect(page).to_have_url(re.compile(r"/me/identity$"))
    anna.check_accessibility()
    page.get_by_label("真实姓名").fill("安娜")
    from tests.factories import valid_resident_id

    page.get_by_label("居民身份证号码").fill(valid_resident_id())
    page.get_by_label("手机号码").fill("13800138000")
    page.get_by_role("button", name="提交认证").click()
    expect(page.locator(".badge-verified").first).to_be_visible()
    anna.go("/groups/new")
    anna.check_accessibility()
    page.get_by_label("群名称").fill("周末读书会")
    page.get_by_label("群规", exact=True).fill("友善交流，不发广告。")
    page.get_by_role("button", name="创建").click()
    expect(page.locator("#timeline")).to_be_visible()
    gid = int(page.url.rsplit("/", 1)[1])

    ben = join(chromium, web, people, "ben", "Ben")
    anna.go(f"/g/{gid}/manage")
    anna.check_accessibility()
    page.get_by_label("邀请成员").fill(ben.http.handle)
    page.get_by_role("button", name="邀请", exact=True).click()
    expect(page.locator(".flash-ok")).to_contain_text("邀请已发送")

    bp = ben.go("/")
    expect(bp.get_by_text("你被邀请加入「周末读书会」")).to_be_visible()
    ben.check_accessibility()
    bp.get_by_role("link", name="查看并加入").click()
    expect(bp.get_by_text("友善交流，不发广告。")).to_be_visible()
    ben.check_accessibility()
    bp.get_by_label("我已阅读并同意群规").check()
    bp.get_by_role("button", name="接受邀请并加入").click()
    expect(bp.locator("#timeline")).to_be_visible()
    ben.check_accessibility()

    anna.go(f"/g/{gid}")
    send(page, "欢迎 Ben！")
    expect(bp.locator("#timeline .body", has_text="欢迎 Ben！")).to_have_count(1)
    send(bp, "谢谢，大家好")
    expect(page.locator("#timeline .body", has_text="谢谢，大家好")).to_have_count(1)
    assert seqs(bp) == sorted(set(seqs(bp)))
    anna.check_accessibility()


def test_a_send_while_offline_arrives_once_and_the_timeline_has_no_gap(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    amy = join(chromium, web, people, "amy", "Amy")
    bo = join(chromium, web, people, "bo", "Bo")
    gid = group_with(amy, bo, name="离线测试")
    ap, bp = amy.go(f"/g/{gid}"), bo.go(f"/g/{gid}")
    send(ap, "before")
    expect(bp.locator("#timeline .body", has_text="before")).to_have_count(1)

    bo.context.set_offline(True)
    send(bp, "sent while offline")
    expect(bp.locator("li.pending .pending-note")).to_contain_text("网络已断开")
    send(ap, "while Bo was away 1")
    send(ap, "while Bo was away 2")
    expect(ap.locator("#timeline .body", has_text="while Bo was away 2")).to_have_count(1)
    bp.wait_for_timeout(300)
    bo.context.set_offline(False)
    bp.evaluate("() => window.dispatchEvent(new Event('online'))")

    for text in ("sent while offline", "while Bo was away 1", "while Bo was away 2"):
        expect(bp.locator("#timeline li.entry .body", has_text=text)).to_have_count(1)
        expect(ap.locator("#timeline li.entry .body", has_text=text)).to_have_count(1)
    expect(bp.locator("li.pending")).to_have_count(0)
    for page in (ap, bp):
        got = seqs(page)
        assert got == list(range(got[0], got[0] + len(got))), got  # no gap, no repeat
    # And the server agrees: one copy of the offline message.
    stored = re.findall(r"sent while offline", bo.http.get(f"/g/{gid}").text)
    assert len(stored) == 1


def test_a_report_becomes_an_owner_notice_the_owner_removes_it_the_reporter_sees_it(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    olga = join(chromium, web, people, "olga", "Olga")
    sam = join(chromium, web, people, "sam", "Sam")
    rita = join(chromium, web, people, "rita", "Rita")
    gid = group_with(olga, sam, rita, name="小区群")
    sam.http.get(f"/g/{gid}")
    sam.http.post(f"/g/{gid}/send", {"body": "低价代办证件，加我", "client_txn_id": "ad-1"})

    rp = rita.go(f"/g/{gid}")
    bubble = rp.locator("li.entry", has_text="低价代办证件")
    bubble.locator("a.more").click()
    rita.check_accessibility()
    rp.get_by_role("link", name="举报消息").click()
    rita.check_accessibility()
    rp.get_by_label("垃圾广告").check()
    rp.get_by_label("补充说明（可选）").fill("广告")
    rp.get_by_role("button", name="提交举报").click()
    expect(rp.locator(".receipt").first).to_contain_text("回执 #")
    expect(rp.locator(".receipt").first).to_contain_text("等待群主处理")
    rita.check_accessibility()

    op = olga.go("/manage")
    notice = op.locator(".notice-card", has_text="低价代办证件")
    expect(notice).to_be_visible()
    expect(notice.locator("[data-countdown-to]")).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    olga.check_accessibility()
    olga.shot("dashboard-desktop")
    rp = rita.go(f"/g/{gid}")  # Rita watches the chat while the owner acts
    notice.get_by_label("理由").fill("广告")
    notice.get_by_role("button", name="移除").click()
    expect(op.locator(".flash-ok")).to_contain_text("消息已移除")
    expect(rp.locator("#timeline .body.removed").first).to_contain_text("此消息已被移除")
    expect(rp.locator("#timeline", has_text="低价代办证件")).to_have_count(0)
    rita.go("/me/reports")
    expect(rp.locator(".receipt").first).to_contain_text("群主已处理")


def test_new_rules_block_the_composer_until_accepted(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    owen = join(chromium, web, people, "owen", "Owen")
    mia = join(chromium, web, people, "mia", "Mia")
    gid = group_with(owen, mia, name="规则群", rules="第一版")
    mp = mia.go(f"/g/{gid}")
    send(mp, "我先说一句")
    expect(mp.locator("#timeline .body", has_text="我先说一句")).to_have_count(1)
    owen.http.get(f"/g/{gid}/manage")
    owen.http.post(f"/g/{gid}/manage/rules", {"text": "第二版：周末不刷屏"})
    gate = mp.locator(".rules-gate")
    expect(gate).to_contain_text("第二版：周末不刷屏")
    expect(mp.locator("#send-form")).to_have_count(0)
    mia.check_accessibility()
    gate.get_by_role("button", name="我已阅读并同意群规").click()
    expect(mp.locator("#send-form")).to_be_visible()
    send(mp, "同意了")
    expect(mp.locator("#timeline .body", has_text="同意了")).to_have_count(1)


def test_a_changed_group_notice_shows_on_open_pages_without_a_reload(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    owen = join(chromium, web, people, "nowen", "Owen")
    mia = join(chromium, web, people, "nmia", "Mia")
    gid = group_with(owen, mia, name="公告群")
    mp = mia.go(f"/g/{gid}")
    expect(mp.locator("#group-notice .group-notice")).to_have_count(0)
    mp.evaluate("() => { window.__sameDocument = true; }")
    owen.http.get(f"/g/{gid}/manage")
    owen.http.post(f"/g/{gid}/manage/notice", {"text": "周六上午十点开会 <b>准时</b>"})
    notice = mp.locator("#group-notice .group-notice p")
    expect(notice).to_have_text("周六上午十点开会 <b>准时</b>")
    owen.http.post(f"/g/{gid}/manage/notice", {"text": "改到周日"})
    expect(notice).to_have_text("改到周日")
    mia.check_accessibility()
    owen.http.post(f"/g/{gid}/manage/notice", {"text": ""})
    expect(mp.locator("#group-notice .group-notice")).to_have_count(0)
    assert mp.evaluate("() => window.__sameDocument") is True  # never reloaded


def test_refusals_are_shown_in_the_users_language_not_swallowed(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    owner = join(chromium, web, people, "slowo", "Slow Owner")
    eve = join(chromium, web, people, "slowe", "Eve", locale="en-GB")
    gid = group_with(owner, eve, name="慢速群")
    owner.http.get(f"/g/{gid}/manage")
    owner.http.post(f"/g/{gid}/manage/slow-mode", {"seconds": "30"})
    ep = eve.go(f"/g/{gid}")
    expect(ep.locator(".slow")).to_contain_text("Slow mode: one message every 30 s")
    send(ep, "first")
    expect(ep.locator("#timeline .body", has_text="first")).to_have_count(1)
    expect(ep.locator("#send-form button[type=submit]")).to_be_disabled()
    # Past the button (a second tab, a stale page): the server refuses and the page says why.
    ep.evaluate("() => document.querySelector('#send-form button').disabled = false")
    send(ep, "second")
    expect(ep.locator(".send-error")).to_contain_text("Slow mode: wait")
    expect(ep.locator("li.failed")).to_contain_text("Not sent")
    expect(ep.locator("#body")).to_have_value("second")
    eve.check_accessibility()


def test_the_language_switch_changes_every_page_and_sticks(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    lin = join(chromium, web, people, "lang", "Lin")
    page = lin.go("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    page.get_by_role("button", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="My groups")).to_be_visible()
    lin.go("/me/credit")
    expect(page.get_by_role("heading", name="Credit", exact=True)).to_be_visible()
    lin.check_accessibility()
    page.get_by_role("button", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")


def test_hostile_names_bodies_and_notices_never_run(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    payloads = [
        '<img src=x onerror="window.__xss=1">',
        "<script>window.__xss=2</script>",
        "\u202egnp.exe<svg onload=window.__xss=3>",
    ]
    owner = join(chromium, web, people, "xo", payloads[0])
    # Names (display and group) refuse bidirectional controls such as U+202E; bodies keep them.
    viewer = join(chromium, web, people, "xv", "<svg onload=window.__xss=4>")
    gid = group_with(owner, viewer, name=payloads[1])
    owner.http.get(f"/g/{gid}")
    for i, body in enumerate(payloads):
        owner.http.post(f"/g/{gid}/send", {"body": body, "client_txn_id": f"xss-{i}"})
    owner.http.get(f"/g/{gid}/manage")
    owner.http.post(f"/g/{gid}/manage/notice", {"text": payloads[1] + payloads[0]})
    dialogs: list[str] = []
    viewer.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    for path in ("/", f"/g/{gid}", f"/g/{gid}/info"):
        page = viewer.go(path)
        page.wait_for_timeout(200)
        assert page.evaluate("() => window.__xss") is None, path
    page = viewer.go(f"/g/{gid}")
    expect(
        page.locator("#timeline .body", has_text="<script>window.__xss=2</script>")
    ).to_be_visible()
    assert page.locator("#timeline img, #timeline svg, #timeline script").count() == 0
    # A live message takes the same path: the fragment is escaped by the server.
    owner.http.post(f"/g/{gid}/send", {"body": payloads[0] + " live", "client_txn_id": "xss-live"})
    expect(page.locator("#timeline .body", has_text="live")).to_have_count(1)
    assert page.evaluate("() => window.__xss") is None
    assert not dialogs


def test_the_main_pages_at_phone_width(
    chromium: Browser, web: ServerThread, people: list[Person]
) -> None:
    """375 px: nothing wider than the screen, and every page passes axe."""
    phone = {"viewport": {"width": 375, "height": 760}, "is_mobile": True, "has_touch": True}
    wang = join(chromium, web, people, "wang", "王芳", **phone)
    li = join(chromium, web, people, "lilei", "李雷")
    gid = group_with(wang, li, name="王家人", rules="家人群：互相尊重，不转发未经核实的消息。")
    li.http.get(f"/g/{gid}")
    for i, text in enumerate(("周日回家吃饭吗？", "回！我带水果。", "好，七点见")):
        who = li if i % 2 else wang
        who.http.get(f"/g/{gid}")
        who.http.post(f"/g/{gid}/send", {"body": text, "client_txn_id": f"phone-{i}"})
    for name, path in (
        ("home", "/"),
        ("timeline", f"/g/{gid}"),
        ("group-info", f"/g/{gid}/info"),
        ("manage", "/manage"),
        ("members", f"/g/{gid}/manage/members"),
        ("ledger", f"/g/{gid}/manage/ledger"),
        ("credit", "/me/credit"),
        ("identity", "/me/identity"),
        ("devices", "/me/devices"),
        ("discover", "/discover"),
    ):
        page = wang.go(path)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide at 375 px"
        wang.check_accessibility()
        wang.shot(f"{name}-phone")
    if SHOTS:
        desktop = Person(chromium, web, wang.http, viewport={"width": 1280, "height": 800})
        people.append(desktop)
        for name, path in (
            ("home", "/"),
            ("timeline", f"/g/{gid}"),
            ("members", f"/g/{gid}/manage/members"),
        ):
            desktop.go(path)
            desktop.shot(f"{name}-desktop")
