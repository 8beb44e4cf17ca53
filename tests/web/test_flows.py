"""Member and owner flows through plain forms (no JavaScript): what a browser without
scripts gets, and the JSON answers app.js gets for the same forms."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from qunzu.domain.agreement import AgreementSet, AgreementVersion
from qunzu.domain.rulebook import Text
from qunzu.services.context import ServiceContext
from tests.factories import PASSWORD
from tests.server import ServerThread
from tests.web.conftest import Browser

WEB = Path(__file__).parents[2] / "src" / "qunzu" / "web"
NewBrowser = Callable[..., Browser]


def invite_and_join(owner: Browser, member: Browser, gid: int) -> None:
    owner.get(f"/g/{gid}/manage")
    owner.post(f"/g/{gid}/manage/invite", {"handle": member.handle})
    home = member.get("/").text
    invitation = re.search(r'action="/invitations/(\d+)/decline"', home)
    assert invitation, "the invitation is on the member's home page"
    info = member.get(f"/g/{gid}/info").text
    version = re.search(r'name="rules_version" value="(\d+)"', info)
    assert version
    joined = member.post(
        f"/invitations/{invitation.group(1)}/accept", {"rules_version": version.group(1)}
    )
    assert joined.status_code == 200 and 'id="timeline"' in joined.text


def bodies(page: str) -> list[str]:
    return re.findall(r'<p class="body" dir="auto">([^<]*)</p>', page)


def test_signing_up_needs_the_agreement_and_records_its_version(
    new_browser: NewBrowser,
) -> None:
    b = new_browser()
    b.get("/signup")
    refused = b.post(
        "/signup",
        {
            "handle": "noagree1",
            "password": PASSWORD,
            "password2": PASSWORD,
            "agreement_version": "1",
        },
    )
    assert refused.status_code == 400
    assert "请先阅读并同意用户服务协议" in refused.text
    b.sign_up("agree")
    assert b.get("/", follow=False).status_code == 200  # no detour to the agreement


def test_a_new_agreement_version_is_asked_for_at_the_next_visit(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    b = new_browser()
    b.sign_up("renew")
    ctx: ServiceContext = web.app.state.qunzu.ctx
    old = ctx.agreements
    current = old.in_force(ctx.clock.now())
    newer = AgreementVersion(
        current.version + 1,
        ctx.clock.now() - timedelta(seconds=1),
        Text("新协议", "New terms"),
        Text("第二版正文", "Second text"),
    )
    ctx.agreements = AgreementSet([*old.versions, newer])
    try:
        detour = b.get("/", follow=False)
        assert detour.status_code == 303
        assert detour.headers["location"].startswith("/agreement")
        page = b.get(detour.headers["location"]).text
        assert (
            "第二版正文" in page and f"第 {current.version} 版更新为第 {newer.version} 版" in page
        )
        b.post("/agreement", {"version": str(newer.version), "next": "/"})
        assert b.get("/", follow=False).status_code == 200
    finally:
        ctx.agreements = old


def test_a_retried_send_with_the_same_transaction_id_posts_once(new_browser: NewBrowser) -> None:
    owner = new_browser()
    owner.sign_up("retry")
    gid = owner.create_group("重试群")
    owner.get(f"/g/{gid}")
    first = owner.post(
        f"/g/{gid}/send", {"body": "只发一次", "client_txn_id": "web-retry-1"}, fetch=True
    )
    again = owner.post(
        f"/g/{gid}/send", {"body": "只发一次", "client_txn_id": "web-retry-1"}, fetch=True
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["seq"] == again.json()["seq"]
    assert bodies(owner.get(f"/g/{gid}").text).count("只发一次") == 1


def test_a_refusal_shows_its_detail_in_the_users_language(new_browser: NewBrowser) -> None:
    owner, member = new_browser(), new_browser(lang="en")
    owner.sign_up("slowown")
    member.sign_up("slowmem")
    gid = owner.create_group("慢速群")
    invite_and_join(owner, member, gid)
    owner.post(f"/g/{gid}/manage/slow-mode", {"seconds": "60"})
    member.get(f"/g/{gid}")
    member.post(f"/g/{gid}/send", {"body": "one", "client_txn_id": "slow-1"})
    refused = member.post(f"/g/{gid}/send", {"body": "two", "client_txn_id": "slow-2"}, fetch=True)
    assert refused.status_code == 429
    assert refused.json()["code"] == "slow_mode"
    assert refused.json()["detail"].startswith("Slow mode: wait ")
    page = member.post(f"/g/{gid}/send", {"body": "three", "client_txn_id": "slow-3"})
    assert page.status_code == 400
    assert "Slow mode: wait " in page.text
    assert ">three</textarea>" in page.text  # the draft is kept
    assert "One message every 60 s" in member.get(f"/g/{gid}").text or "60 s" in member.last


def test_new_rules_replace_the_composer_until_accepted(new_browser: NewBrowser) -> None:
    owner, member = new_browser(), new_browser()
    owner.sign_up("rulesown")
    member.sign_up("rulesmem")
    gid = owner.create_group("群规群", rules="第一版：友善")
    invite_and_join(owner, member, gid)
    assert 'id="send-form"' in member.get(f"/g/{gid}").text
    owner.get(f"/g/{gid}/manage")
    owner.post(f"/g/{gid}/manage/rules", {"text": "第二版：不发广告"})
    page = member.get(f"/g/{gid}").text
    assert 'id="send-form"' not in page
    assert "第二版：不发广告" in page and "群规已更新为第 2 版" in page
    refused = member.post(f"/g/{gid}/send", {"body": "hi", "client_txn_id": "r-1"}, fetch=True)
    assert refused.status_code == 403 and refused.json()["code"] == "rules_not_accepted"
    member.post(f"/g/{gid}/rules/accept", {"version": "2"})
    assert 'id="send-form"' in member.get(f"/g/{gid}").text


def test_a_report_becomes_an_owner_notice_the_owner_acts_and_the_reporter_sees_it(
    new_browser: NewBrowser,
) -> None:
    owner, member, reporter = new_browser(), new_browser(), new_browser()
    owner.sign_up("repown", name="群主")
    member.sign_up("repbad", name="Spammer")
    reporter.sign_up("repgood", name="Reporter")
    gid = owner.create_group("举报群")
    invite_and_join(owner, member, gid)
    invite_and_join(owner, reporter, gid)
    member.get(f"/g/{gid}")
    member.post(f"/g/{gid}/send", {"body": "买房加微信", "client_txn_id": "spam-1"})
    seq = re.search(r'id="e-(\d+)"[^>]*data-txn="spam-1"', member.get(f"/g/{gid}").text)
    assert seq
    form = reporter.get(f"/g/{gid}/report?seq={seq.group(1)}").text
    assert 'name="category" value="spam"' in form
    filed = reporter.post(
        f"/g/{gid}/report",
        {
            "kind": "message",
            "seq": seq.group(1),
            "category": "spam",
            "statement": "广告",
        },
    )
    assert "举报已提交" in filed.text and "回执 #" in filed.text
    assert "等待群主处理" in filed.text  # a small group: the owner hears first (P8)
    dashboard = owner.get("/manage").text
    assert "买房加微信" in dashboard and "data-countdown-to=" in dashboard
    owner.post(f"/g/{gid}/m/{seq.group(1)}/remove", {"reason": "广告", "back": "/manage"})
    assert "买房加微信" not in owner.get(f"/g/{gid}").text
    assert "此消息已被移除" in owner.last
    assert "群主已处理" in reporter.get("/me/reports").text


def test_owner_pages_are_for_managers_only(new_browser: NewBrowser) -> None:
    owner, member = new_browser(), new_browser()
    owner.sign_up("pgown")
    member.sign_up("pgmem", name="小明")
    gid = owner.create_group("管理群", rules="友善")
    invite_and_join(owner, member, gid)
    for path in (
        "/manage",
        f"/g/{gid}/manage",
        f"/g/{gid}/manage/members",
        f"/g/{gid}/manage/ledger",
        f"/g/{gid}/manage/report-up",
    ):
        assert owner.get(path).status_code == 200, path
    assert "发布群规" in owner.get(f"/g/{gid}/manage/ledger").text
    assert member.get(f"/g/{gid}/manage").status_code == 403
    members = owner.get(f"/g/{gid}/manage/members").text
    account = re.search(r'action="/g/\d+/manage/members/(\d+)/mute"', members)
    assert account
    owner.post(
        f"/g/{gid}/manage/members/{account.group(1)}/mute", {"minutes": "60", "reason": "冷静一下"}
    )
    composer = member.get(f"/g/{gid}").text
    assert "你已被禁言，直到" in composer and "冷静一下" in composer


def test_appointing_an_admin_grants_only_the_ticked_rights(new_browser: NewBrowser) -> None:
    owner, helper = new_browser(), new_browser()
    owner.sign_up("admown")
    helper.sign_up("admhelp")
    gid = owner.create_group("任命群")
    invite_and_join(owner, helper, gid)
    page = owner.get(f"/g/{gid}/manage/members").text
    account = re.search(r'action="/g/\d+/manage/members/(\d+)/admin"', page)
    assert account
    owner.post(
        f"/g/{gid}/manage/members/{account.group(1)}/admin",
        {"right_mute": "yes", "right_pin_notices": "yes"},
    )
    page = owner.get(f"/g/{gid}/manage/members").text
    assert "管理员" in page and "禁言" in page and "发布群公告" in page
    helper_page = helper.get(f"/g/{gid}/manage").text
    assert "全员禁言" in helper_page and "manage/rules" not in helper_page


def test_discover_and_join_an_open_group_accepting_its_rules(new_browser: NewBrowser) -> None:
    owner, visitor = new_browser(), new_browser()
    owner.sign_up("openown")
    visitor.sign_up("openvis")
    gid = owner.create_group("开放登山群", rules="准时集合", join_policy="open", discoverable="yes")
    found = visitor.get("/discover?q=开放登山").text
    assert f'href="/g/{gid}/info"' in found
    info = visitor.get(f"/g/{gid}/info").text
    assert "准时集合" in info and "群号" in info
    joined = visitor.post(f"/g/{gid}/join", {"rules_version": "1"})
    assert 'id="send-form"' in joined.text


def test_direct_chat_identity_credit_and_sanction_pages_render(new_browser: NewBrowser) -> None:
    alice, bob = new_browser(), new_browser()
    alice.sign_up("dmalice", name="Alice")
    bob.sign_up("dmbob", name="Bob")
    opened = alice.post("/direct", {"handle": bob.handle})
    assert 'id="timeline"' in opened.text and "<bdi>Bob</bdi>" in opened.text
    identity = alice.get("/me/identity").text
    assert "已实名" in identity and "张*" in identity
    assert "信用分" in alice.get("/me/credit").text
    assert alice.get("/me/sanctions").status_code == 200
    assert alice.get("/me/reports").status_code == 200


def test_the_shipped_javascript_and_css_stay_under_150_kb() -> None:
    static = WEB / "static"
    own = [
        p for p in static.rglob("*") if p.suffix in (".js", ".css") and "swagger-ui" not in p.parts
    ]
    assert own, "no static files found"
    assert sum(p.stat().st_size for p in own) <= 150 * 1024


def test_docs_are_self_hosted(new_browser: NewBrowser) -> None:
    b = new_browser()
    page = b.get("/docs").text
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in page
    assert "http://" not in page and "https://" not in page
    assert b.get("/static/vendor/swagger-ui/swagger-ui-bundle.js").status_code == 200
    assert b.get("/static/vendor/swagger-ui/LICENSE").status_code == 200


def test_the_notice_fragment_is_the_pinned_notice_for_members_only(
    new_browser: NewBrowser,
) -> None:
    owner, member, outsider = new_browser(), new_browser(), new_browser()
    owner.sign_up("ntown")
    member.sign_up("ntmem")
    outsider.sign_up("ntout")
    gid = owner.create_group("公告片段群")
    invite_and_join(owner, member, gid)
    assert "group-notice" not in member.get(f"/g/{gid}/notice").text
    owner.get(f"/g/{gid}/manage")
    owner.post(f"/g/{gid}/manage/notice", {"text": "<script>x</script> 今晚停电"})
    fragment = member.get(f"/g/{gid}/notice").text
    assert "&lt;script&gt;x&lt;/script&gt; 今晚停电" in fragment and "<script>" not in fragment
    refused = outsider.http.get(f"/g/{gid}/notice", headers={"X-Qunzu-Fetch": "1"})
    assert refused.status_code == 404 and "今晚停电" not in refused.text
    assert outsider.get(f"/g/{10**15}/notice").status_code in (404, 422)


def test_the_bars_page_lists_barred_accounts_and_lifts_a_bar(new_browser: NewBrowser) -> None:
    owner, member = new_browser(), new_browser()
    owner.sign_up("barown")
    member.sign_up("barmem", name="小黑")
    gid = owner.create_group("拉黑群")
    invite_and_join(owner, member, gid)
    members = owner.get(f"/g/{gid}/manage/members").text
    account = re.search(r'action="/g/\d+/manage/members/(\d+)/remove"', members)
    assert account
    aid = account.group(1)
    owner.post(f"/g/{gid}/manage/members/{aid}/remove", {"reason": "刷广告", "bar": "yes"})
    page = owner.get(f"/g/{gid}/manage/bars").text
    assert "小黑" in page and "刷广告" in page and f"/manage/bars/{aid}/lift" in page
    assert f"/g/{gid}/manage/bars" in owner.get(f"/g/{gid}/manage").text  # in the owner tools
    # Without the CSRF token nothing is lifted.
    refused = owner.post(f"/g/{gid}/manage/bars/{aid}/lift", csrf="")
    assert refused.status_code == 403
    assert "刷广告" in owner.get(f"/g/{gid}/manage/bars").text
    lifted = owner.post(f"/g/{gid}/manage/bars/{aid}/lift").text
    assert "已解除拉黑" in lifted and "本群没有拉黑的账号" in lifted
    again = owner.post(f"/g/{gid}/manage/bars/{aid}/lift", fetch=True)
    assert (again.status_code, again.json()["code"]) == (404, "not_barred")
    invite_and_join(owner, member, gid)  # the bar is gone: the invitation goes through


def test_the_bars_page_is_for_managers_who_may_remove_members(new_browser: NewBrowser) -> None:
    owner, member = new_browser(), new_browser()
    owner.sign_up("barown2")
    member.sign_up("barmem2")
    gid = owner.create_group("拉黑群二")
    invite_and_join(owner, member, gid)
    assert member.get(f"/g/{gid}/manage/bars").status_code == 403
    assert f"/g/{gid}/manage/bars" not in member.get(f"/g/{gid}").text
    lift = member.post(f"/g/{gid}/manage/bars/1/lift", fetch=True)
    assert lift.status_code == 403
    assert owner.get(f"/g/{10**15}/manage/bars").status_code in (403, 404, 422)
    assert owner.post(f"/g/{gid}/manage/bars/abc/lift").status_code in (404, 422)
