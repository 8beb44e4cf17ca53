"""Sanctions on every path, statements of reasons and appeals (Art. 11; P3, P4; DSA Arts. 17, 20).

A real server with a frozen clock: expiry and appeal windows are tested by moving it.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from qunzu.client import QunzuClient
from qunzu.domain.clock import FrozenClock
from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import FACTS, Scene, collect, has_notice, me, measure, notices, scene
from tests.factories import People, add_member, make_group, refused
from tests.server import ServerThread


@pytest.fixture
def clock(clocked_server: ServerThread) -> FrozenClock:
    assert clocked_server.clock is not None
    return clocked_server.clock


async def impose(
    people: People, s: Scene, *measures: dict[str, Any], role: PlatformRole = PlatformRole.reviewer
) -> tuple[QunzuClient, list[dict[str, Any]]]:
    """A reviewer decides the scene's case as a violation with these measures."""
    reviewer = await people.staff(role)
    decided = await reviewer.decide_case(s.case_id, "violation", list(measures))
    return reviewer, decided["sanctions"]


async def group_report(people: People) -> Scene:
    """A public group reported as a whole: account measures fall on its owner."""
    s = await scene(people)
    receipt = await s.reporter.report(s.group["id"], "group", "spam", "the owner runs ads")
    return Scene(s.owner, s.offender, s.reporter, s.group, s.seq, receipt, s.others)


async def history_kinds(client: QunzuClient, group_id: int) -> list[dict[str, Any]]:
    return (await client.history(group_id, limit=200))["entries"]


# ---- on a group ---------------------------------------------------------------------------


async def test_a_warning_is_a_banner_in_the_group_until_the_owner_acknowledges(
    people: People,
) -> None:
    s = await scene(people)
    _, (warning,) = await impose(people, s, measure("warning", "art-10", days=7))
    assert (warning["target"], warning["group_id"]) == ("group", s.group["id"])
    banner = [
        e for e in await history_kinds(s.reporter, s.group["id"]) if e["kind"] == "sanction_imposed"
    ]
    assert [(e["data"]["kind"], e["data"]["article"]) for e in banner] == [("warning", "art-10")]
    assert banner[0]["data"]["sanction_id"] == warning["id"]
    until = datetime.fromisoformat(banner[0]["data"]["until"])
    assert until == datetime.fromisoformat(warning["ends_at"])
    assert [x["id"] for x in await s.owner.my_sanctions()] == [warning["id"]]
    err = await refused(s.reporter.acknowledge_warning(warning["id"]))
    assert (err.status, err.code) == (403, "not_permitted")
    acknowledged = await s.owner.acknowledge_warning(warning["id"])
    assert acknowledged["acknowledged_at"] is not None
    err = await refused(s.owner.acknowledge_warning(warning["id"]))
    assert (err.status, err.code) == (409, "already_acknowledged")


async def test_a_posting_suspension_silences_members_but_not_owner_or_admin(
    people: People,
) -> None:
    s = await scene(people, others=1)
    admin = s.others[0]
    await s.owner.set_role(s.group["id"], me(admin), "admin")
    _, (suspension,) = await impose(people, s, measure("posting_suspension", "art-10", days=3))
    for member in (s.offender, s.reporter):
        err = await refused(member.send(s.group["id"], "can I speak?"))
        assert (err.status, err.code) == (403, "posting_suspended")
        assert err.problem["sanction_id"] == suspension["id"]
    await s.owner.send(s.group["id"], "notice from the owner")
    await admin.send(s.group["id"], "notice from an admin")


async def test_a_posting_suspension_expires_on_time(people: People, clock: FrozenClock) -> None:
    s = await scene(people)
    _, (suspension,) = await impose(people, s, measure("posting_suspension", "art-10", days=2))
    clock.advance(timedelta(days=2) - timedelta(seconds=1))
    err = await refused(s.reporter.send(s.group["id"], "not yet"))
    assert err.code == "posting_suspended"
    clock.advance(timedelta(seconds=1))
    await s.reporter.send(s.group["id"], "back again")
    sor = await s.owner.statement_of_reasons(suspension["id"])
    assert sor["in_force"] is False


async def test_a_closed_group_is_read_only_until_the_closure_is_lifted(people: People) -> None:
    s = await scene(people)
    _, (closure,) = await impose(people, s, measure("closure", "art-10"))
    assert closure["ends_at"] is None
    for client in (s.owner, s.reporter):
        err = await refused(client.send(s.group["id"], "hello?"))
        assert (err.status, err.code) == (409, "group_closed")
    assert (await s.reporter.group(s.group["id"]))["state"] == "closed"
    assert [e["kind"] for e in await history_kinds(s.reporter, s.group["id"])][-1] == (
        "sanction_imposed"
    )
    newcomer = await people.user("newcomer")
    err = await refused(newcomer.join(s.group["id"]))
    assert (err.status, err.code) == (409, "group_closed")
    senior = await people.staff(PlatformRole.senior_reviewer)
    lifted = await senior.lift_sanction(closure["id"], "closed in error")
    assert lifted["state"] == "lifted"
    await s.reporter.send(s.group["id"], "open again")


async def test_a_closure_takes_no_period_as_it_lasts_until_lifted(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    err = await refused(
        reviewer.decide_case(s.case_id, "violation", [measure("closure", "art-10", days=3)])
    )
    assert (err.status, err.code) == (400, "invalid_days")
    assert (await reviewer.case_file(s.case_id))["case"]["status"] == "open"


# ---- on an account ------------------------------------------------------------------------


async def test_lower_credit_is_a_ledger_entry_the_user_can_see(people: People) -> None:
    s = await scene(people)
    before = await s.offender.credit()
    _, (lowered,) = await impose(people, s, measure("lower_credit", "art-7"))
    # At least the rulebook's "major" penalty, and enough to drop one level.
    assert lowered["credit_delta"] <= -80
    credit = await s.offender.credit()
    (entry,) = [e for e in credit["entries"] if e["reason"] == "sanction"]
    assert (entry["delta"], entry["article"], entry["source"]) == (
        lowered["credit_delta"],
        "art-7",
        f"sanction:{lowered['id']}",
    )
    assert credit["level"] == before["level"] - 1


async def test_suspended_management_rights_refuse_the_owners_tools_in_that_group(
    people: People,
) -> None:
    s = await group_report(people)
    elsewhere = await make_group(s.owner)
    bystander = await people.user("bystander")
    await add_member(s.owner, elsewhere, bystander)
    _, (suspension,) = await impose(
        people, s, measure("suspend_admin_rights", "art-9", days=30, scope_group_id=s.group["id"])
    )
    assert (suspension["account_id"], suspension["group_id"]) == (me(s.owner), s.group["id"])
    for call in (
        s.owner.remove_member(s.group["id"], me(s.offender)),
        s.owner.set_role(s.group["id"], me(s.reporter), "admin"),
        s.owner.set_rules(s.group["id"], "be nice"),
    ):
        err = await refused(call)
        assert (err.status, err.code) == (403, "management_suspended")
    await s.owner.remove_member(elsewhere["id"], me(bystander))


async def test_suspended_management_rights_in_all_groups(people: People) -> None:
    s = await group_report(people)
    elsewhere = await make_group(s.owner)
    bystander = await people.user("bystander")
    await add_member(s.owner, elsewhere, bystander)
    await impose(people, s, measure("suspend_admin_rights", "art-9", days=30))
    for gid, account in ((s.group["id"], me(s.offender)), (elsewhere["id"], me(bystander))):
        err = await refused(s.owner.remove_member(gid, account))
        assert (err.status, err.code) == (403, "management_suspended")


async def test_revoked_group_creation_refuses_new_groups_until_it_ends(
    people: People, clock: FrozenClock
) -> None:
    s = await scene(people)
    senior = await people.staff(PlatformRole.senior_reviewer)
    await senior.lock_level(me(s.offender), 2, "keep the level fixed for this test")
    _, (revoked,) = await impose(people, s, measure("revoke_group_creation", "art-8", days=5))
    err = await refused(make_group(s.offender))
    assert (err.status, err.code) == (403, "group_creation_revoked")
    assert err.problem["sanction_id"] == revoked["id"]
    clock.advance(timedelta(days=5))
    assert (await make_group(s.offender))["owner_id"] == me(s.offender)


async def test_a_blacklisted_account_cannot_create_join_or_post_but_can_read(
    people: People,
) -> None:
    s = await scene(people)
    await impose(people, s, measure("blacklist", days=30))
    open_owner = await people.user("open")
    open_group = await make_group(open_owner, join_policy="open", discoverable=True)
    for call in (
        s.offender.send(s.group["id"], "hello"),
        make_group(s.offender),
        s.offender.join(open_group["id"]),
    ):
        err = await refused(call)
        assert (err.status, err.code) == (403, "blacklisted")
    entries = await history_kinds(s.offender, s.group["id"])
    assert any(e.get("body") == "you are an idiot" for e in entries)


async def test_a_referral_is_recorded_but_not_a_punishment(people: People) -> None:
    s = await scene(people)
    _, (referral,) = await impose(people, s, measure("refer_to_authority", "art-13"))
    assert (referral["target"], referral["account_id"]) == ("referral", me(s.offender))
    assert referral["credit_delta"] == 0
    await s.offender.send(s.group["id"], "still allowed to speak")
    assert not [e for e in (await s.offender.credit())["entries"] if e["reason"] == "sanction"]


async def test_an_account_measure_may_fall_on_a_manager_but_not_on_a_bystander(
    people: People,
) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    on_reporter = measure("lower_credit", "art-7", account_id=me(s.reporter))
    err = await refused(reviewer.decide_case(s.case_id, "violation", [on_reporter]))
    assert (err.status, err.code) == (400, "wrong_target")
    on_owner = measure("lower_credit", "art-7", account_id=me(s.owner))
    decided = await reviewer.decide_case(s.case_id, "violation", [on_owner])
    assert decided["sanctions"][0]["account_id"] == me(s.owner)


async def test_lifting_a_sanction_needs_a_senior_and_is_audited(
    people: People, clocked_server: ServerThread
) -> None:
    s = await scene(people)
    reviewer, (blacklisted,) = await impose(people, s, measure("blacklist", days=30))
    err = await refused(reviewer.lift_sanction(blacklisted["id"], "changed my mind"))
    assert (err.status, err.code) == (403, "platform_role_required")
    senior = await people.staff(PlatformRole.senior_reviewer)
    # Lifting is not overturning: the credit entry stays, so hold the level for this test.
    await senior.lock_level(me(s.offender), 1, "keep the level fixed for this test")
    await senior.lift_sanction(blacklisted["id"], "imposed on the wrong account")
    await s.offender.send(s.group["id"], "free again")
    err = await refused(senior.lift_sanction(blacklisted["id"], "again"))
    assert (err.status, err.code) == (409, "sanction_not_active")
    ctx = clocked_server.app.state.qunzu.ctx

    async def lifts() -> list[Any]:
        async with ctx.uow(write=False) as uow:
            return [
                a
                for a in await uow.audit.scan(0, 100_000)
                if a.action == "sanction.lift" and a.subject == f"sanction:{blacklisted['id']}"
            ]

    (entry,) = await clocked_server.acall(lifts)
    assert entry.actor_id == me(senior)
    assert entry.detail["reason"] == "imposed on the wrong account"


# ---- statements of reasons ----------------------------------------------------------------


async def test_the_statement_of_reasons_arrives_live_and_says_everything(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    async with s.offender.events() as stream:
        decided = await reviewer.decide_case(
            s.case_id, "violation", [measure("blacklist", days=10)]
        )
        (sanction,) = decided["sanctions"]
        frames = await collect(stream, has_notice("statement_of_reasons"))
    (notice,) = notices(frames, "statement_of_reasons")
    assert (notice["sanction_id"], notice["measure"]) == (sanction["id"], "blacklist")
    sor = await s.offender.statement_of_reasons(sanction["id"])
    assert sor["sanction"]["facts"] == FACTS
    assert (sor["measure_zh"], sor["measure_en"]) == ("列入黑名单", "Blacklist")
    assert (sor["article_id"], sor["article_title_en"]) == ("art-11", "Sanctions")
    assert sor["article_text_zh"] and sor["article_text_en"]
    assert sor["evidence_seqs"] == [s.seq]
    assert sor["decided_by_role"] == "platform reviewer"
    assert sor["sanction"]["decided_by"] == me(reviewer)
    assert sor["automated"] is False and sor["in_force"] is True
    starts = datetime.fromisoformat(sor["sanction"]["starts_at"])
    assert datetime.fromisoformat(sor["sanction"]["ends_at"]) - starts == timedelta(days=10)
    assert datetime.fromisoformat(sor["sanction"]["appeal_until"]) - starts == timedelta(days=180)
    assert f"/v1/sanctions/{sanction['id']}/appeal" in sor["how_to_appeal"]
    assert sor["appeal"] is None


async def test_a_group_sanction_reaches_the_owner_live(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    async with s.owner.events() as stream:
        await reviewer.decide_case(
            s.case_id, "violation", [measure("posting_suspension", "art-10", days=1)]
        )
        frames = await collect(stream, has_notice("statement_of_reasons"))
    assert notices(frames, "statement_of_reasons")[0]["measure"] == "posting_suspension"


async def test_only_those_affected_and_staff_read_a_statement_of_reasons(people: People) -> None:
    s = await scene(people)
    _, (sanction,) = await impose(people, s, measure("blacklist", days=10))
    err = await refused(s.reporter.statement_of_reasons(sanction["id"]))
    assert (err.status, err.code) == (404, "sanction_not_found")
    auditor = await people.staff(PlatformRole.senior_reviewer)
    assert (await auditor.statement_of_reasons(sanction["id"]))["sanction"]["id"] == sanction["id"]


# ---- appeals ------------------------------------------------------------------------------


async def test_overturning_an_appeal_lifts_the_sanction_and_reverses_its_credit(
    people: People,
) -> None:
    s = await scene(people)
    _, (sanction,) = await impose(people, s, measure("blacklist", days=30))
    appeal = await s.offender.appeal(sanction["id"], "it was a quote from a film")
    assert appeal["state"] == "pending"
    senior = await people.staff(PlatformRole.senior_reviewer)
    assert appeal["id"] in [a["id"] for a in await senior.pending_appeals()]
    decided = await senior.decide_appeal(appeal["id"], overturn=True, note="context shows a quote")
    assert (decided["state"], decided["decided_by"]) == ("overturned", me(senior))
    sor = await s.offender.statement_of_reasons(sanction["id"])
    assert sor["sanction"]["state"] == "overturned" and sor["in_force"] is False
    assert sor["appeal"]["state"] == "overturned"
    entries = (await s.offender.credit())["entries"]
    reasons = {e["reason"]: e for e in entries}
    assert reasons["sanction_reversed"]["delta"] == -sanction["credit_delta"]
    assert reasons["sanction_reversed"]["source"] == f"sanction:{sanction['id']}"
    await s.offender.send(s.group["id"], "thank you")


async def test_an_upheld_appeal_leaves_the_sanction_in_force(people: People) -> None:
    s = await scene(people)
    _, (sanction,) = await impose(people, s, measure("blacklist", days=30))
    appeal = await s.offender.appeal(sanction["id"], "please")
    senior = await people.staff(PlatformRole.senior_reviewer)
    assert (await senior.decide_appeal(appeal["id"], overturn=False))["state"] == "upheld"
    err = await refused(s.offender.send(s.group["id"], "hello"))
    assert err.code == "blacklisted"
    err = await refused(senior.decide_appeal(appeal["id"], overturn=True))
    assert (err.status, err.code) == (409, "appeal_decided")


async def test_a_second_appeal_of_a_sanction_is_409_appeal_exists(people: People) -> None:
    s = await scene(people)
    _, (sanction,) = await impose(people, s, measure("blacklist", days=30))
    await s.offender.appeal(sanction["id"], "first")
    err = await refused(s.offender.appeal(sanction["id"], "second"))
    assert (err.status, err.code) == (409, "appeal_exists")


async def test_an_appeal_after_the_window_is_410(people: People, clock: FrozenClock) -> None:
    s = await scene(people)
    _, (sanction,) = await impose(people, s, measure("lower_credit", "art-11"))
    clock.advance(timedelta(days=181))
    await people.relogin(s.offender)
    err = await refused(s.offender.appeal(sanction["id"], "too late"))
    assert (err.status, err.code) == (410, "appeal_window_closed")


async def test_only_the_affected_user_may_appeal(people: People) -> None:
    s = await scene(people)
    _, (sanction,) = await impose(people, s, measure("blacklist", days=30))
    err = await refused(s.reporter.appeal(sanction["id"], "on their behalf"))
    assert (err.status, err.code) == (404, "sanction_not_found")


async def test_the_decider_may_not_decide_the_appeal_of_their_own_decision(
    people: People,
) -> None:
    s = await scene(people)
    senior, (sanction,) = await impose(
        people, s, measure("blacklist", days=30), role=PlatformRole.senior_reviewer
    )
    appeal = await s.offender.appeal(sanction["id"], "unfair")
    err = await refused(senior.decide_appeal(appeal["id"], overturn=True))
    assert (err.status, err.code) == (403, "own_decision")
    other = await people.staff(PlatformRole.senior_reviewer)
    assert (await other.decide_appeal(appeal["id"], overturn=False))["state"] == "upheld"


async def test_a_plain_reviewer_may_not_decide_appeals(people: People) -> None:
    s = await scene(people)
    _, (sanction,) = await impose(people, s, measure("blacklist", days=30))
    appeal = await s.offender.appeal(sanction["id"], "unfair")
    reviewer = await people.staff(PlatformRole.reviewer)
    for call in (reviewer.pending_appeals(), reviewer.decide_appeal(appeal["id"], overturn=True)):
        err = await refused(call)
        assert (err.status, err.code) == (403, "platform_role_required")


async def test_a_reporter_may_ask_once_for_review_of_no_violation(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    await reviewer.decide_case(s.case_id, "no_violation")
    (mine,) = await s.reporter.my_reports()
    assert mine["outcome"] == "no_violation"
    review = await s.reporter.request_review(s.case_id, "it was plainly an insult")
    assert (review["kind"], review["state"]) == ("reporter_review", "pending")
    err = await refused(s.reporter.request_review(s.case_id, "again"))
    assert (err.status, err.code) == (409, "appeal_exists")
    err = await refused(s.offender.request_review(s.case_id, "not mine"))
    assert (err.status, err.code) == (404, "case_not_found")
    senior = await people.staff(PlatformRole.senior_reviewer)
    await senior.decide_appeal(review["id"], overturn=True, note="look again")
    requeued = await senior.cases(status="escalated", limit=200)
    assert s.case_id in [c["id"] for c in requeued]
    decided = await senior.decide_case(s.case_id, "violation", [measure("blacklist", days=3)])
    assert decided["case"]["decision"] == "violation"


async def test_a_violation_cannot_be_put_to_review_by_the_reporter(people: People) -> None:
    s = await scene(people)
    await impose(people, s, measure("blacklist", days=3))
    err = await refused(s.reporter.request_review(s.case_id, "more please"))
    assert (err.status, err.code) == (409, "not_reviewable")


# ---- measures against misuse of reporting (Art. 12; DSA Art. 23) --------------------------


async def serial_reporter(people: People) -> tuple[QunzuClient, QunzuClient, dict[str, Any], int]:
    """A member whose five reports of harmless messages were decided manifestly
    unfounded: warned after three, suspended after five (the default rulebook)."""
    owner, serial = await people.user("owner"), await people.user("serial")
    group = await make_group(owner, join_policy="open", discoverable=True)
    await add_member(owner, group, serial)
    reviewer = await people.staff(PlatformRole.reviewer)
    seqs = [(await owner.send(group["id"], f"harmless {i}"))["seq"] for i in range(7)]
    for seq in seqs[:5]:
        receipt = await serial.report(group["id"], "message", "insult-defamation", seq=seq)
        await reviewer.decide_case(receipt["case_id"], "no_violation", manifestly_unfounded=True)
    return owner, serial, group, seqs[5]


async def test_the_misuse_warning_and_suspension_are_sanctions_with_a_statement_of_reasons(
    people: People,
) -> None:
    _, serial, _, _ = await serial_reporter(people)
    mine = {s["kind"]: s for s in await serial.my_sanctions()}
    assert set(mine) == {"reporting_warning", "reporting_suspension"}
    for s in mine.values():
        assert (s["account_id"], s["article"], s["automated"]) == (me(serial), "art-12", True)
    suspension = mine["reporting_suspension"]
    starts = datetime.fromisoformat(suspension["starts_at"])
    assert datetime.fromisoformat(suspension["ends_at"]) - starts == timedelta(days=14)
    sor = await serial.statement_of_reasons(suspension["id"])
    assert (sor["measure_en"], sor["article_id"], sor["automated"]) == (
        "Suspension of reporting",
        "art-12",
        True,
    )
    assert sor["decided_by_role"].startswith("automated")
    assert sor["evidence_seqs"] == []
    facts = sor["sanction"]["facts"]
    assert facts.startswith("5 of your reports") and facts.count("(case ") == 5
    assert "a warning after 3" in facts and "suspended for 14 days after 5" in facts
    assert f"/v1/sanctions/{suspension['id']}/appeal" in sor["how_to_appeal"]


async def test_a_suspended_reporter_is_refused_except_for_a_severe_matter(people: People) -> None:
    owner, serial, group, seq = await serial_reporter(people)
    err = await refused(serial.report(group["id"], "message", "spam", seq=seq))
    assert (err.status, err.code) == (403, "reporting_suspended")
    (suspension,) = [s for s in await serial.my_sanctions() if s["kind"] == "reporting_suspension"]
    assert err.problem["sanction_id"] == suspension["id"]
    threat = (await owner.send(group["id"], "I know where you live"))["seq"]
    receipt = await serial.report(group["id"], "message", "threat-to-life", seq=threat)
    assert (receipt["route"], receipt["status"]) == ("platform", "open")


async def test_overturning_the_reporting_suspension_on_appeal_restores_reporting(
    people: People,
) -> None:
    _, serial, group, seq = await serial_reporter(people)
    (suspension,) = [s for s in await serial.my_sanctions() if s["kind"] == "reporting_suspension"]
    appeal = await serial.appeal(suspension["id"], "those messages were insults")
    senior = await people.staff(PlatformRole.senior_reviewer)
    decided = await senior.decide_appeal(appeal["id"], overturn=True, note="fair point")
    assert decided["state"] == "overturned"
    receipt = await serial.report(group["id"], "message", "spam", seq=seq)
    assert receipt["status"] == "open"
    sor = await serial.statement_of_reasons(suspension["id"])
    assert (sor["sanction"]["state"], sor["in_force"]) == ("overturned", False)


async def test_misuse_measures_are_in_the_transparency_report_and_the_regulator_export(
    people: People, clock: FrozenClock
) -> None:
    start = clock.now()
    _, serial, _, _ = await serial_reporter(people)
    end = clock.now() + timedelta(seconds=1)
    auditor = await people.staff(PlatformRole.auditor)
    report = await auditor.transparency(start.isoformat(), end.isoformat())
    assert report["sanctions"]["reporting_warning"] >= 1
    assert report["sanctions"]["reporting_suspension"] >= 1
    rows = [
        json.loads(line)
        for line in (
            await auditor.export_regulator(start.isoformat(), end.isoformat())
        ).splitlines()
    ]
    theirs = [(r["measure"], r["automated"]) for r in rows if r["account_id"] == me(serial)]
    assert sorted(theirs) == [("reporting_suspension", True), ("reporting_warning", True)]
