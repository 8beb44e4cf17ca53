"""Who reads a case's content (P1, P2): the reviewers working the case and senior
reviewers; auditors and platform admins read its metadata only. Every opening is audited
with the view it gave."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from qunzu.domain.cases import CaseView
from qunzu.domain.errors import Forbidden
from qunzu.domain.models import PlatformRole
from qunzu.domain.reports import Decision, TargetKind
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.messaging import do_open_direct, do_send_message
from qunzu.services.reports import do_file_report
from qunzu.services.review import (
    CaseFile,
    do_claim_case,
    do_decide_case,
    do_escalate_case,
    open_case_file,
)
from tests.fakes import fake_uow, make_ctx
from tests.unit.world import refusal, register

SECRET = "a private threat in a direct chat"


@dataclass
class Scene:
    ctx: ServiceContext
    case_id: int
    staff: dict[str, Actor]


async def direct_chat_case() -> Scene:
    """A message reported in a direct chat (private tier), and one officer of each role."""
    ctx = make_ctx()
    alice, bob = await register(ctx, "alice"), await register(ctx, "bob")
    direct = await do_open_direct(ctx, alice, "bob")
    sent = await do_send_message(ctx, bob, direct.id, SECRET, "t1")
    receipt = await do_file_report(
        ctx, alice, direct.id, TargetKind.message, "threat-to-life", "he threatened me",
        seq=sent.entry.seq,
    )  # fmt: skip
    assert receipt.case.tier == "private"
    staff = {
        name: await register(ctx, name, verified=False, role=role)
        for name, role in [
            ("reviewer", PlatformRole.reviewer),
            ("other", PlatformRole.reviewer),
            ("senior", PlatformRole.senior_reviewer),
            ("auditor", PlatformRole.auditor),
            ("admin", PlatformRole.admin),
        ]
    }
    return Scene(ctx, receipt.case.id, staff)


def content(case_file: CaseFile) -> tuple[CaseView, list[str | None], list[str]]:
    return (
        case_file.view,
        [e.body for e in case_file.evidence if e.reported],
        [r.statement for r in case_file.reports],
    )


EVIDENCE = (CaseView.evidence, [SECRET], ["he threatened me"])
METADATA = (CaseView.metadata, [None], [""])


@pytest.mark.parametrize(
    ("who", "seen"),
    [
        ("reviewer", EVIDENCE),
        ("senior", EVIDENCE),
        ("auditor", METADATA),
        ("admin", METADATA),
    ],
)
async def test_an_open_case_is_read_by_role(who: str, seen: tuple[object, ...]) -> None:
    s = await direct_chat_case()
    case_file = await open_case_file(s.ctx, s.staff[who], s.case_id)
    assert content(case_file) == seen
    assert case_file.case.id == s.case_id and len(case_file.reports) == 1


async def test_a_member_without_a_platform_role_opens_no_case_file() -> None:
    s = await direct_chat_case()
    member = await register(s.ctx, "curious")
    call = open_case_file(s.ctx, member, s.case_id)
    assert await refusal(call, Forbidden) == "platform_role_required"


async def test_a_claimed_case_is_read_by_its_claimant_and_not_by_other_reviewers() -> None:
    s = await direct_chat_case()
    await do_claim_case(s.ctx, s.staff["reviewer"], s.case_id)
    assert content(await open_case_file(s.ctx, s.staff["reviewer"], s.case_id)) == EVIDENCE
    assert content(await open_case_file(s.ctx, s.staff["other"], s.case_id)) == METADATA
    assert content(await open_case_file(s.ctx, s.staff["senior"], s.case_id)) == EVIDENCE


async def test_an_escalated_case_is_read_by_senior_reviewers_only() -> None:
    s = await direct_chat_case()
    await do_escalate_case(s.ctx, s.staff["reviewer"], s.case_id, "needs a senior")
    assert content(await open_case_file(s.ctx, s.staff["reviewer"], s.case_id)) == METADATA
    assert content(await open_case_file(s.ctx, s.staff["senior"], s.case_id)) == EVIDENCE


async def test_a_decided_case_is_read_by_its_decider_and_senior_reviewers() -> None:
    s = await direct_chat_case()
    await do_decide_case(s.ctx, s.staff["reviewer"], s.case_id, Decision.no_violation, [])
    assert content(await open_case_file(s.ctx, s.staff["reviewer"], s.case_id)) == EVIDENCE
    assert content(await open_case_file(s.ctx, s.staff["other"], s.case_id)) == METADATA
    assert content(await open_case_file(s.ctx, s.staff["senior"], s.case_id)) == EVIDENCE
    assert content(await open_case_file(s.ctx, s.staff["admin"], s.case_id)) == METADATA


async def test_a_metadata_view_leaves_the_stored_evidence_whole_and_is_audited() -> None:
    s = await direct_chat_case()
    await open_case_file(s.ctx, s.staff["admin"], s.case_id)
    (entry,) = [e for e in fake_uow(s.ctx).state.audit if e.action == "case.view"]
    assert (entry.actor_id, entry.detail["view"]) == (s.staff["admin"].id, "metadata")
    assert content(await open_case_file(s.ctx, s.staff["senior"], s.case_id)) == EVIDENCE
