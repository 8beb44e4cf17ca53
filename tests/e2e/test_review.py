"""The platform review queue (Arts. 11, 12; P2, P3, P8) on a real server with a frozen clock."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from qunzu.client import QunzuClient
from qunzu.domain.clock import FrozenClock
from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import me, measure, scene
from tests.factories import People, add_member, clock_of, make_group, refused
from tests.rulebooks import consequences_version_text, write_generous_rulebook
from tests.server import ServerThread, test_settings
from tests.unit.test_report_rules import later_version_text

START = datetime(2026, 1, 1, tzinfo=UTC)
NEW_VERSION_FROM = datetime(2026, 2, 1, tzinfo=UTC)


async def overdue_metric(server: ServerThread) -> int:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{server.url}/metrics")).text
    found = re.search(r"^qunzu_cases_overdue (\S+)$", text, re.MULTILINE)
    assert found, "qunzu_cases_overdue is missing from /metrics"
    return int(float(found.group(1)))


# ---- the queue ----------------------------------------------------------------------------


async def test_the_queue_is_sorted_by_deadline_severe_cases_first(people: People) -> None:
    normal = await scene(people)
    severe = await scene(people, category="threat-to-life", body="I will find you")
    reviewer = await people.staff(PlatformRole.reviewer)
    queue = await reviewer.cases(limit=200)
    deadlines = [c["deadline_at"] for c in queue]
    assert deadlines == sorted(deadlines)
    ids = [c["id"] for c in queue]
    assert ids.index(severe.case_id) < ids.index(normal.case_id)
    by_id = {c["id"]: c for c in queue}
    created = datetime.fromisoformat(by_id[severe.case_id]["created_at"])
    assert datetime.fromisoformat(by_id[severe.case_id]["deadline_at"]) - created == timedelta(
        hours=2
    )
    created = datetime.fromisoformat(by_id[normal.case_id]["created_at"])
    assert datetime.fromisoformat(by_id[normal.case_id]["deadline_at"]) - created == timedelta(
        hours=24
    )


async def test_the_queue_filters_by_severity_and_category(people: People) -> None:
    normal = await scene(people)
    severe = await scene(people, category="terrorism", body="join our cell")
    reviewer = await people.staff(PlatformRole.reviewer)
    severe_only = await reviewer.cases(severity="severe", limit=200)
    assert {c["severity"] for c in severe_only} == {"severe"}
    assert severe.case_id in [c["id"] for c in severe_only]
    assert normal.case_id not in [c["id"] for c in severe_only]
    insults = await reviewer.cases(category="insult-defamation", limit=200)
    assert {c["category"] for c in insults} == {"insult-defamation"}
    assert normal.case_id in [c["id"] for c in insults]


async def test_the_queue_filters_by_status_and_overdue(
    people: People, clocked_server: ServerThread
) -> None:
    escalated = await scene(people)
    fresh = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    await reviewer.escalate_case(escalated.case_id, "needs a senior eye")
    only_escalated = await reviewer.cases(status="escalated", limit=200)
    assert {c["status"] for c in only_escalated} == {"escalated"}
    assert escalated.case_id in [c["id"] for c in only_escalated]
    assert fresh.case_id not in [c["id"] for c in only_escalated]
    assert fresh.case_id not in [c["id"] for c in await reviewer.cases(overdue=True, limit=200)]
    clock_of(clocked_server).advance(timedelta(hours=25))
    await people.relogin(reviewer)
    overdue = await reviewer.cases(overdue=True, limit=200)
    assert fresh.case_id in [c["id"] for c in overdue]
    now = clock_of(clocked_server).now()
    assert all(datetime.fromisoformat(c["deadline_at"]) < now for c in overdue)


async def test_decided_cases_leave_the_queue(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    await reviewer.decide_case(s.case_id, "no_violation")
    assert s.case_id not in [c["id"] for c in await reviewer.cases(limit=200)]
    decided = await reviewer.cases(status="decided", limit=200)
    assert s.case_id in [c["id"] for c in decided]


# ---- owner first (P8) ---------------------------------------------------------------------


async def test_an_owner_case_reaches_the_queue_when_the_owner_does_not_act_in_time(
    people: People, clocked_server: ServerThread
) -> None:
    s = await scene(people, public=False)
    reviewer = await people.staff(PlatformRole.reviewer)
    assert s.receipt["route"] == "owner"
    assert s.case_id not in [c["id"] for c in await reviewer.cases(limit=200)]
    for call in (reviewer.case_file(s.case_id), reviewer.claim_case(s.case_id)):
        err = await refused(call)
        assert (err.status, err.code) == (403, "with_owner")
    clock_of(clocked_server).advance(timedelta(hours=24))
    await people.relogin(reviewer)
    assert s.case_id in [c["id"] for c in await reviewer.cases(limit=200)]
    case_file = await reviewer.case_file(s.case_id)
    assert case_file["case"]["status"] == "open"


async def test_a_case_the_owner_handled_in_time_never_opens_to_the_platform(
    people: People, clocked_server: ServerThread
) -> None:
    s = await scene(people, public=False)
    await s.owner.remove_member(s.group["id"], me(s.offender), "insults")
    clock_of(clocked_server).advance(timedelta(hours=25))  # past the owner's window
    reviewer = await people.staff(PlatformRole.reviewer)
    assert s.case_id not in [c["id"] for c in await reviewer.cases(limit=200)]
    err = await refused(reviewer.case_file(s.case_id))
    assert (err.status, err.code) == (403, "with_owner")


# ---- what a reviewer sees (P2) ------------------------------------------------------------


async def test_a_reviewer_sees_only_the_cases_evidence_and_no_other_content(
    people: People,
) -> None:
    s = await scene(people, public=False, category="threat-to-life")
    await s.owner.send(s.group["id"], "a message after the report")
    other = await make_group(s.owner)
    await s.owner.send(other["id"], "a message in another group")
    reviewer = await people.staff(PlatformRole.reviewer)
    case_file = await reviewer.case_file(s.case_id)
    bodies = [e["body"] for e in case_file["evidence"]]
    assert "you are an idiot" in bodies
    assert "a message after the report" not in bodies
    assert "a message in another group" not in bodies
    assert max(e["seq"] for e in case_file["evidence"]) == s.seq
    for gid in (s.group["id"], other["id"]):
        err = await refused(reviewer.history(gid))
        assert (err.status, err.code) == (404, "group_not_found")


async def test_no_platform_endpoint_reads_group_content(people: People) -> None:
    reviewer = await people.staff(PlatformRole.admin)
    schema = (await reviewer.request("GET", "/openapi.json")).json()
    platform = [p for p in schema["paths"] if p.startswith("/v1/platform")]
    assert platform, "the platform API is missing"
    assert not [p for p in platform if "message" in p or "group" in p or "history" in p]


async def test_reviewing_needs_a_reviewer_role(people: People) -> None:
    s = await scene(people)
    auditor = await people.staff(PlatformRole.auditor)
    for client in (s.owner, auditor):
        for call in (
            client.cases(),
            client.claim_case(s.case_id),
            client.decide_case(s.case_id, "no_violation"),
        ):
            err = await refused(call)
            assert (err.status, err.code) == (403, "platform_role_required")
    err = await refused(s.owner.case_file(s.case_id))
    assert (err.status, err.code) == (403, "platform_role_required")
    # An auditor checks the process from a case's metadata, never its content.
    audited = await auditor.case_file(s.case_id)
    assert audited["content_withheld"] is True
    assert {e["body"] for e in audited["evidence"]} == {None}


# ---- claim, escalate, decide --------------------------------------------------------------


async def test_a_claimed_case_is_for_its_claimant(people: People) -> None:
    s = await scene(people)
    first = await people.staff(PlatformRole.reviewer)
    second = await people.staff(PlatformRole.reviewer)
    claimed = await first.claim_case(s.case_id)
    assert (claimed["status"], claimed["claimed_by"]) == ("claimed", me(first))
    for call in (second.claim_case(s.case_id), second.decide_case(s.case_id, "no_violation")):
        err = await refused(call)
        assert (err.status, err.code) == (409, "case_claimed")
    decided = await first.decide_case(s.case_id, "no_violation")
    assert decided["case"]["status"] == "decided"


async def test_an_escalated_case_is_for_a_senior_reviewer(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    senior = await people.staff(PlatformRole.senior_reviewer)
    await reviewer.claim_case(s.case_id)
    escalated = await reviewer.escalate_case(s.case_id, "possibly criminal")
    assert (escalated["status"], escalated["claimed_by"]) == ("escalated", None)
    for call in (reviewer.claim_case(s.case_id), reviewer.decide_case(s.case_id, "no_violation")):
        err = await refused(call)
        assert (err.status, err.code) == (403, "senior_required")
    err = await refused(reviewer.escalate_case(s.case_id))
    assert (err.status, err.code) == (409, "already_escalated")
    claimed = await senior.claim_case(s.case_id)
    assert (claimed["status"], claimed["claimed_by"]) == ("escalated", me(senior))
    decided = await senior.decide_case(
        s.case_id, "violation", [measure("refer_to_authority", "art-13")]
    )
    assert decided["case"]["decision"] == "violation"


async def test_deciding_a_case_twice_is_409_case_decided(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    await reviewer.decide_case(s.case_id, "no_violation")
    for call in (
        reviewer.decide_case(s.case_id, "violation", [measure("blacklist", days=7)]),
        reviewer.claim_case(s.case_id),
        reviewer.escalate_case(s.case_id),
    ):
        err = await refused(call)
        assert (err.status, err.code) == (409, "case_decided")


async def test_a_measure_outside_the_catalogue_is_400_unknown_sanction(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    err = await refused(reviewer.decide_case(s.case_id, "violation", [measure("fine")]))
    assert (err.status, err.code) == (400, "unknown_sanction")
    assert "blacklist" in err.problem["allowed"]
    assert (await reviewer.case_file(s.case_id))["case"]["status"] == "open"


async def test_an_article_the_measure_may_not_cite_is_400(people: People) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    err = await refused(
        reviewer.decide_case(s.case_id, "violation", [measure("blacklist", "art-6")])
    )
    assert (err.status, err.code) == (400, "article_not_citable")


@pytest.mark.parametrize(
    ("decision", "with_measure", "code"),
    [
        ("no_violation", True, "no_sanctions_without_violation"),
        ("violation", False, "sanction_required"),
    ],
)
async def test_a_decision_and_its_sanctions_must_agree(
    people: People, decision: str, with_measure: bool, code: str
) -> None:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    sanctions = [measure("blacklist", days=7)] if with_measure else []
    err = await refused(reviewer.decide_case(s.case_id, decision, sanctions))
    assert (err.status, err.code) == (400, code)


# ---- deadlines in /metrics ----------------------------------------------------------------


async def test_a_missed_deadline_shows_in_metrics_until_the_case_is_decided(
    people: People, clocked_server: ServerThread
) -> None:
    s = await scene(people, category="minors", body="send me pictures of your kids")
    before = await overdue_metric(clocked_server)
    clock_of(clocked_server).advance(timedelta(hours=2, minutes=1))
    missed = await overdue_metric(clocked_server)
    assert missed >= before + 1
    reviewer = await people.staff(PlatformRole.reviewer)
    await reviewer.decide_case(s.case_id, "no_violation")
    assert await overdue_metric(clocked_server) == missed - 1


# ---- P3: rules never apply backwards ------------------------------------------------------


@pytest.fixture(scope="module")
def versioned_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """Two rulebook versions: the later one adds art-14 from NEW_VERSION_FROM."""
    data_dir: Path = tmp_path_factory.mktemp("qunzu-versions")
    later = data_dir / "later.toml"
    later.write_text(later_version_text(NEW_VERSION_FROM.isoformat()), encoding="utf-8")
    settings = test_settings(data_dir, rulebook_files=[write_generous_rulebook(data_dir), later])
    thread = ServerThread(settings, clock=FrozenClock(START)).start()
    yield thread
    thread.stop()


async def test_an_article_not_in_force_when_the_conduct_happened_is_400(
    versioned_server: ServerThread,
) -> None:
    crowd = People(versioned_server)
    try:
        owner, offender, reporter = [await crowd.user(p) for p in ("owner", "offender", "rep")]
        group = await make_group(owner)
        await add_member(owner, group, offender)
        await add_member(owner, group, reporter)
        old_seq = (await offender.send(group["id"], "insult before the new rule"))["seq"]
        clock_of(versioned_server).set(NEW_VERSION_FROM + timedelta(days=1))
        for client in (owner, offender, reporter):
            await crowd.relogin(client)
        new_seq = (await offender.send(group["id"], "insult after the new rule"))["seq"]
        old = await reporter.report(group["id"], "message", "threat-to-life", seq=old_seq)
        new = await reporter.report(group["id"], "message", "threat-to-life", seq=new_seq)
        reviewer = await crowd.staff(PlatformRole.reviewer)
        err = await refused(
            reviewer.decide_case(old["case_id"], "violation", [measure("warning", "art-14", 7)])
        )
        assert (err.status, err.code) == (400, "article_not_in_force")
        earlier = await reviewer.decide_case(
            old["case_id"], "violation", [measure("warning", "art-10", 7)]
        )
        assert earlier["case"]["rulebook_version"] == "2017.1"
        later = await reviewer.decide_case(
            new["case_id"], "violation", [measure("warning", "art-14", 7)]
        )
        assert later["sanctions"][0]["rulebook_version"] == "2026.2"
        assert later["sanctions"][0]["article"] == "art-14"
    finally:
        await crowd.close()


# ---- an owner act handles only what it addresses (issue 16; P7, P8) ----------------------


async def test_removing_another_message_does_not_close_a_report_it_left_standing(
    people: People, clocked_server: ServerThread
) -> None:
    """A member reports an insult, another a spam message by the same sender; the owner
    removes the spam only. The insult's report stays with the owner, then reaches the
    platform queue; each reporter sees an outcome that is true."""
    insult = await scene(people, public=False, others=1)
    second = insult.others[0]
    spam_seq = (await insult.offender.send(insult.group["id"], "cheap pills here"))["seq"]
    spam = await second.report(insult.group["id"], "message", "spam", "ads", seq=spam_seq)
    await insult.owner.remove_message(insult.group["id"], spam_seq, "advertising")

    (theirs,) = await second.my_reports()
    assert (theirs["status"], theirs["outcome"]) == ("handled_by_owner", "handled_by_owner")
    assert theirs["outcome_detail"] == "handled by the group's managers: removed the message"
    (mine,) = await insult.reporter.my_reports()
    assert (mine["status"], mine["outcome"], mine["outcome_detail"]) == ("open", None, None)
    entries = (await insult.reporter.history(insult.group["id"], limit=50))["entries"]
    assert [e["body"] for e in entries if e["seq"] == insult.seq] == ["you are an idiot"]
    ledger = await insult.owner.duty_ledger(insult.group["id"])
    removed = [(e["seq"], e["case_id"]) for e in ledger if e["kind"] == "message_removed"]
    assert removed == [(spam_seq, spam["case_id"])]

    clock_of(clocked_server).advance(timedelta(hours=24))
    reviewer = await people.staff(PlatformRole.reviewer)
    queued = [c["id"] for c in await reviewer.cases(limit=200)]
    assert insult.case_id in queued and spam["case_id"] not in queued


# ---- P3: every consequence of a decision by the version in force at the conduct -----------


@pytest.fixture(scope="module")
def consequences_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    """2017.1 (the generous copy), then from NEW_VERSION_FROM 2026.1, which changes every
    number a decision's consequences read (tests/rulebooks.py)."""
    data_dir: Path = tmp_path_factory.mktemp("qunzu-consequences")
    later = data_dir / "2026.1.toml"
    later.write_text(consequences_version_text(NEW_VERSION_FROM.isoformat()), encoding="utf-8")
    settings = test_settings(data_dir, rulebook_files=[write_generous_rulebook(data_dir), later])
    thread = ServerThread(settings, clock=FrozenClock(START)).start()
    yield thread
    thread.stop()


async def credit_of(client: QunzuClient, reason: str, source: str) -> list[int]:
    entries = (await client.credit())["entries"]
    return [e["delta"] for e in entries if e["reason"] == reason and e["source"] == source]


async def test_every_consequence_of_a_decision_follows_the_version_in_force_at_the_conduct(
    consequences_server: ServerThread,
) -> None:
    crowd = People(consequences_server)
    clock = clock_of(consequences_server)
    clock.set(START + timedelta(days=1))
    try:
        owner, offender, reporter = [await crowd.user(p) for p in ("owner", "offender", "rep")]
        group = await make_group(owner)  # small: the owner is told, and does nothing
        await add_member(owner, group, offender)
        await add_member(owner, group, reporter)
        seq = (await offender.send(group["id"], "you are an idiot"))["seq"]
        receipt = await reporter.report(group["id"], "message", "insult-defamation", seq=seq)
        case_id = receipt["case_id"]
        clock.set(NEW_VERSION_FROM + timedelta(days=1))  # 2026.1 is in force now
        for client in (owner, offender, reporter):
            await crowd.relogin(client)
        score = (await offender.credit())["score"]
        reviewer = await crowd.staff(PlatformRole.reviewer)
        decided = await reviewer.decide_case(
            case_id, "violation", [measure("lower_credit"), measure("blacklist")]
        )
        assert decided["case"]["rulebook_version"] == "2017.1"
        lowered, blacklisted = decided["sanctions"]
        # lower_credit: 2017.1's major penalty (-80), or as much more as it takes to pass
        # the demotion line of level 1 (270); 2026.1's -160 would be more than that.
        assert lowered["credit_delta"] == min(-80, 269 - score) > -160
        assert blacklisted["credit_delta"] == -200  # 2017.1's severe, not 2026.1's -400
        starts = datetime.fromisoformat(blacklisted["starts_at"])
        assert datetime.fromisoformat(blacklisted["ends_at"]) == starts + timedelta(days=365)
        # The appeal window is procedure: the version in force at the decision (200 days).
        assert datetime.fromisoformat(blacklisted["appeal_until"]) == starts + timedelta(days=200)
        source = f"case:{case_id}"
        assert await credit_of(offender, "upheld_report_against", source) == [-20]
        assert await credit_of(owner, "owner_liable", source) == [-100]
        assert await credit_of(reporter, "report_upheld", source) == [5]
    finally:
        await crowd.close()


async def test_misuse_thresholds_follow_the_version_in_force_when_the_reports_were_filed(
    consequences_server: ServerThread,
) -> None:
    """2017.1 warns after three unfounded reports, 2026.1 after two: reports filed under
    2017.1 and decided under 2026.1 are counted by 2017.1's rule."""
    crowd = People(consequences_server)
    clock = clock_of(consequences_server)
    clock.set(START + timedelta(days=3))
    try:
        owner, early, late = [await crowd.user(p) for p in ("owner", "early", "late")]
        group = await make_group(owner, join_policy="open", discoverable=True)
        await add_member(owner, group, early)
        await add_member(owner, group, late)
        seqs = [(await owner.send(group["id"], f"harmless {i}"))["seq"] for i in range(5)]
        filed = [
            (await early.report(group["id"], "message", "spam", seq=s))["case_id"] for s in seqs[:3]
        ]
        clock.set(NEW_VERSION_FROM + timedelta(days=2))
        for client in (owner, early, late):
            await crowd.relogin(client)
        reviewer = await crowd.staff(PlatformRole.reviewer)
        for case_id in filed[:2]:
            await reviewer.decide_case(case_id, "no_violation", manifestly_unfounded=True)
        assert await early.my_sanctions() == []  # two: below 2017.1's three
        await reviewer.decide_case(filed[2], "no_violation", manifestly_unfounded=True)
        (warning,) = await early.my_sanctions()
        assert (warning["kind"], warning["rulebook_version"]) == ("reporting_warning", "2017.1")
        for s in seqs[3:]:
            receipt = await late.report(group["id"], "message", "spam", seq=s)
            await reviewer.decide_case(
                receipt["case_id"], "no_violation", manifestly_unfounded=True
            )
        (theirs,) = await late.my_sanctions()  # two: 2026.1's threshold
        assert (theirs["kind"], theirs["rulebook_version"]) == ("reporting_warning", "2026.1")
    finally:
        await crowd.close()
