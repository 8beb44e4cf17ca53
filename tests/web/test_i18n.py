"""Languages: both catalogs complete, every key the pages use exists, the choice of
language (Accept-Language, then the switch, which sticks), refusals and times."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qunzu.domain.duty import DutyEventKind
from qunzu.domain.errors import Forbidden, QuotaExceeded
from qunzu.domain.models import GroupCategory, GroupRole, GroupState, JoinPolicy
from qunzu.domain.owner_tools import AdminRight
from qunzu.domain.reports import CaseStatus, Decision, TargetKind
from qunzu.domain.rulebook import Tier
from qunzu.domain.sanctions import AppealState, SanctionState
from qunzu.policy import load_rulebooks
from qunzu.web.i18n import LANGS, Translator, catalog, negotiate, placeholders, zone
from qunzu.web.pages_owner import MUTE_CHOICES
from tests.web.conftest import Browser

WEB = Path(__file__).parents[2] / "src" / "qunzu" / "web"
NewBrowser = Callable[..., Browser]
_STATIC_KEY = re.compile(r"""(?<![\w.])(?:_|tr|page\.tr)\(\s*["']([a-z0-9_.-]+)["']""")


def used_keys() -> set[str]:
    keys: set[str] = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        keys |= set(_STATIC_KEY.findall(path.read_text()))
    return {k for k in keys if not k.endswith(".")}


def dynamic_keys() -> set[str]:
    """Keys the pages build from a value (``"role." ~ role``): one per possible value."""
    book = load_rulebooks().latest
    families: dict[str, list[str]] = {
        "role.": [r.value for r in GroupRole],
        "category.": [c.value for c in GroupCategory],
        "policy.": [p.value for p in JoinPolicy],
        "tier.": [t.value for t in Tier],
        "group.state.": [s.value for s in GroupState],
        "entry.group_state.": [s.value for s in GroupState],
        "composer.inactive.": [s.value for s in GroupState if s is not GroupState.active],
        "sanction.kind.": list(book.sanctions),
        "sanction.state.": [s.value for s in SanctionState] + ["in_force"],
        "sanction.appeal_state.": [s.value for s in AppealState],
        "reports.status.": [s.value for s in CaseStatus],
        "reports.outcome.": [d.value for d in Decision],
        "reports.target.": [t.value for t in TargetKind],
        "attendance.": ["attended", "unattended", "read_only"],
        "entry.attendance.": ["attended", "unattended", "read_only"],
        "duty.": [k.value for k in DutyEventKind],
        "right.": [r.value for r in AdminRight],
        "manage.minutes.": [str(m) for m in MUTE_CHOICES],
        "manage.member.": ["admin", "demote", "mute", "unmute", "remove", "transfer"],
    }
    return {prefix + value for prefix, values in families.items() for value in values}


def test_both_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, en = catalog("zh-CN"), catalog("en")
    assert set(zh) == set(en)
    for key in zh:
        assert placeholders(zh[key]) == placeholders(en[key]), key
        assert zh[key].strip() and en[key].strip(), key


def test_every_key_the_pages_use_is_in_the_catalogs() -> None:
    missing = (used_keys() | dynamic_keys()) - set(catalog("zh-CN"))
    assert not missing, sorted(missing)


@pytest.mark.parametrize(
    ("cookie", "header", "lang"),
    [
        (None, None, "zh-CN"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR, en;q=0.5", "en"),
        (None, "en;q=0.4, zh-TW;q=0.8", "zh-CN"),
        (None, "de-DE", "zh-CN"),
        ("en", "zh-CN", "en"),
        ("zh-CN", "en", "zh-CN"),
        ("xx", "en", "en"),
    ],
)
def test_the_language_is_the_switch_then_accept_language_then_chinese(
    cookie: str | None, header: str | None, lang: str
) -> None:
    assert negotiate(cookie, header) == lang
    assert lang in LANGS


def test_times_show_in_the_viewers_time_zone() -> None:
    moment = datetime(2026, 3, 1, 2, 5, tzinfo=UTC)
    assert Translator("zh-CN", zone(None)).when(moment, moment) == "10:05"  # Asia/Shanghai
    assert Translator("en", zone("Europe/London")).when(moment, moment) == "02:05"
    assert Translator("en", zone("Not/AZone")).when(moment, moment) == "10:05"
    assert "2026年3月1日" in Translator("zh-CN", zone(None)).full(moment)


def test_refusals_are_worded_in_the_viewers_language_with_their_details() -> None:
    slow = QuotaExceeded("slow_mode", "Slow mode: wait 7 s.", retry_after=7)
    assert Translator("zh-CN", zone(None)).error(slow) == "慢速模式：请再等 7 秒。"
    assert Translator("en", zone(None)).error(slow) == "Slow mode: wait 7 s before posting again."
    muted = Forbidden("muted", "x", until="2026-03-01T02:05:00+00:00")
    assert "2026年3月1日 10:05" in Translator("zh-CN", zone(None)).error(muted)
    unknown = Forbidden("some_new_code", "The service's own words.")
    assert Translator("zh-CN", zone(None)).error(unknown) == "The service's own words."


def test_pages_follow_accept_language_and_the_switch_sticks(new_browser: NewBrowser) -> None:
    english = new_browser(lang="en-GB,en;q=0.9")
    assert 'lang="en"' in english.get("/login").text
    assert "Log in" in english.last
    chinese = new_browser()
    assert 'lang="zh-CN"' in chinese.get("/login").text
    chinese.post("/lang", {"lang": "en", "back": "/login"})
    assert 'lang="en"' in chinese.last
    assert 'lang="en"' in chinese.get("/signup").text  # sticks on the next page
    chinese.post("/lang", {"lang": "zh-CN", "back": "/signup"})
    assert "注册" in chinese.last


def test_the_language_switch_goes_back_only_to_this_site(new_browser: NewBrowser) -> None:
    b = new_browser()
    b.get("/login")
    response = b.post("/lang", {"lang": "en", "back": "//evil.example/"}, follow=False)
    assert response.headers["location"] == "/"
