"""Governance covers attachments: a reported message's case evidence lists what it carried
and its reviewers are served it (also after removal, when members no longer are); the
regulator export names each attachment by its content hash."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx

from qunzu.domain.models import PlatformRole
from tests.e2e.test_reports import FACTS, measure
from tests.factories import People, add_member, clock_of, make_group, refused
from tests.media import jpeg_with_gps
from tests.server import ServerThread


async def reported_photo(people: People) -> dict[str, Any]:
    """A public group where the offender posted a photo and a member reported it."""
    owner, offender, reporter = (
        await people.user("owner"),
        await people.user("offender"),
        await people.user("reporter"),
    )
    group = await make_group(owner, join_policy="open", discoverable=True)
    await add_member(owner, group, offender)
    await add_member(owner, group, reporter)
    up = await offender.upload("insult.jpg", jpeg_with_gps(), "image/jpeg")
    sent = await offender.send(group["id"], "look at this", attachments=[up["id"]])
    receipt = await reporter.report(
        group["id"], "message", "insult-defamation", "insulting picture", seq=sent["seq"]
    )
    return {
        "owner": owner,
        "reporter": reporter,
        "group": group,
        "seq": sent["seq"],
        "upload": up,
        "case_id": receipt["case_id"],
    }


async def get(server: ServerThread, link: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.get(link)


async def test_case_evidence_lists_the_attachments_and_the_reviewer_is_served_them(
    clocked_server: ServerThread, people: People
) -> None:
    s = await reported_photo(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    case = await reviewer.case_file(s["case_id"])
    (reported,) = [e for e in case["evidence"] if e["reported"]]
    (carried,) = reported["attachments"]
    assert (carried["id"], carried["kind"]) == (s["upload"]["id"], "image")
    assert len(carried["sha256"]) == 64
    served = await get(
        clocked_server, (await reviewer.upload_info(carried["id"]))["links"]["content"]
    )
    assert served.status_code == 200


async def test_after_removal_members_lose_the_attachment_and_the_reviewer_keeps_it(
    clocked_server: ServerThread, people: People
) -> None:
    s = await reported_photo(people)
    await s["owner"].remove_message(s["group"]["id"], s["seq"], "insulting picture")
    refusal = await refused(s["reporter"].upload_info(s["upload"]["id"]))
    assert refusal.code == "upload_not_found"
    reviewer = await people.staff(PlatformRole.reviewer)
    info = await reviewer.upload_info(s["upload"]["id"])
    assert (await get(clocked_server, info["links"]["content"])).status_code == 200


async def test_staff_not_on_a_case_holding_the_message_are_not_served(
    clocked_server: ServerThread, people: People
) -> None:
    owner = await people.user("owner")
    group = await make_group(owner)
    up = await owner.upload("private.jpg", jpeg_with_gps(), "image/jpeg")
    await owner.send(group["id"], "family photo", attachments=[up["id"]])
    reviewer = await people.staff(PlatformRole.reviewer)
    refusal = await refused(reviewer.upload_info(up["id"]))
    assert refusal.code == "upload_not_found"


async def test_the_regulator_export_names_the_attachments_by_hash(
    clocked_server: ServerThread, people: People
) -> None:
    clock = clock_of(clocked_server)
    clock.advance(timedelta(days=1))
    start = clock.now()
    s = await reported_photo(people)
    reviewer = await people.staff(PlatformRole.reviewer)
    case = await reviewer.case_file(s["case_id"])
    sha = next(e for e in case["evidence"] if e["reported"])["attachments"][0]["sha256"]
    await reviewer.decide_case(s["case_id"], "violation", [measure("blacklist", days=30)])
    auditor = await people.staff(PlatformRole.auditor)
    end = (clock.now() + timedelta(hours=1)).isoformat()
    rows = [
        json.loads(line)
        for line in (await auditor.export_regulator(start.isoformat(), end)).splitlines()
    ]
    (row,) = [r for r in rows if r["case_id"] == s["case_id"]]
    assert row["attachments"] == f"{s['upload']['id']}:image:{sha}"
    assert row["facts"] == FACTS
