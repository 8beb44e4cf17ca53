"""The platform console through plain forms: role separation on every console route, a
report decided in the console and seen by the member, the private tier's reported items
alone, the decision form's refusals, and the audit of every case view."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator

import pytest

from qunzu.domain.models import PlatformRole
from qunzu.services.accounts import do_create_platform_user
from qunzu.services.actor import SYSTEM
from tests.factories import PASSWORD, audit_entries, ctx_of, unique_handle
from tests.server import ServerThread
from tests.web.conftest import Browser
from tests.web.test_flows import invite_and_join
from tests.web.test_security_pages import _enrol as enrol_totp

NewBrowser = Callable[..., Browser]

# Every console route, with the roles that open it (None: members, no platform role).
REVIEW = {PlatformRole.reviewer, PlatformRole.senior_reviewer, PlatformRole.admin}
SENIOR = {PlatformRole.senior_reviewer, PlatformRole.admin}
AUDIT = {PlatformRole.auditor, PlatformRole.admin}
ROUTES: list[tuple[str, str, set[PlatformRole]]] = [
    ("GET", "/console/queue", REVIEW),
    ("GET", "/console/cases/{case}", REVIEW),
    ("POST", "/console/cases/{case}/preview", REVIEW),
    ("POST", "/console/cases/{case}/claim", REVIEW),
    ("POST", "/console/cases/{case}/release", REVIEW),
    ("POST", "/console/cases/{case}/escalate", REVIEW),
    ("POST", "/console/cases/{case}/decide", REVIEW),
    ("GET", "/console/appeals", SENIOR),
    ("POST", "/console/appeals/{case}/decide", SENIOR),
    ("GET", "/console/audit", AUDIT),
    ("GET", "/console/officer", SENIOR),
    ("POST", "/console/sanctions/lift", SENIOR),
    ("POST", "/console/credit/lock", SENIOR),
    ("POST", "/console/identity/read", SENIOR),
    ("GET", "/console/exports", AUDIT | SENIOR),
    ("GET", "/console/exports/regulator?start=2026-01-01&end=2026-01-31", AUDIT | SENIOR),
    ("GET", "/console/staff", {PlatformRole.admin}),
    ("POST", "/console/staff", {PlatformRole.admin}),
]
ROLES: list[PlatformRole | None] = [None, *PlatformRole]


def staff(web: ServerThread, browser: Browser, role: PlatformRole) -> Browser:
    """Platform staff made through services (as the CLI does), logged in through the form."""
    handle = unique_handle(role.value.replace("-", "_"))
    ctx = ctx_of(web)
    web.call(
        lambda: do_create_platform_user(ctx, SYSTEM, handle, PASSWORD, role, f"Staff {role.value}")
    )
    browser.get("/login")
    response = browser.post("/login", {"handle": handle, "password": PASSWORD, "next": "/"})
    assert response.status_code == 200, response.text[:300]
    enrol_totp(browser)  # staff need a second factor before any platform page works
    browser.handle = handle
    return browser


def reported_case(
    new_browser: NewBrowser,
    category: str = "threat-to-life",
    group_category: str = "friends",
    bodies: tuple[str, ...] = ("我要伤害你",),
    reported: int = 0,
) -> tuple[Browser, int, list[str]]:
    """A message reported by a member: the offender's browser, the case id, the bodies sent."""
    owner, offender = new_browser(), new_browser()
    owner.sign_up("cown")
    offender.sign_up("coff")
    gid = owner.create_group("控制台群", category=group_category)
    invite_and_join(owner, offender, gid)
    offender.get(f"/g/{gid}")
    for i, body in enumerate(bodies):
        offender.post(f"/g/{gid}/send", {"body": body, "client_txn_id": f"c-{i}-{gid}"})
    page = offender.get(f"/g/{gid}").text
    seq = re.search(rf'id="e-(\d+)"[^>]*data-txn="c-{reported}-{gid}"', page)
    assert seq
    owner.get(f"/g/{gid}/report?seq={seq.group(1)}")
    owner.post(
        f"/g/{gid}/report",
        {"kind": "message", "seq": seq.group(1), "category": category, "statement": "威胁"},
    )
    receipt = owner.get("/me/reports").text
    case = re.search(r"#(\d+)", receipt)
    assert case, receipt[:500]
    return offender, int(case.group(1)), list(bodies)


@pytest.fixture(scope="module")
def one_case(web: ServerThread) -> Iterator[int]:
    browsers: list[Browser] = []

    def make(lang: str = "zh-CN") -> Browser:
        b = Browser(web.url, lang)
        browsers.append(b)
        return b

    _, case_id, _ = reported_case(make)
    yield case_id
    for b in browsers:
        b.close()


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value if r else "member")
def test_each_role_opens_only_its_console_pages(
    web: ServerThread, new_browser: NewBrowser, one_case: int, role: PlatformRole | None
) -> None:
    browser = new_browser()
    if role is None:
        browser.sign_up("cmember")
    else:
        staff(web, browser, role)
    token = browser.csrf("/")
    for method, path, allowed in ROUTES:
        url = path.format(case=one_case)
        if method == "GET":
            response = browser.get(url, follow=False)
        else:
            response = browser.post(url, {"note": "x"}, csrf=token, follow=False)
        if role in allowed:
            assert response.status_code != 403, (role, url)
        else:
            assert response.status_code == 403, (role, url, response.status_code)
            assert "此工作台页面属于其他平台角色" in response.text


def test_anonymous_visitors_are_sent_to_log_in(new_browser: NewBrowser) -> None:
    browser = new_browser()
    for method, path, _ in ROUTES:
        if method == "GET":
            response = browser.get(path.format(case=1), follow=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=/console")
    assert browser.get("/console", follow=False).headers["location"].startswith("/login")


def test_a_case_is_claimed_previewed_decided_and_the_member_sees_the_reasons(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    offender, case_id, _ = reported_case(new_browser)
    reviewer = staff(web, new_browser("en"), PlatformRole.reviewer)
    queue = reviewer.get("/console/queue").text
    assert f'data-case="{case_id}"' in queue and "data-countdown-to=" in queue
    reviewer.post(f"/console/cases/{case_id}/claim", {"back": "queue"})
    case = reviewer.get(f"/console/cases/{case_id}").text
    assert "我要伤害你" in case and "Claimed by" in case
    measures = re.findall(
        r'<option value="([a-z_-]+)"', case.split('id="d-kind"')[1].split("</select>")[0]
    )
    assert "blacklist" in measures
    draft = {
        "decision": "violation",
        "kind": "blacklist",
        "article": "art-11",
        "facts": "Threatened a member.",
        "days": "30",
    }
    preview = reviewer.post(f"/console/cases/{case_id}/preview", draft)
    assert preview.status_code == 200 and "As the person will see it" in preview.text
    assert "30 days from the decision" in preview.text
    decided = reviewer.post(f"/console/cases/{case_id}/decide", draft)
    assert decided.status_code == 200 and "Decision recorded" in decided.text
    sanctions = offender.get("/me/sanctions").text
    sid = re.search(r'href="/me/sanctions/(\d+)"', sanctions) or re.search(
        r"/sanctions/(\d+)", sanctions
    )
    assert sid, sanctions[:800]
    reasons = offender.get(f"/me/sanctions/{sid.group(1)}").text
    assert "Threatened a member." in reasons


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("kind", "death_penalty", "unknown_sanction"),
        ("article", "art-99", "unknown_article"),
        ("facts", "", "facts_required"),
        ("facts", "x" * 2001, "too_long"),
        ("facts", "bad\u202etext", "invalid_text"),
        ("days", "100000", "invalid_days"),
        ("decision", "maybe", "decision_required"),
    ],
)
def test_a_bad_decision_form_is_refused_and_decides_nothing(
    web: ServerThread, new_browser: NewBrowser, field: str, value: str, code: str
) -> None:
    _, case_id, _ = reported_case(new_browser)
    reviewer = staff(web, new_browser(), PlatformRole.reviewer)
    reviewer.get(f"/console/cases/{case_id}")
    draft = {
        "decision": "violation",
        "kind": "blacklist",
        "article": "art-11",
        "facts": "Threatened a member.",
        "days": "30",
        field: value,
    }
    refused = reviewer.post(f"/console/cases/{case_id}/decide", draft)
    assert refused.status_code in (400, 422), (code, refused.status_code)
    assert 'role="alert"' in refused.text
    assert 'id="decide-form"' in reviewer.get(f"/console/cases/{case_id}").text  # still open


def test_a_form_without_csrf_is_refused(
    web: ServerThread, new_browser: NewBrowser, one_case: int
) -> None:
    reviewer = staff(web, new_browser(), PlatformRole.reviewer)
    response = reviewer.post(f"/console/cases/{one_case}/claim", csrf="0" * 64, follow=False)
    assert response.status_code == 403


def test_a_case_that_does_not_exist_is_404(web: ServerThread, new_browser: NewBrowser) -> None:
    reviewer = staff(web, new_browser(), PlatformRole.reviewer)
    assert reviewer.get("/console/cases/999999999").status_code == 404
    assert reviewer.get("/console/cases/0").status_code == 422
    assert reviewer.get("/console/cases/abc").status_code == 422


def test_a_private_tier_case_shows_only_the_reported_message(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    bodies = ("家里的第一条", "家里的第二条", "我要伤害你", "家里的第四条")
    _, case_id, sent = reported_case(
        new_browser, group_category="family", bodies=bodies, reported=2
    )
    reviewer = staff(web, new_browser(), PlatformRole.reviewer)
    page = reviewer.get(f"/console/cases/{case_id}").text
    assert "我要伤害你" in page
    for other in sent[:2] + sent[3:]:
        assert other not in page


def test_every_case_view_in_the_console_is_audited(
    web: ServerThread, new_browser: NewBrowser, one_case: int
) -> None:
    reviewer = staff(web, new_browser(), PlatformRole.reviewer)
    before = asyncio.run(audit_entries(web))
    reviewer.get(f"/console/cases/{one_case}")
    after = asyncio.run(audit_entries(web))
    views = [e for e in after[len(before) :] if e.action == "case.view"]
    assert len(views) == 1 and views[0].subject == f"case:{one_case}"


def test_queue_filters_narrow_the_queue_and_ignore_unknown_values(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    _, one_case, _ = reported_case(new_browser)
    reviewer = staff(web, new_browser(), PlatformRole.reviewer)
    assert f'data-case="{one_case}"' in reviewer.get("/console/queue?route=severe").text
    assert f'data-case="{one_case}"' not in reviewer.get("/console/queue?route=escalated").text
    assert f'data-case="{one_case}"' not in reviewer.get("/console/queue?tier=public").text
    odd = reviewer.get("/console/queue?tier=%3Cscript%3E&route=x&claimed=-1&page=abc")
    assert odd.status_code == 200 and "<script>" not in odd.text


def test_the_audit_page_checks_the_chain(web: ServerThread, new_browser: NewBrowser) -> None:
    auditor = staff(web, new_browser("en"), PlatformRole.auditor)
    page = auditor.get("/console/audit?verify=1").text
    assert "The chain holds" in page
    filtered = auditor.get("/console/audit?action=audit.verify").text
    assert "audit.verify" in filtered and "<td>case.claim</td>" not in filtered
    assert auditor.get("/console/audit?actor=abc&since=nonsense").status_code == 200


def test_a_claimed_case_is_released_back_to_the_queue(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    _, case_id, _ = reported_case(new_browser)
    reviewer = staff(web, new_browser("en"), PlatformRole.reviewer)
    other = staff(web, new_browser("en"), PlatformRole.reviewer)
    reviewer.get("/console/queue")
    reviewer.post(f"/console/cases/{case_id}/claim", {"back": "queue"})
    other.get("/console/queue")
    refused = other.post(f"/console/cases/{case_id}/release", {"back": "queue"})
    assert "Another reviewer has claimed" in refused.text
    released = reviewer.post(f"/console/cases/{case_id}/release", {"back": "queue"})
    assert "Case released" in released.text
    row = released.text.split(f'data-case="{case_id}"')[1].split("</tr>")[0]
    assert f'action="/console/cases/{case_id}/claim"' in row


def test_an_identity_read_needs_a_reason_and_shows_its_audit_entry(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    member = new_browser()
    member.sign_up("cident")
    senior = staff(web, new_browser("en"), PlatformRole.senior_reviewer)
    senior.get("/console/officer")
    refused = senior.post("/console/identity/read", {"handle": member.handle, "reason": "x"})
    assert "at least five characters" in refused.text and "张三" not in refused.text
    shown = senior.post(
        "/console/identity/read", {"handle": member.handle, "reason": "police request 17"}
    )
    assert "张三" in shown.text and "identity.read" in shown.text
    assert "police request 17" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    reads = [e for e in asyncio.run(audit_entries(web)) if e.action == "identity.read"]
    assert reads[-1].detail["reason"] == "police request 17"


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_regulator_export_downloads_and_bad_periods_are_refused(
    web: ServerThread, new_browser: NewBrowser, fmt: str
) -> None:
    auditor = staff(web, new_browser("en"), PlatformRole.auditor)
    ok = auditor.get(f"/console/exports/regulator?start=2026-01-01&end=2026-12-31&format={fmt}")
    assert ok.status_code == 200 and "attachment" in ok.headers["content-disposition"]
    if fmt == "csv":
        assert ok.text.startswith("sanction_id,case_id,measure")
    for query in (
        "start=nonsense&end=2026-01-01",
        "start=2026-02-01&end=2026-01-01",
        "start=2020-01-01&end=2026-01-01",
        "start=2026-01-01&end=2026-01-02&format=xml",
    ):
        refused = auditor.get(f"/console/exports/regulator?{query}")
        assert refused.status_code == 200 and 'role="alert"' in refused.text, query


def test_an_admin_creates_staff_who_can_then_log_in(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    admin = staff(web, new_browser("en"), PlatformRole.admin)
    admin.get("/console/staff")
    handle = unique_handle("newrev")
    made = admin.post(
        "/console/staff", {"handle": handle, "password": PASSWORD, "role": "reviewer"}
    )
    assert "Staff account created" in made.text
    again = admin.post(
        "/console/staff", {"handle": handle, "password": PASSWORD, "role": "reviewer"}
    )
    assert 'role="alert"' in again.text
    odd = admin.post(
        "/console/staff", {"handle": unique_handle("x"), "password": PASSWORD, "role": "god"}
    )
    assert "Choose a platform role" in odd.text
    fresh = new_browser("en")
    fresh.get("/login")
    fresh.post("/login", {"handle": handle, "password": PASSWORD, "next": "/console"})
    assert "second_factor_required" in fresh.last  # new staff enrol a second factor first
    enrol_totp(fresh)
    fresh.get("/console/queue")
    assert 'id="queue"' in fresh.last or "No open cases" in fresh.last


def test_metrics_show_the_queue_depth_by_deadline(
    web: ServerThread, new_browser: NewBrowser
) -> None:
    reported_case(new_browser)  # severe: due within 2 hours
    text = new_browser().get("/metrics").text
    depth = dict(re.findall(r'qunzu_cases_open\{due="(\w+)"\} ([0-9.]+)', text))
    assert set(depth) == {"overdue", "within_2h", "within_24h", "later"}
    assert float(depth["within_2h"]) >= 1
