"""Officers never act on themselves, over HTTP: a credit lock or release, a lift, an appeal
decision, an identity read or casework whose subject is the officer's own account is a
403 ``officer_self_action`` problem and leaves no audit entry."""

from __future__ import annotations

from typing import Any

from qunzu.client import QunzuClient
from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import measure
from tests.factories import (
    People,
    add_member,
    audit_entries,
    make_group,
    me,
    refused,
    valid_resident_id,
)
from tests.server import ServerThread


async def reported_officer(
    people: People, role: PlatformRole = PlatformRole.senior_reviewer
) -> tuple[QunzuClient, QunzuClient, int]:
    """An officer who is also a verified member and was reported in a public group: the
    officer, the reporter and the case id."""
    officer = await people.staff(role)
    await officer.submit_identity("李四", valid_resident_id(), "13800138001")
    owner, reporter = await people.user("owner"), await people.user("reporter")
    group = await make_group(owner, join_policy="open", discoverable=True)
    for member in (officer, reporter):
        await add_member(owner, group, member)
    seq = (await officer.send(group["id"], "you are an idiot"))["seq"]
    receipt = await reporter.report(group["id"], "message", "insult-defamation", seq=seq)
    return officer, reporter, receipt["case_id"]


async def sanctioned_officer(people: People) -> tuple[QunzuClient, dict[str, Any]]:
    officer, _reporter, case_id = await reported_officer(people)
    other = await people.staff(PlatformRole.reviewer)
    decided = await other.decide_case(case_id, "violation", [measure("blacklist", days=30)])
    (sanction,) = decided["sanctions"]
    return officer, sanction


async def refused_self(server: ServerThread, call: Any) -> None:
    before = len(await audit_entries(server))
    err = await refused(call)
    assert (err.status, err.code) == (403, "officer_self_action")
    assert err.problem["status"] == 403 and err.detail
    assert len(await audit_entries(server)) == before


async def test_a_senior_reviewer_cannot_lock_or_release_their_own_credit(
    people: People, clocked_server: ServerThread
) -> None:
    senior = await people.staff(PlatformRole.senior_reviewer)
    await refused_self(clocked_server, senior.lock_level(me(senior)["id"], 4, "I deserve the top"))
    await refused_self(clocked_server, senior.lock_level(me(senior)["id"], None, "let me go"))
    other = await people.staff(PlatformRole.senior_reviewer)
    locked = await other.lock_level(me(senior)["id"], 1, "pending a review")
    assert locked["locked_level"] == 1


async def test_a_senior_reviewer_cannot_lift_a_sanction_on_themselves(
    people: People, clocked_server: ServerThread
) -> None:
    officer, sanction = await sanctioned_officer(people)
    await refused_self(clocked_server, officer.lift_sanction(sanction["id"], "imposed in error"))


async def test_a_senior_reviewer_cannot_decide_their_own_appeal(
    people: People, clocked_server: ServerThread
) -> None:
    officer, sanction = await sanctioned_officer(people)
    appeal = await officer.appeal(sanction["id"], "it was a joke between friends")
    await refused_self(clocked_server, officer.decide_appeal(appeal["id"], overturn=True))


async def test_an_officer_cannot_read_their_own_identity(
    people: People, clocked_server: ServerThread
) -> None:
    officer = await people.staff(PlatformRole.admin)
    await officer.submit_identity("王五", valid_resident_id(), "13800138002")
    await refused_self(clocked_server, officer.read_identity(me(officer)["id"], "just checking"))


async def test_a_reviewer_cannot_work_a_case_about_themselves(
    people: People, clocked_server: ServerThread
) -> None:
    officer, _reporter, case_id = await reported_officer(people, PlatformRole.reviewer)
    for call in (
        officer.case_file(case_id),
        officer.claim_case(case_id),
        officer.decide_case(case_id, "no_violation"),
    ):
        await refused_self(clocked_server, call)
