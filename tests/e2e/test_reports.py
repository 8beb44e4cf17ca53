"""Reporting (举报, Art. 12) against a real server: filing, evidence, routing (P8), misuse, quotas.

The helpers at the top (``scene``, ``measure``, ``has_notice``...) are shared with the other
report, review, sanction and records suites; ``People`` and ``refused`` are tests/factories.py's.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qunzu.client import QunzuClient
from qunzu.domain.models import PlatformRole
from tests.factories import People, add_member, collect, crowd, make_group, refused
from tests.factories import account_id as me
from tests.rulebooks import generous_rulebook_text
from tests.server import ServerThread, test_settings

FACTS = "Insulted another member of the group repeatedly."
Frame = dict[str, Any]


# ---- shared helpers -----------------------------------------------------------------------


@dataclass
class Scene:
    """owner's group with offender and reporter in it; the offender posted, the reporter
    reported the message."""

    owner: QunzuClient
    offender: QunzuClient
    reporter: QunzuClient
    group: dict[str, Any]
    seq: int
    receipt: dict[str, Any]
    others: list[QunzuClient]

    @property
    def case_id(self) -> int:
        return int(self.receipt["case_id"])


async def scene(
    people: People,
    *,
    public: bool = True,
    category: str = "insult-defamation",
    body: str = "you are an idiot",
    others: int = 0,
) -> Scene:
    """Public groups reach the platform queue at once; small ones go to the owner first."""
    owner, offender, reporter = (
        await people.user("owner"),
        await people.user("offender"),
        await people.user("reporter"),
    )
    if public:
        group = await make_group(owner, join_policy="open", discoverable=True)
    else:
        group = await make_group(owner)
    await add_member(owner, group, offender)
    await add_member(owner, group, reporter)
    witnesses = [await people.user("witness") for _ in range(others)]
    for witness in witnesses:
        await add_member(owner, group, witness)
    seq = (await offender.send(group["id"], body))["seq"]
    receipt = await reporter.report(group["id"], "message", category, "insulting", seq=seq)
    return Scene(owner, offender, reporter, group, seq, receipt, witnesses)


def measure(kind: str, article: str = "art-11", days: int | None = None, **kw: Any) -> dict:
    """One sanction for a decision body."""
    body: dict[str, Any] = {"kind": kind, "article": article, "facts": FACTS, **kw}
    if days is not None:
        body["days"] = days
    return body


def has_notice(kind: str, **fields: object) -> Callable[[list[Frame]], bool]:
    def done(frames: list[Frame]) -> bool:
        return any(
            f.get("type") == "notice"
            and f.get("kind") == kind
            and all(f.get(k) == v for k, v in fields.items())
            for f in frames
        )

    return done


def notices(frames: list[Frame], kind: str) -> list[Frame]:
    return [f for f in frames if f.get("type") == "notice" and f.get("kind") == kind]


# ---- fixtures -----------------------------------------------------------------------------


people = crowd()  # on the plain server: these tests do not move the clock


def quota_rulebook_text() -> str:
    """The generous test rulebook with small daily report quotas: 1 at level 0, 2 at level 1..."""
    values = iter(range(1, 6))
    return re.sub(
        r"reports_per_day = \d+",
        lambda _: f"reports_per_day = {next(values)}",
        (generous_rulebook_text()),
    )


@pytest.fixture(scope="module")
def quota_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    data_dir: Path = tmp_path_factory.mktemp("qunzu-report-quota")
    path = data_dir / "quota.toml"
    path.write_text(quota_rulebook_text(), encoding="utf-8")
    thread = ServerThread(test_settings(data_dir, rulebook_files=[path])).start()
    yield thread
    thread.stop()


# ---- filing -------------------------------------------------------------------------------


async def test_a_report_gets_a_receipt_and_appears_among_my_reports(people: People) -> None:
    s = await scene(people)
    assert s.receipt["status"] == "open"
    assert s.receipt["outcome"] is None
    assert s.receipt["category"] == "insult-defamation"
    mine = await s.reporter.my_reports()
    assert [(r["report_id"], r["case_id"]) for r in mine] == [(s.receipt["report_id"], s.case_id)]
    assert await s.offender.my_reports() == []


async def test_a_member_and_a_group_can_be_reported(people: People) -> None:
    s = await scene(people, public=False)
    member = await s.reporter.report(
        s.group["id"], "member", "fraud", "asks for money", account_id=me(s.offender)
    )
    group = await s.reporter.report(s.group["id"], "group", "spam", "all ads")
    assert len({s.case_id, member["case_id"], group["case_id"]}) == 3


async def test_reporting_the_same_target_twice_is_409_duplicate_report(people: People) -> None:
    s = await scene(people)
    err = await refused(s.reporter.report(s.group["id"], "message", "spam", seq=s.seq))
    assert (err.status, err.code) == (409, "duplicate_report")


async def test_a_message_from_before_one_joined_is_404(people: People) -> None:
    owner, late = await people.user("owner"), await people.user("late")
    group = await make_group(owner)
    seq = (await owner.send(group["id"], "before you came"))["seq"]
    await add_member(owner, group, late)
    err = await refused(late.report(group["id"], "message", "insult-defamation", seq=seq))
    assert (err.status, err.code) == (404, "message_not_found")


async def test_a_message_that_does_not_exist_is_404(people: People) -> None:
    s = await scene(people, public=False)
    err = await refused(
        s.reporter.report(s.group["id"], "message", "insult-defamation", seq=s.seq + 1000)
    )
    assert (err.status, err.code) == (404, "message_not_found")


async def test_reporting_in_a_hidden_group_one_is_not_in_is_404(people: People) -> None:
    s = await scene(people, public=False)
    outsider = await people.user("outsider")
    err = await refused(outsider.report(s.group["id"], "message", "spam", seq=s.seq))
    assert (err.status, err.code) == (404, "group_not_found")
    err = await refused(outsider.report(s.group["id"], "group", "spam"))
    assert (err.status, err.code) == (404, "group_not_found")


async def test_reporting_messages_of_a_public_group_one_is_not_in_is_403(people: People) -> None:
    s = await scene(people)
    outsider = await people.user("outsider")
    err = await refused(outsider.report(s.group["id"], "message", "spam", seq=s.seq))
    assert (err.status, err.code) == (403, "not_a_member")


async def test_anyone_may_report_a_public_group(people: People) -> None:
    s = await scene(people)
    outsider = await people.user("outsider")
    receipt = await outsider.report(s.group["id"], "group", "spam", "advertising everywhere")
    assert receipt["route"] == "platform"


async def test_a_former_member_cannot_report_a_group_that_is_not_public(people: People) -> None:
    s = await scene(people, public=False)
    await s.offender.leave(s.group["id"])
    err = await refused(s.offender.report(s.group["id"], "group", "spam"))
    assert (err.status, err.code) == (403, "not_a_member")


async def test_an_unknown_category_is_400(people: People) -> None:
    s = await scene(people)
    err = await refused(s.reporter.report(s.group["id"], "group", "gossip"))
    assert (err.status, err.code) == (400, "unknown_category")


async def test_a_statement_over_1000_characters_is_refused(people: People) -> None:
    s = await scene(people)
    err = await refused(s.reporter.report(s.group["id"], "group", "spam", "x" * 1001))
    assert err.status == 422


# ---- evidence -----------------------------------------------------------------------------


async def test_outside_the_private_tier_the_evidence_keeps_ten_messages_of_context(
    people: People,
) -> None:
    owner, offender, reporter = (
        await people.user("owner"),
        await people.user("offender"),
        await people.user("reporter"),
    )
    group = await make_group(owner, join_policy="open", discoverable=True)
    await add_member(owner, group, offender)
    await add_member(owner, group, reporter)
    before = [(await owner.send(group["id"], f"context {i}"))["seq"] for i in range(12)]
    seq = (await offender.send(group["id"], "you are an idiot"))["seq"]
    await owner.send(group["id"], "after the report")
    receipt = await reporter.report(group["id"], "message", "insult-defamation", seq=seq)
    reviewer = await people.staff(PlatformRole.reviewer)
    evidence = (await reviewer.case_file(receipt["case_id"]))["evidence"]
    assert [e["seq"] for e in evidence] == [*before[-10:], seq]
    assert [e["reported"] for e in evidence] == [False] * 10 + [True]
    assert evidence[-1]["body"] == "you are an idiot"
    assert evidence[-1]["sender_id"] == me(offender)
    assert "after the report" not in [e["body"] for e in evidence]


async def test_in_a_direct_chat_only_the_reported_message_reaches_the_platform(
    people: People,
) -> None:
    alice, bob = await people.user("alice"), await people.user("bob")
    assert bob.account is not None
    direct = await alice.open_direct(bob.account["handle"])
    for i in range(3):
        await bob.send(direct["id"], f"private {i}")
    seq = (await bob.send(direct["id"], "I know where you live"))["seq"]
    receipt = await alice.report(direct["id"], "message", "threat-to-life", seq=seq)
    reviewer = await people.staff(PlatformRole.reviewer)
    case_file = await reviewer.case_file(receipt["case_id"])
    assert case_file["case"]["tier"] == "private"
    assert [(e["seq"], e["body"], e["reported"]) for e in case_file["evidence"]] == [
        (seq, "I know where you live", True)
    ]


async def test_a_direct_chat_case_file_gives_its_content_to_reviewers_only(
    people: People,
) -> None:
    alice, bob = await people.user("alice"), await people.user("bob")
    assert bob.account is not None
    direct = await alice.open_direct(bob.account["handle"])
    seq = (await bob.send(direct["id"], "a private threat"))["seq"]
    receipt = await alice.report(direct["id"], "message", "threat-to-life", "scared", seq=seq)
    seen = {}
    for role in PlatformRole:
        case_file = await (await people.staff(role)).case_file(receipt["case_id"])
        seen[role.value] = (
            case_file["content_withheld"],
            [e["body"] for e in case_file["evidence"]],
            [r["statement"] for r in case_file["reports"]],
        )
    assert seen == {
        "reviewer": (False, ["a private threat"], ["scared"]),
        "senior-reviewer": (False, ["a private threat"], ["scared"]),
        "auditor": (True, [None], [""]),
        "admin": (True, [None], [""]),
    }
    err = await refused(alice.case_file(receipt["case_id"]))
    assert (err.status, err.code) == (403, "platform_role_required")


async def test_attached_messages_join_the_evidence(people: People) -> None:
    s = await scene(people)
    more = (await s.offender.send(s.group["id"], "and a fool"))["seq"]
    receipt = await s.reporter.report(
        s.group["id"], "member", "insult-defamation", account_id=me(s.offender), extra_seqs=[more]
    )
    reviewer = await people.staff(PlatformRole.reviewer)
    evidence = (await reviewer.case_file(receipt["case_id"]))["evidence"]
    assert [(e["seq"], e["reported"]) for e in evidence if e["reported"]] == [(more, True)]


# ---- one case per target --------------------------------------------------------------------


async def test_distinct_reporters_join_one_case_and_raise_its_priority(people: People) -> None:
    s = await scene(people, others=1)
    second = s.others[0]
    reviewer = await people.staff(PlatformRole.reviewer)
    before = (await reviewer.case_file(s.case_id))["case"]
    again = await second.report(s.group["id"], "message", "insult-defamation", seq=s.seq)
    assert again["case_id"] == s.case_id
    after = await reviewer.case_file(s.case_id)
    assert after["case"]["reporters"] == 2
    assert after["case"]["priority"] > before["priority"]
    assert sorted(r["reporter_id"] for r in after["reports"]) == sorted(
        [me(s.reporter), me(second)]
    )


# ---- routing (P8) -------------------------------------------------------------------------


async def test_a_normal_report_in_a_small_group_is_an_owner_notice_for_owner_and_admins(
    people: People,
) -> None:
    s = await scene(people, public=False)
    admin = await people.user("admin")
    await add_member(s.owner, s.group, admin)
    await s.owner.set_role(s.group["id"], me(admin), "admin")
    assert s.receipt["route"] == "owner"
    for manager in (s.owner, admin):
        (notice,) = [n for n in await manager.owner_notices() if n["case"]["id"] == s.case_id]
        assert notice["case"]["route"] == "owner"
        assert notice["respond_by"] == notice["case"]["platform_visible_at"]
    (notice,) = await s.owner.owner_notices()
    assert notice["reported_message"]["seq"] == s.seq
    assert notice["reported_message"]["body"] == "you are an idiot"
    # The admin joined after the message: the notice, not the message (duty-of-care.md).
    (notice,) = await admin.owner_notices()
    assert (notice["reported_message"], notice["reported_message_withheld"]) == (None, True)
    assert await s.reporter.owner_notices() == []
    assert await s.offender.owner_notices() == []


async def test_the_owner_hears_of_a_report_live(people: People) -> None:
    owner, offender, reporter = (
        await people.user("owner"),
        await people.user("offender"),
        await people.user("reporter"),
    )
    group = await make_group(owner)
    await add_member(owner, group, offender)
    await add_member(owner, group, reporter)
    seq = (await offender.send(group["id"], "idiot"))["seq"]
    async with owner.events() as stream:
        receipt = await reporter.report(group["id"], "message", "insult-defamation", seq=seq)
        frames = await collect(stream, has_notice("owner_notice", case_id=receipt["case_id"]))
    (notice,) = notices(frames, "owner_notice")
    assert notice["group_id"] == group["id"]


async def test_a_severe_category_reaches_the_platform_at_once(people: People) -> None:
    s = await scene(people, public=False, category="threat-to-life", body="I will hurt you")
    assert s.receipt["route"] == "platform"
    reviewer = await people.staff(PlatformRole.reviewer)
    queued = await reviewer.cases(severity="severe", limit=200)
    assert s.case_id in [c["id"] for c in queued]
    assert await s.owner.owner_notices() == []


async def test_a_public_group_reaches_the_platform_at_once(people: People) -> None:
    s = await scene(people, public=True)
    assert s.receipt["route"] == "platform"


async def test_a_report_about_the_owner_reaches_the_platform_at_once(people: People) -> None:
    owner, reporter = await people.user("owner"), await people.user("reporter")
    group = await make_group(owner)
    await add_member(owner, group, reporter)
    seq = (await owner.send(group["id"], "shut up"))["seq"]
    receipt = await reporter.report(group["id"], "message", "insult-defamation", seq=seq)
    assert receipt["route"] == "platform"


async def test_a_report_about_an_admin_reaches_the_platform_at_once(people: People) -> None:
    s = await scene(people, public=False)
    await s.owner.set_role(s.group["id"], me(s.offender), "admin")
    receipt = await s.reporter.report(
        s.group["id"], "member", "insult-defamation", account_id=me(s.offender)
    )
    assert receipt["route"] == "platform"


async def test_removing_the_reported_member_in_time_closes_the_case_as_handled_by_owner(
    people: People,
) -> None:
    s = await scene(people, public=False)
    async with s.reporter.events() as stream:
        await s.owner.remove_member(s.group["id"], me(s.offender), "insults")
        frames = await collect(stream, has_notice("report_outcome", case_id=s.case_id))
    assert notices(frames, "report_outcome")[0]["outcome"] == "handled_by_owner"
    (mine,) = await s.reporter.my_reports()
    assert (mine["status"], mine["outcome"]) == ("handled_by_owner", "handled_by_owner")
    assert await s.owner.owner_notices() == []


# ---- misuse of reporting (DSA Art. 23) ----------------------------------------------------


async def test_manifestly_unfounded_reports_bring_a_warning_then_a_reporting_suspension(
    people: People,
) -> None:
    owner, serial = await people.user("owner"), await people.user("serial")
    group = await make_group(owner, join_policy="open", discoverable=True)
    await add_member(owner, group, serial)
    reviewer = await people.staff(PlatformRole.reviewer)
    seqs = [(await owner.send(group["id"], f"harmless {i}"))["seq"] for i in range(6)]
    async with serial.events() as stream:
        for seq in seqs[:5]:
            receipt = await serial.report(group["id"], "message", "insult-defamation", seq=seq)
            await reviewer.decide_case(
                receipt["case_id"], "no_violation", manifestly_unfounded=True
            )
        frames = await collect(stream, has_notice("reporting_suspended"))
    warnings = notices(frames, "reporting_warning")
    assert [w["unfounded_reports"] for w in warnings] == [3]
    (suspension,) = notices(frames, "reporting_suspended")
    assert suspension["unfounded_reports"] == 5
    assert suspension["article"] == "art-12"
    assert suspension["until"]
    err = await refused(serial.report(group["id"], "message", "spam", seq=seqs[5]))
    assert (err.status, err.code) == (403, "reporting_suspended")
    assert suspension["until"][:10] in err.detail


async def test_an_unfounded_report_lowers_the_reporters_weight(people: People) -> None:
    owner, reporter = await people.user("owner"), await people.user("reporter")
    group = await make_group(owner, join_policy="open", discoverable=True)
    await add_member(owner, group, reporter)
    reviewer = await people.staff(PlatformRole.reviewer)
    first_seq, second_seq = [(await owner.send(group["id"], f"m{i}"))["seq"] for i in range(2)]
    first = await reporter.report(group["id"], "message", "spam", seq=first_seq)
    await reviewer.decide_case(first["case_id"], "no_violation", manifestly_unfounded=True)
    second = await reporter.report(group["id"], "message", "spam", seq=second_seq)
    weights = [
        (await reviewer.case_file(r["case_id"]))["reports"][0]["reporter_weight"]
        for r in (first, second)
    ]
    assert weights[1] < weights[0]


# ---- rate limit by credit level -----------------------------------------------------------


async def test_the_daily_report_quota_follows_the_credit_level(quota_server: ServerThread) -> None:
    crowd = People(quota_server)
    try:
        owner = await crowd.user("owner")
        level0 = await crowd.user("unverified", verified=False)
        level1 = await crowd.user("verified")
        group = await make_group(owner)
        await add_member(owner, group, level0)
        await add_member(owner, group, level1)
        seqs = [(await owner.send(group["id"], f"m{i}"))["seq"] for i in range(3)]
        for reporter, level, limit in ((level0, 0, 1), (level1, 1, 2)):
            for seq in seqs[:limit]:
                await reporter.report(group["id"], "message", "spam", seq=seq)
            err = await refused(reporter.report(group["id"], "message", "spam", seq=seqs[limit]))
            assert (err.status, err.code) == (429, "quota_exceeded")
            assert err.problem["quota"] == "reports_per_day"
            assert (err.problem["level"], err.problem["limit"]) == (level, limit)
    finally:
        await crowd.close()


def test_the_quota_rulebook_only_changes_report_quotas() -> None:
    """Guard for the fixture above: it edits exactly the five report quotas."""
    edited, original = quota_rulebook_text(), generous_rulebook_text()
    assert len(re.findall(r"reports_per_day = \d+", edited)) == 5
    assert re.sub(r"reports_per_day = \d+", "", edited) == re.sub(
        r"reports_per_day = \d+", "", original
    )
