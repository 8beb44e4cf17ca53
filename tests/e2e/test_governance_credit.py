"""The public rulebook (Art. 5; P3) and credit levels (Art. 7; P6) against a real server.

Credit moves by ledger entries; the tests apply entries through the service hook
``record_credit`` on the server's own loop and move the server's frozen clock to
watch penalties fade and levels hold (hysteresis), never by sleeping.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from qunzu.client import QunzuClient
from qunzu.domain.clock import FrozenClock
from qunzu.domain.credit import CreditReason
from qunzu.domain.models import PlatformRole
from qunzu.policy import default_rulebook_text
from qunzu.services.context import transaction
from qunzu.services.ledgers import record_credit
from tests.factories import (
    audit_entries,
    clock_of,
    ctx_of,
    me,
    persona,
    platform_user,
    refused,
)
from tests.rulebooks import SANCTION_KINDS
from tests.server import ServerThread, module_server

TEN_YEARS_HOURS = 24 * 3650  # tokens outlive the clock moves below

# The default rulebook's numbers these tests rely on (asserted in the first tests).
BASE, VERIFIED = 100, 300


# ---- servers ------------------------------------------------------------------------------


# The real default rulebook and a clock that moves only when a test moves it.
srv = module_server(
    "gov-credit", clock=FrozenClock, rulebook_files=[], token_ttl_hours=TEN_YEARS_HOURS
)


def later_version_text() -> str:
    """A second version of the default: later effective date, other version, other numbers."""
    text = default_rulebook_text()
    for old, new in (
        ('version = "2017.1"', 'version = "2025.1"'),
        (
            "effective_from = 2017-10-08T00:00:00+08:00",
            "effective_from = 2025-01-01T00:00:00+08:00",
        ),
        ("small_max = 100", "small_max = 150"),
    ):
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


# Two rulebook versions (2017.1, then 2025.1), listed newest first on purpose: the order
# of the files does not matter. The server's clock is 2026.
two_versions = module_server(
    "gov-versions",
    clock=FrozenClock,
    rulebooks=lambda: {
        "cn-2025.toml": later_version_text(),
        "cn-2017.toml": default_rulebook_text(),
    },
)


# ---- helpers ------------------------------------------------------------------------------


async def credit(client: QunzuClient) -> dict[str, Any]:
    data: dict[str, Any] = await client._json("GET", "/v1/me/credit")
    return data


async def standing(client: QunzuClient) -> tuple[int, int]:
    """(score, level) as the holder sees them."""
    mine = await credit(client)
    return mine["score"], mine["level"]


async def penalise(
    server: ServerThread,
    client: QunzuClient,
    delta: int,
    reason: CreditReason = CreditReason.sanction,
    article: str | None = "art-10",
) -> None:
    """A ledger entry through the hook later features call (sanctions, reports, liability)."""
    ctx = ctx_of(server)
    account_id = me(client)["id"]

    async def run() -> None:
        async with transaction(ctx) as uow:
            await record_credit(
                ctx, uow, account_id, delta, reason, article=article, source="test:e2e"
            )

    await server.acall(run)


async def lock(
    client: QunzuClient, account_id: int, level: int | None, reason: str
) -> dict[str, Any]:
    data: dict[str, Any] = await client._json(
        "POST",
        "/v1/platform/credit-locks",
        json={"account_id": account_id, "level": level, "reason": reason},
    )
    return data


verified = persona("credit", server="srv")
unverified = persona("unverified", server="srv", verified=False)
anon = persona(server="srv")
senior = persona(server="srv", role=PlatformRole.senior_reviewer)


# ---- 1. the public rulebook (Art. 5) ----------------------------------------------------


async def test_rulebook_is_public_and_holds_every_part_of_the_rules(anon: QunzuClient) -> None:
    assert anon.token is None
    book = await anon._json("GET", "/v1/rulebook")
    assert book["version"] == "2017.1"
    assert book["effective_from"] == "2017-10-08T00:00:00+08:00"
    assert book["jurisdiction"] == "CN"
    articles = {a["id"]: a for a in book["articles"]}
    assert {"art-5", "art-6", "art-7", "art-8", "art-11", "art-13"} <= set(articles)
    assert articles["art-6"]["title"] == {"zh": "真实身份信息认证", "en": "Real identity"}
    assert "后台实名" in articles["art-6"]["text"]["zh"]
    assert "unverified users may not post" in articles["art-6"]["text"]["en"]
    assert "family" in book["categories"] and "public-affairs" in book["categories"]
    assert book["tiers"] == {"family_private_max": 20, "small_max": 100}
    assert book["info_page_min_members"] == 100
    assert book["appeal_window_days"] == 180
    assert book["retention"]["access_log_days"] >= 180  # Art. 13: six months at least
    assert book["activity"] == {"dormant_after_days": 30, "busy_messages_per_day": 500}


async def test_rulebook_lists_credit_levels_with_what_each_allows(anon: QunzuClient) -> None:
    credit_policy = (await anon._json("GET", "/v1/rulebook"))["credit"]
    levels = credit_policy["levels"]
    assert [lvl["level"] for lvl in levels] == [0, 1, 2, 3, 4]
    assert levels[0]["can_post"] is False and all(lvl["can_post"] for lvl in levels[1:])
    assert (levels[0]["min_score"], levels[-1]["max_score"]) == (0, 1000)
    assert levels[1]["name"] == {"zh": "基础", "en": "Basic"}
    basic = levels[1]["quotas"]
    assert basic["groups_owned"] == 3 and basic["new_groups_per_day"] == 1
    assert basic["messages_per_minute"] == 20 and basic["invitations_per_day"] == 20
    assert basic["members_per_group"]["community"] == 200
    assert credit_policy["inputs"]["base"] == BASE
    assert credit_policy["inputs"]["identity_verified"] == VERIFIED
    assert credit_policy["forgiveness_days"] == 180
    assert credit_policy["demotion_hysteresis"] == 0.9


async def test_rulebook_lists_report_categories_with_deadlines_and_articles(
    anon: QunzuClient,
) -> None:
    book = await anon._json("GET", "/v1/rulebook")
    categories = {c["id"]: c for c in book["report_categories"]}
    assert categories["threat-to-life"]["deadline_hours"] == 2
    assert categories["threat-to-life"]["severity"] == "severe"
    assert categories["fraud"]["deadline_hours"] == 24
    assert categories["fraud"]["articles"] == ["art-10"]
    assert categories["spam"]["title"]["zh"] == "垃圾广告"
    known = {a["id"] for a in book["articles"]}
    assert all(set(c["articles"]) <= known for c in book["report_categories"])


async def test_rulebook_lists_the_sanction_catalogue_with_targets_and_articles(
    anon: QunzuClient,
) -> None:
    book = await anon._json("GET", "/v1/rulebook")
    sanctions = {s["id"]: s for s in book["sanctions"]}
    assert set(sanctions) == SANCTION_KINDS
    assert sanctions["closure"]["target"] == "group"
    assert sanctions["lower_credit"]["target"] == "account"
    assert sanctions["refer_to_authority"]["target"] == "referral"
    assert sanctions["warning"]["title"] == {"zh": "警示整改", "en": "Warning and rectification"}
    assert "art-11" in sanctions["blacklist"]["articles"]
    assert sanctions["suspend_admin_rights"]["max_days"] == 90
    assert (
        sanctions["reporting_suspension"]["target"],
        sanctions["reporting_suspension"]["articles"],
    ) == ("account", ["art-12"])
    assert sanctions["closure"]["max_days"] is None


async def test_rulebook_before_the_regulation_took_effect_is_not_found(anon: QunzuClient) -> None:
    # One second before 2017-10-08T00:00:00+08:00 nothing was in force (P3).
    err = await refused(
        anon.request("GET", "/v1/rulebook", params={"at": "2017-10-07T23:59:59+08:00"})
    )
    assert (err.status, err.code) == (404, "no_rulebook_in_force")
    book = await anon._json("GET", "/v1/rulebook", params={"at": "2017-10-08T00:00:00+08:00"})
    assert book["version"] == "2017.1"


async def test_rulebook_moment_without_an_offset_is_refused(anon: QunzuClient) -> None:
    err = await refused(anon.request("GET", "/v1/rulebook", params={"at": "2020-01-01T00:00:00"}))
    assert (err.status, err.code) == (400, "invalid_moment")


async def test_rulebook_versions_lists_the_loaded_version_as_in_force(anon: QunzuClient) -> None:
    versions = await anon._json("GET", "/v1/rulebook/versions")
    assert [(v["version"], v["in_force"]) for v in versions] == [("2017.1", True)]
    assert versions[0]["effective_from"] == "2017-10-08T00:00:00+08:00"


async def test_two_versions_each_moment_gets_the_version_in_force(
    two_versions: ServerThread,
) -> None:
    async with QunzuClient(two_versions.url) as anon:

        async def at(moment: str | None) -> dict[str, Any]:
            book: dict[str, Any] = await anon._json(
                "GET", "/v1/rulebook", params={"at": moment} if moment else None
            )
            return book

        before = await at("2024-12-31T23:59:59+08:00")
        assert (before["version"], before["tiers"]["small_max"]) == ("2017.1", 100)
        since = await at("2025-01-01T00:00:00+08:00")
        assert (since["version"], since["tiers"]["small_max"]) == ("2025.1", 150)
        assert (await at("2019-05-01T12:00:00+00:00"))["version"] == "2017.1"
        assert (await at(None))["version"] == "2025.1"  # the server's clock says 2026
        err = await refused(
            anon.request("GET", "/v1/rulebook", params={"at": "2017-01-01T00:00:00+00:00"})
        )
        assert err.code == "no_rulebook_in_force"


async def test_two_versions_are_listed_oldest_first_with_the_newer_in_force(
    two_versions: ServerThread,
) -> None:
    async with QunzuClient(two_versions.url) as anon:
        versions = await anon._json("GET", "/v1/rulebook/versions")
    assert [(v["version"], v["in_force"]) for v in versions] == [
        ("2017.1", False),
        ("2025.1", True),
    ]


# ---- 2. credit as its holder sees it ----------------------------------------------------


async def test_unverified_account_is_level_zero_and_reads_only(unverified: QunzuClient) -> None:
    mine = await credit(unverified)
    assert mine["score"] == BASE
    assert mine["level"] == 0
    assert (mine["level_name_zh"], mine["level_name_en"]) == ("只读", "Read only")
    assert mine["locked"] is False
    assert mine["rulebook_version"] == "2017.1"
    level0 = mine["levels"][0]
    assert level0["level"] == 0 and level0["can_post"] is False
    assert level0["quotas"]["groups_owned"] == 0
    assert level0["quotas"]["messages_per_minute"] == 0
    assert mine["entries"] == []


async def test_verified_account_scores_base_plus_verification_at_level_one(
    verified: QunzuClient,
) -> None:
    mine = await credit(verified)
    assert mine["score"] == BASE + VERIFIED
    assert mine["level"] == 1
    assert mine["level_name_en"] == "Basic"
    [entry] = mine["entries"]
    assert entry["delta"] == VERIFIED
    assert entry["reason"] == "identity_verified"
    assert entry["reason_zh"] == "完成实名认证"
    assert entry["reason_en"] == "You verified your real identity."
    assert entry["article"] == "art-6"
    assert entry["source"] == "identity:format-check"


async def test_my_credit_shows_what_every_level_allows(verified: QunzuClient) -> None:
    levels = (await credit(verified))["levels"]
    assert [(lvl["level"], lvl["min_score"], lvl["max_score"]) for lvl in levels] == [
        (0, 0, 299),
        (1, 300, 499),
        (2, 500, 699),
        (3, 700, 849),
        (4, 850, 1000),
    ]
    assert [lvl["can_post"] for lvl in levels] == [False, True, True, True, True]
    assert [lvl["quotas"]["groups_owned"] for lvl in levels] == [0, 3, 10, 20, 50]
    assert [lvl["quotas"]["members_per_group"]["work"] for lvl in levels] == [
        0,
        100,
        500,
        2000,
        3000,
    ]
    assert [lvl["name_zh"] for lvl in levels] == ["只读", "基础", "良好", "优秀", "卓越"]
    expected_keys = {
        "groups_owned",
        "groups_joined",
        "new_groups_per_day",
        "messages_per_minute",
        "invitations_per_day",
        "reports_per_day",
        "members_per_group",
    }
    assert all(set(lvl["quotas"]) == expected_keys for lvl in levels)


async def test_a_penalty_is_a_ledger_entry_explained_in_both_languages(
    srv: ServerThread, verified: QunzuClient
) -> None:
    await penalise(srv, verified, -50, CreditReason.upheld_report_against)
    mine = await credit(verified)
    assert mine["score"] == BASE + VERIFIED - 50
    newest = mine["entries"][0]
    assert newest["delta"] == -50
    assert newest["reason"] == "upheld_report_against"
    assert newest["reason_zh"] == "针对你的举报经核实成立"
    assert newest["reason_en"] == "A report about your conduct was upheld."
    assert (newest["article"], newest["source"]) == ("art-10", "test:e2e")
    assert [e["reason"] for e in mine["entries"]] == ["upheld_report_against", "identity_verified"]


async def test_promotion_happens_at_the_band_floor(
    srv: ServerThread, verified: QunzuClient
) -> None:
    await penalise(srv, verified, 99, CreditReason.manual_adjustment, None)  # 499
    assert await standing(verified) == (499, 1)
    await penalise(srv, verified, 1, CreditReason.manual_adjustment, None)  # 500
    mine = await credit(verified)
    assert (mine["score"], mine["level"], mine["level_name_en"]) == (500, 2, "Good")


async def test_demotion_only_below_ninety_percent_of_the_band_floor(
    srv: ServerThread, verified: QunzuClient
) -> None:
    await penalise(srv, verified, 200, CreditReason.manual_adjustment, None)
    assert await standing(verified) == (600, 2)
    # Level 2 starts at 500; 90% of that is 450. At 460 and at 450 the level holds.
    await penalise(srv, verified, -140)
    assert await standing(verified) == (460, 2)
    await penalise(srv, verified, -10)
    assert await standing(verified) == (450, 2)
    # One point below it, the level follows the score's band.
    await penalise(srv, verified, -1)
    mine = await credit(verified)
    assert (mine["score"], mine["level"]) == (449, 1)


async def test_a_penalty_fades_linearly_and_is_forgiven_after_the_window(
    srv: ServerThread, verified: QunzuClient
) -> None:
    clock = clock_of(srv)
    await penalise(srv, verified, -100)
    assert (await credit(verified))["score"] == BASE + VERIFIED - 100
    # Half the 180-day window later the penalty weighs half; age adds 10 per 30 days.
    clock.advance(timedelta(days=90))
    mine = await credit(verified)
    assert mine["score"] == BASE + VERIFIED + 30 - 50
    age = [e for e in mine["entries"] if e["reason"] == "account_age"]
    assert [e["delta"] for e in age] == [30]
    assert age[0]["reason_en"] == "Your account has been with us longer."
    assert age[0]["reason_zh"] == "账号使用时间增加"
    # At the end of the window it is fully forgiven, and stays so.
    clock.advance(timedelta(days=90))
    assert (await credit(verified))["score"] == BASE + VERIFIED + 60
    clock.advance(timedelta(days=20))
    assert (await credit(verified))["score"] == BASE + VERIFIED + 60
    # The entry itself stays in the ledger: the user can still see what happened.
    assert any(e["delta"] == -100 for e in (await credit(verified))["entries"])


# ---- 2b. level locks by a senior reviewer -------------------------------------------------


async def test_senior_reviewer_locks_a_level_and_it_holds_against_the_score(
    srv: ServerThread, senior: QunzuClient, verified: QunzuClient
) -> None:
    account_id = me(verified)["id"]
    state = await lock(senior, account_id, 3, "trusted community organiser")
    assert (state["account_id"], state["level"], state["locked_level"]) == (account_id, 3, 3)
    assert state["score"] == BASE + VERIFIED
    mine = await credit(verified)
    assert (mine["level"], mine["locked"], mine["level_name_en"]) == (3, True, "Very good")
    await penalise(srv, verified, -300)
    mine = await credit(verified)
    assert (mine["score"], mine["level"]) == (BASE + VERIFIED - 300, 3)


async def test_a_lock_writes_an_audit_entry_and_the_chain_still_verifies(
    srv: ServerThread, senior: QunzuClient, verified: QunzuClient
) -> None:
    async with await platform_user(srv, PlatformRole.auditor) as auditor:
        before = await auditor.verify_audit()
        await lock(senior, me(verified)["id"], 2, "manual review of case 17")
        after = await auditor.verify_audit()
    assert before["ok"] is True and after["ok"] is True
    # the lock's entry, and the first verification's own
    assert after["checked"] == after["expected"] == before["checked"] + 2
    lock_entry, check_entry = (await audit_entries(srv))[-2:]
    assert (lock_entry.action, lock_entry.subject, lock_entry.actor_id) == (
        "credit.lock",
        f"account:{me(verified)['id']}",
        me(senior)["id"],
    )
    assert (check_entry.action, check_entry.actor_id) == ("audit.verify", me(auditor)["id"])
    assert lock_entry.detail == {"level": 2, "previous": 1, "reason": "manual review of case 17"}


async def test_releasing_a_lock_returns_the_level_to_the_band_of_the_score(
    srv: ServerThread, senior: QunzuClient, verified: QunzuClient
) -> None:
    account_id = me(verified)["id"]
    await penalise(srv, verified, 60, CreditReason.manual_adjustment, None)  # 460: band 1
    await lock(senior, account_id, 2, "temporary trust for an event")
    released = await lock(senior, account_id, None, "the event is over")
    # 460 is within 90% of level 2's floor, but level 2 was the lock's, never earned:
    # hysteresis keeps an earned level, it does not keep a lifted lock.
    assert (released["level"], released["locked_level"]) == (1, None)
    mine = await credit(verified)
    assert (mine["level"], mine["locked"]) == (1, False)
    last = (await audit_entries(srv))[-1]
    assert (last.action, last.detail["level"], last.detail["previous"]) == (
        "credit.unlock",
        None,
        2,
    )


async def test_a_lock_by_an_ordinary_user_is_refused(
    verified: QunzuClient, unverified: QunzuClient
) -> None:
    err = await refused(lock(verified, me(unverified)["id"], 4, "I like this person"))
    assert (err.status, err.code) == (403, "platform_role_required")
    assert (await credit(unverified))["locked"] is False


@pytest.mark.parametrize("role", [PlatformRole.reviewer, PlatformRole.auditor])
async def test_a_lock_by_staff_below_senior_reviewer_is_refused(
    srv: ServerThread, verified: QunzuClient, role: PlatformRole
) -> None:
    async with await platform_user(srv, role) as staff:
        err = await refused(lock(staff, me(verified)["id"], 4, "not my decision to make"))
    assert (err.status, err.code) == (403, "platform_role_required")


@pytest.mark.parametrize(
    ("level", "reason", "code"),
    [
        (2, "", "reason_required"),
        (2, "why", "reason_required"),
        (2, "   ok  ", "reason_required"),
        (7, "there is no level seven", "unknown_level"),
    ],
    ids=["no-reason", "short-reason", "padded-short-reason", "unknown-level"],
)
async def test_a_lock_without_a_real_reason_or_at_an_unknown_level_is_refused(
    senior: QunzuClient, verified: QunzuClient, level: int, reason: str, code: str
) -> None:
    err = await refused(lock(senior, me(verified)["id"], level, reason))
    assert (err.status, err.code) == (400, code)
    assert (await credit(verified))["locked"] is False


async def test_a_lock_on_an_unknown_account_is_not_found(senior: QunzuClient) -> None:
    err = await refused(lock(senior, 2**40, 2, "nobody has this account id"))
    assert (err.status, err.code) == (404, "account_not_found")
