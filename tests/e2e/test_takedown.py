"""The platform takes down a reported message (a content measure in a decision): its text
goes for every member, its sender gets a statement of reasons and may appeal, and lifting
or overturning it puts the text back. Only a message can be taken down."""

from __future__ import annotations

from typing import Any

from qunzu.client.http import QunzuClient
from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import measure, scene
from tests.factories import People, account_id, refused


async def message_at(client: QunzuClient, group_id: int, seq: int) -> dict[str, Any]:
    entries = (await client.history(group_id))["entries"]
    return next(e for e in entries if e["seq"] == seq)


async def taken_down(people: People) -> tuple[Any, dict[str, Any]]:
    s = await scene(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    decided = await reviewer.decide_case(s.case_id, "violation", [measure("takedown", "art-10")])
    [sanction] = decided["sanctions"]
    return s, sanction


async def test_a_takedown_removes_the_message_for_every_member(people: People) -> None:
    s, sanction = await taken_down(people)
    for reader in (s.owner, s.reporter, s.offender):
        entry = await message_at(reader, s.group["id"], s.seq)
        assert entry["body"] is None
        assert entry["data"]["removed"]["by"] == "platform"
    assert (sanction["kind"], sanction["account_id"]) == ("takedown", account_id(s.offender))
    assert sanction["credit_delta"] == 0 and sanction["group_id"] == s.group["id"]
    mine = {x["id"] for x in await s.offender.my_sanctions()}
    assert sanction["id"] in mine
    statement = await s.offender.statement_of_reasons(sanction["id"])
    assert statement["measure_en"] == "Take down the message"


async def test_lifting_a_takedown_puts_the_message_back(people: People) -> None:
    s, sanction = await taken_down(people)
    senior = await people.staff(PlatformRole.senior_reviewer)
    await senior.lift_sanction(sanction["id"], "the message was a quotation")
    entry = await message_at(s.owner, s.group["id"], s.seq)
    assert entry["body"] == "you are an idiot" and "removed" not in entry["data"]


async def test_an_overturned_takedown_puts_the_message_back(people: People) -> None:
    s, sanction = await taken_down(people)
    await s.offender.appeal(sanction["id"], "it was a line from a film we were discussing")
    senior = await people.staff(PlatformRole.senior_reviewer)
    [appeal] = [a for a in await senior.pending_appeals() if a["sanction_id"] == sanction["id"]]
    await senior.decide_appeal(appeal["id"], overturn=True, note="a quotation")
    entry = await message_at(s.reporter, s.group["id"], s.seq)
    assert entry["body"] == "you are an idiot"


async def test_only_a_reported_message_can_be_taken_down(people: People) -> None:
    s = await scene(people)
    receipt = await s.reporter.report(
        s.group["id"], "member", "insult-defamation", "rude", account_id=account_id(s.offender)
    )
    reviewer = await people.staff(PlatformRole.reviewer)
    err = await refused(
        reviewer.decide_case(receipt["case_id"], "violation", [measure("takedown", "art-10")])
    )
    assert (err.status, err.code) == (400, "takedown_needs_message")
    case = (await reviewer.case_file(receipt["case_id"]))["case"]
    assert case["status"] != "decided"  # nothing was decided
