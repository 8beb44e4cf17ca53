"""The console in a real browser (Debian's chromium through Playwright): a report filed in
the member pages is claimed and decided in the console, the member reads the statement of
reasons and appeals, a senior reviewer overturns, and the member's credit shows the
reversal; a reviewer opening a family group's case finds no other message of that group
in the page. axe-core runs on every console and public page. Skipped without a browser
(tests/web/test_browser.py says why)."""

from __future__ import annotations

import re

from qunzu.domain.models import PlatformRole
from tests.server import ServerThread
from tests.web.conftest import Browser as HttpBrowser
from tests.web.test_browser import (  # noqa: F401 - the fixtures
    Browser,
    Person,
    chromium,
    expect,
    group_with,
    join,
    people,
    playwright,
)
from tests.web.test_console import staff


def officer(browser: Browser, web: ServerThread, made: list[Person], role: PlatformRole) -> Person:
    http = staff(web, HttpBrowser(web.url), role)
    person = Person(browser, web, http)
    made.append(person)
    return person


def report_in_browser(reporter: Person, gid: int, body: str) -> None:
    rp = reporter.go(f"/g/{gid}")
    rp.locator("li.entry", has_text=body).locator("a.more").click()
    rp.get_by_role("link", name="举报消息").click()
    rp.get_by_label("危及生命安全").check()
    rp.get_by_role("button", name="提交举报").click()
    expect(rp.locator(".receipt").first).to_contain_text("回执 #")


def test_report_decide_appeal_overturn_and_the_credit_is_reversed(
    chromium: Browser,  # noqa: F811
    web: ServerThread,
    people: list[Person],  # noqa: F811 - the fixtures
) -> None:
    owner = join(chromium, web, people, "cbown", "群主")
    bad = join(chromium, web, people, "cbbad", "Bad")
    rita = join(chromium, web, people, "cbrita", "Rita")
    gid = group_with(owner, bad, rita, name="工作台群")
    bad.http.get(f"/g/{gid}")
    bad.http.post(f"/g/{gid}/send", {"body": "小心你的安全", "client_txn_id": "cb-1"})
    report_in_browser(rita, gid, "小心你的安全")

    rev = officer(chromium, web, people, PlatformRole.reviewer)
    qp = rev.go("/console/queue")
    expect(qp.locator("#queue tr.case-row").first).to_be_visible()
    rev.check_accessibility()
    rev.shot("console-queue")
    qp.locator("body").press("j")
    expect(qp.locator("#queue tr.case-row.selected")).to_have_count(1)
    qp.keyboard.press("Enter")
    expect(qp.locator("h1")).to_contain_text("案件 #")
    assert "小心你的安全" in qp.content()
    rev.check_accessibility()
    rev.shot("console-case")
    qp.get_by_role("button", name="认领").click()
    expect(qp.locator(".flash-ok")).to_contain_text("已认领")
    qp.select_option("#d-kind", "lower_credit")
    qp.select_option("#d-article", "art-11")
    qp.fill("#d-facts", "在群内威胁他人安全。")
    qp.get_by_role("button", name="预览").click()
    expect(qp.locator(".preview")).to_contain_text("在群内威胁他人安全。")
    rev.check_accessibility()
    qp.locator("#h-decide").scroll_into_view_if_needed()
    rev.shot("console-decision")
    qp.get_by_role("button", name="决定", exact=True).click()
    expect(qp.locator(".flash-ok")).to_contain_text("决定已记录")

    bp = bad.go("/me/sanctions")
    bp.locator("a[href^='/me/sanctions/']").first.click()
    expect(bp.locator("main")).to_contain_text("在群内威胁他人安全。")
    bp.fill("#statement", "我只是开玩笑。")
    bp.get_by_role("button", name=re.compile("申诉")).click()
    credit_before = bad.go("/me/credit").locator(".list strong.down").count()
    assert credit_before >= 1

    senior = officer(chromium, web, people, PlatformRole.senior_reviewer)
    sp = senior.go("/console/appeals")
    expect(sp.locator("article.card")).to_contain_text("我只是开玩笑。")
    senior.check_accessibility()
    sp.locator("article.card", has_text="我只是开玩笑。").get_by_role("button", name="撤销").click()
    expect(sp.locator(".flash-ok")).to_contain_text("申诉已决定")

    cp = bad.go("/me/credit")
    downs = cp.locator(".list strong.down").all_inner_texts()
    ups = cp.locator(".list strong.up").all_inner_texts()
    assert any(u.lstrip("+") == d.lstrip("-") for d in downs for u in ups), (downs, ups)


def test_a_family_case_shows_only_the_reported_message(
    chromium: Browser,  # noqa: F811
    web: ServerThread,
    people: list[Person],  # noqa: F811 - the fixtures
) -> None:
    mum = join(chromium, web, people, "cbmum", "妈妈")
    kid = join(chromium, web, people, "cbkid", "孩子")
    gid = mum.http.create_group("我们家", category="family")
    group_with_members = [kid]
    for m in group_with_members:
        mum.http.get(f"/g/{gid}/manage")
        mum.http.post(f"/g/{gid}/manage/invite", {"handle": m.http.handle})
        invitation = re.search(r'action="/invitations/(\d+)/decline"', m.http.get("/").text)
        assert invitation
        m.http.get(f"/g/{gid}/info")
        m.http.post(f"/invitations/{invitation.group(1)}/accept", {"rules_version": ""})
    others = ["晚饭吃饺子", "明天去公园", "作业写完了吗"]
    kid.http.get(f"/g/{gid}")
    for i, body in enumerate([others[0], "我要伤害你", others[1]]):
        kid.http.post(f"/g/{gid}/send", {"body": body, "client_txn_id": f"fam-{i}"})
    mum.http.get(f"/g/{gid}")
    mum.http.post(f"/g/{gid}/send", {"body": others[2], "client_txn_id": "fam-m"})
    report_in_browser(mum, gid, "我要伤害你")

    rev = officer(chromium, web, people, PlatformRole.reviewer)
    qp = rev.go("/console/queue?tier=private")
    qp.locator("#queue a.case-link").first.click()
    expect(qp.locator(".evidence")).to_contain_text("我要伤害你")
    bodies = qp.eval_on_selector_all("main *", "els => els.map(e => e.textContent)")
    text = " ".join(bodies) + qp.content()
    for body in others:
        assert body not in text, body
    rev.check_accessibility()


def test_every_console_and_public_page_passes_axe(
    chromium: Browser,  # noqa: F811
    web: ServerThread,
    people: list[Person],  # noqa: F811 - the fixtures
) -> None:
    admin = officer(chromium, web, people, PlatformRole.admin)
    for path in (
        "/console/queue",
        "/console/appeals",
        "/console/officer",
        "/console/audit?verify=1",
        "/console/exports",
        "/console/staff",
    ):
        admin.go(path)
        admin.check_accessibility()
    visitor = Person(chromium, web, HttpBrowser(web.url))
    people.append(visitor)
    for path in ("/rulebook", "/rulebook/history", "/transparency"):
        visitor.go(path)
        visitor.check_accessibility()
    visitor.shot("transparency")
    history = visitor.go("/rulebook/history").content()
    version = re.search(r"<td>([^<\s]+) <span", history)
    assert version
    visitor.go(f"/rulebook/diff?from={version.group(1)}&to={version.group(1)}")
    visitor.check_accessibility()
