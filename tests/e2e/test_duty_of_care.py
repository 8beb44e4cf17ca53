"""The duty-of-care ledger and the liability assessment (Art. 9; P7) through the API.

Each standing is shown at the edge of the owner's response window and one second past it:
a member's report (or the owner's own read cursor) is the notice, the frozen clock moves,
a reviewer decides the case, and the case file's ``assessments`` say where the owner
stands; the credit ledger shows the consequence (+ for acting in time, − for liability).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from qunzu.client import QunzuClient
from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import Scene, me, measure, scene
from tests.factories import People, clock_of, refused
from tests.rulebooks import generous_rulebooks
from tests.server import ServerThread

WINDOW = timedelta(hours=generous_rulebooks().latest.owner_response_hours)
SECOND = timedelta(seconds=1)


async def decide(people: People, case_id: int) -> dict[str, dict[str, Any]]:
    """A reviewer upholds the case; returns the assessments by account id."""
    reviewer = await people.staff(PlatformRole.reviewer)
    await reviewer.decide_case(case_id, "violation", [measure("lower_credit")])
    return await standings(reviewer, case_id)


async def standings(reviewer: QunzuClient, case_id: int) -> dict[str, dict[str, Any]]:
    case_file = await reviewer.case_file(case_id)
    return {str(a["account_id"]): a for a in case_file["assessments"]}


def of(assessments: dict[str, dict[str, Any]], client: QunzuClient) -> dict[str, Any]:
    return assessments[str(me(client))]


async def credit_reasons(client: QunzuClient, case_id: int) -> list[str]:
    entries = (await client.credit())["entries"]
    return [e["reason"] for e in entries if e["source"] == f"case:{case_id}"]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def owner_scene(people: People, clocked_server: ServerThread) -> tuple[Scene, datetime]:
    """A small group: the member's report goes to the owner first; its time is the notice."""
    s = await scene(people, public=False)
    assert s.receipt["route"] == "owner"
    return s, clock_of(clocked_server).now()


# ---- notice by a member's report ----------------------------------------------------------


async def test_removing_the_message_at_the_very_end_of_the_window_is_exempt_acted(
    people: People, clocked_server: ServerThread
) -> None:
    s, noticed = await owner_scene(people, clocked_server)
    clock_of(clocked_server).advance(WINDOW)
    await s.owner.remove_message(s.group["id"], s.seq, "insult")
    mine = of(await decide(people, s.case_id), s.owner)
    assert mine["standing"] == "exempt_acted"
    assert (at(mine["notice_at"]), at(mine["deadline"])) == (noticed, noticed + WINDOW)
    assert [e["kind"] for e in mine["timeline"]] == ["notice_received", "message_removed"]
    assert await credit_reasons(s.owner, s.case_id) == ["owner_acted_in_time"]


async def test_removing_the_message_one_second_late_is_liable_inaction(
    people: People, clocked_server: ServerThread
) -> None:
    s, noticed = await owner_scene(people, clocked_server)
    clock_of(clocked_server).advance(WINDOW + SECOND)
    await s.owner.remove_message(s.group["id"], s.seq, "insult")
    mine = of(await decide(people, s.case_id), s.owner)
    assert mine["standing"] == "liable_inaction"
    assert at(mine["deadline"]) == noticed + WINDOW
    assert "art-9" in mine["articles"]
    assert await credit_reasons(s.owner, s.case_id) == ["owner_liable"]


async def test_muting_the_sender_at_the_end_of_the_window_is_exempt_acted(
    people: People, clocked_server: ServerThread
) -> None:
    s, _ = await owner_scene(people, clocked_server)
    clock_of(clocked_server).advance(WINDOW)
    await s.owner.mute(s.group["id"], me(s.offender), 60 * 24, "insults")
    assert of(await decide(people, s.case_id), s.owner)["standing"] == "exempt_acted"


async def test_removing_the_sender_at_the_end_of_the_window_is_exempt_acted(
    people: People, clocked_server: ServerThread
) -> None:
    s, _ = await owner_scene(people, clocked_server)
    clock_of(clocked_server).advance(WINDOW)
    await s.owner.remove_member(s.group["id"], me(s.offender), "insults", bar=True)
    mine = of(await decide(people, s.case_id), s.owner)
    assert mine["standing"] == "exempt_acted"
    assert await credit_reasons(s.owner, s.case_id) == ["owner_acted_in_time"]


async def test_an_admin_who_ignores_the_notice_is_liable_like_the_owner(
    people: People, clocked_server: ServerThread
) -> None:
    s = await scene(people, public=False, others=1)
    admin = s.others[0]
    # Appointed before the report, so the notice reached the admin too.
    await s.owner.appoint_admin(s.group["id"], me(admin), ["remove_messages"])
    fresh = await s.reporter.report(
        s.group["id"], "member", "insult-defamation", account_id=me(s.offender)
    )
    clock_of(clocked_server).advance(WINDOW + SECOND)
    assessments = await decide(people, fresh["case_id"])
    assert of(assessments, admin)["standing"] == "liable_inaction"
    assert of(assessments, s.owner)["standing"] == "liable_inaction"


async def test_the_guangzhou_case_ignoring_insults_for_a_year_is_liable_inaction(
    people: People, clocked_server: ServerThread
) -> None:
    s, noticed = await owner_scene(people, clocked_server)
    clock_of(clocked_server).advance(timedelta(days=365))
    await people.relogin(s.owner)
    mine = of(await decide(people, s.case_id), s.owner)
    assert mine["standing"] == "liable_inaction"
    assert at(mine["notice_at"]) == noticed
    assert [e["kind"] for e in mine["timeline"]] == ["notice_received"]


async def test_reporting_it_up_in_time_is_exempt_reported_and_earns_credit(
    people: People, clocked_server: ServerThread
) -> None:
    s, _ = await owner_scene(people, clocked_server)
    clock_of(clocked_server).advance(WINDOW - SECOND)
    receipt = await s.owner.report_up(
        s.group["id"], "message", "insult-defamation", "please handle", seq=s.seq
    )
    assert receipt["case_id"] == s.case_id  # the same case, now with the platform
    mine = of(await decide(people, s.case_id), s.owner)
    assert mine["standing"] == "exempt_reported"
    assert "art-12" in mine["articles"]
    reasons = await credit_reasons(s.owner, s.case_id)
    assert reasons.count("owner_acted_in_time") == 1  # beside report_upheld, as a reporter


# ---- notice by the read cursor ------------------------------------------------------------


async def test_reading_past_a_message_is_notice_and_the_window_runs_from_the_read(
    people: People, clocked_server: ServerThread
) -> None:
    s = await scene(people)  # a public group: the platform hears at once, the owner is not told
    clock_of(clocked_server).advance(timedelta(minutes=5))
    read_at = clock_of(clocked_server).now()
    assert (await s.owner.mark_read(s.group["id"], s.seq))["seq"] == s.seq
    reviewer = await people.staff(PlatformRole.reviewer)
    mine = of(await standings(reviewer, s.case_id), s.owner)
    assert mine["standing"] == "pending"
    assert at(mine["deadline"]) == read_at + WINDOW
    clock_of(clocked_server).advance(WINDOW + SECOND)
    mine = of(await decide(people, s.case_id), s.owner)
    assert mine["standing"] == "liable_inaction"
    assert [e["kind"] for e in mine["timeline"]] == ["message_read"]


async def test_acting_at_the_end_of_a_window_opened_by_reading_is_exempt_acted(
    people: People, clocked_server: ServerThread
) -> None:
    s = await scene(people)
    await s.owner.mark_read(s.group["id"], s.seq + 0)
    clock_of(clocked_server).advance(WINDOW)
    await s.owner.remove_message(s.group["id"], s.seq, "insult")
    assert of(await decide(people, s.case_id), s.owner)["standing"] == "exempt_acted"


async def test_a_member_reading_is_not_notice_and_a_read_cursor_never_moves_back(
    people: People,
) -> None:
    s = await scene(people)
    await s.reporter.mark_read(s.group["id"], s.seq)
    assert (await s.owner.mark_read(s.group["id"], s.seq))["seq"] == s.seq
    assert (await s.owner.mark_read(s.group["id"], s.seq - 1))["seq"] == s.seq
    kinds = [e["kind"] for e in await s.owner.duty_ledger(s.group["id"])]
    assert kinds.count("message_read") == 1


async def test_without_report_warning_or_reading_the_owner_is_exempt_no_notice(
    people: People, clocked_server: ServerThread
) -> None:
    s = await scene(people)
    clock_of(clocked_server).advance(WINDOW * 3)
    mine = of(await decide(people, s.case_id), s.owner)
    assert (mine["standing"], mine["notice_at"]) == ("exempt_no_notice", None)
    assert await credit_reasons(s.owner, s.case_id) == []


# ---- participation ------------------------------------------------------------------------


async def test_an_admin_who_posted_it_is_liable_participation(people: People) -> None:
    s = await scene(people, others=1)
    admin = s.others[0]
    await s.owner.appoint_admin(s.group["id"], me(admin), ["mute"])
    seq = (await admin.send(s.group["id"], "the admin's own insult"))["seq"]
    receipt = await s.reporter.report(s.group["id"], "message", "insult-defamation", seq=seq)
    assessments = await decide(people, receipt["case_id"])
    assert of(assessments, admin)["standing"] == "liable_participation"
    assert of(assessments, s.owner)["standing"] == "exempt_no_notice"
    assert "owner_liable" in await credit_reasons(admin, receipt["case_id"])


# ---- the ledger ---------------------------------------------------------------------------


async def test_the_ledger_records_rules_notices_and_actions_with_times(
    people: People, clocked_server: ServerThread
) -> None:
    s, noticed = await owner_scene(people, clocked_server)
    await s.owner.set_rules(s.group["id"], "Be kind. No insults.")
    clock_of(clocked_server).advance(timedelta(hours=1))
    await s.owner.remove_message(s.group["id"], s.seq, "insult")
    ledger = await s.owner.duty_ledger(s.group["id"])
    mine = [(e["kind"], at(e["at"])) for e in ledger if e["account_id"] == me(s.owner)]
    assert mine == [
        ("notice_received", noticed),
        ("rules_published", noticed),
        ("message_removed", noticed + timedelta(hours=1)),
    ]


async def test_a_case_the_owner_handled_in_time_is_not_the_platforms_to_assess(
    people: People, clocked_server: ServerThread
) -> None:
    s, _ = await owner_scene(people, clocked_server)
    await s.owner.remove_message(s.group["id"], s.seq, "insult")
    clock_of(clocked_server).advance(WINDOW + SECOND)
    reviewer = await people.staff(PlatformRole.reviewer)
    err = await refused(reviewer.case_file(s.case_id))
    assert (err.status, err.code) == (403, "with_owner")
