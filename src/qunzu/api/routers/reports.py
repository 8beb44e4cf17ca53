"""Reports, owner notices, statements of reasons and appeals; the platform's review queue."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response, status

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import Line
from qunzu.api.schemas_reports import (
    AppealDecisionIn,
    AppealOut,
    AssessmentOut,
    CaseFileOut,
    CaseOut,
    DecisionIn,
    DecisionOut,
    EvidenceOut,
    IdInt,
    NoteIn,
    OwnerNoticeOut,
    ReasonIn,
    ReceiptOut,
    ReportIn,
    ReportOut,
    SanctionOut,
    StatementIn,
    StatementOfReasonsOut,
)
from qunzu.domain.cases import CaseView
from qunzu.domain.reports import CaseStatus, Decision, QueueFilter, TargetKind
from qunzu.domain.sanctions import SanctionRequest
from qunzu.services import appeals, records, reports, review

router = APIRouter(
    prefix="/v1", tags=["reports"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)
platform = APIRouter(
    prefix="/v1/platform",
    tags=["platform review"],
    responses=ERROR_RESPONSES,
    route_class=StrictJSONRoute,
)


def _receipt(r: Any, c: Any) -> ReceiptOut:
    return ReceiptOut.of(r, c)


def _evidence(e: Any, attachments: dict[int, list[dict[str, Any]]] | None = None) -> EvidenceOut:
    return EvidenceOut(
        seq=e.seq,
        sender_id=e.sender_id,
        body=e.body,
        kind=e.kind,
        created_at=e.created_at,
        reported=e.reported,
        attachments=(attachments or {}).get(e.seq, []),
    )


@router.post("/reports", status_code=status.HTTP_201_CREATED, response_model=ReceiptOut)
async def file_report(body: ReportIn, ctx: Ctx, actor: CurrentActor) -> ReceiptOut:
    """Report a message, a member or a group (举报). You get a receipt now and the outcome
    later. One report per reporter and target."""
    receipt = await reports.do_file_report(
        ctx,
        actor,
        body.group_id,
        TargetKind(body.target.kind),
        body.category,
        body.statement,
        body.target.seq,
        body.target.account_id,
        tuple(body.extra_seqs),
    )
    return _receipt(receipt.report, receipt.case)


@router.get("/me/reports", response_model=list[ReceiptOut])
async def my_reports(ctx: Ctx, actor: CurrentActor) -> list[ReceiptOut]:
    return [_receipt(r.report, r.case) for r in await reports.list_my_reports(ctx, actor)]


@router.post(
    "/cases/{case_id}/review-request", status_code=status.HTTP_201_CREATED, response_model=AppealOut
)
async def request_review(
    case_id: IdInt, body: StatementIn, ctx: Ctx, actor: CurrentActor
) -> AppealOut:
    """As a reporter, ask once for review of a no_violation decision."""
    return AppealOut.of(await appeals.do_request_review(ctx, actor, case_id, body.statement))


@router.get("/me/owner-notices", response_model=list[OwnerNoticeOut])
async def owner_notices(ctx: Ctx, actor: CurrentActor) -> list[OwnerNoticeOut]:
    """Reports waiting on groups you manage, and when the platform steps in (P7, P8)."""
    return [
        OwnerNoticeOut(
            case=CaseOut.of(n.case),
            reports=n.reports,
            respond_by=n.respond_by,  # type: ignore[arg-type]
            reported_message=_evidence(n.reported_message) if n.reported_message else None,
            reported_message_withheld=n.withheld,
        )
        for n in await reports.list_owner_notices(ctx, actor)
    ]


@router.get("/me/sanctions", response_model=list[SanctionOut])
async def my_sanctions(ctx: Ctx, actor: CurrentActor) -> list[SanctionOut]:
    """Sanctions on your account and on the groups you own."""
    return [SanctionOut.of(s) for s in await appeals.list_my_sanctions(ctx, actor)]


@router.get("/sanctions/{sanction_id}", response_model=StatementOfReasonsOut)
async def statement_of_reasons(
    sanction_id: IdInt, ctx: Ctx, actor: CurrentActor
) -> StatementOfReasonsOut:
    """The statement of reasons for a sanction that affects you."""
    sor = await appeals.statement_of_reasons(ctx, actor, sanction_id)
    s = sor.sanction
    return StatementOfReasonsOut(
        sanction=SanctionOut.of(s),
        measure_zh=sor.measure_zh,
        measure_en=sor.measure_en,
        article_id=s.article,
        article_title_zh=sor.article.title.zh if sor.article else None,
        article_title_en=sor.article.title.en if sor.article else None,
        article_text_zh=sor.article.text.zh if sor.article else None,
        article_text_en=sor.article.text.en if sor.article else None,
        evidence_seqs=sor.evidence_seqs,
        decided_by_role=sor.decided_by_role,
        automated=s.automated,
        in_force=sor.in_force,
        how_to_appeal=(
            f"POST /v1/sanctions/{s.id}/appeal with a statement, once, before "
            f"{s.appeal_until.isoformat()}. A different, senior reviewer decides."
        ),
        appeal=AppealOut.of(sor.appeal) if sor.appeal else None,
    )


@router.post(
    "/sanctions/{sanction_id}/appeal", status_code=status.HTTP_201_CREATED, response_model=AppealOut
)
async def appeal(sanction_id: IdInt, body: StatementIn, ctx: Ctx, actor: CurrentActor) -> AppealOut:
    return AppealOut.of(await appeals.do_appeal_sanction(ctx, actor, sanction_id, body.statement))


@router.post("/sanctions/{sanction_id}/acknowledge", response_model=SanctionOut)
async def acknowledge(sanction_id: IdInt, ctx: Ctx, actor: CurrentActor) -> SanctionOut:
    """As owner, acknowledge a warning and undertake to rectify (警示整改)."""
    return SanctionOut.of(await review.do_acknowledge_warning(ctx, actor, sanction_id))


# ---- platform ------------------------------------------------------------------------------


@platform.get("/cases", response_model=list[CaseOut])
async def queue(
    ctx: Ctx,
    actor: CurrentActor,
    status_: Annotated[
        list[Literal["open", "claimed", "escalated", "decided", "handled_by_owner"]] | None,
        Query(alias="status"),
    ] = None,
    category: Annotated[Line | None, Query(max_length=32)] = None,
    severity: Annotated[Literal["normal", "severe"] | None, Query()] = None,
    overdue: bool = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[CaseOut]:
    """The review queue, earliest deadline first. Cases still with an owner are not shown."""
    flt = QueueFilter(
        status=frozenset(CaseStatus(s) for s in status_) if status_ else QueueFilter().status,
        category=category,
        severity=severity,
        overdue_only=overdue,
    )
    return [CaseOut.of(c) for c in await review.list_queue(ctx, actor, flt, limit, offset)]


@platform.get("/cases/{case_id}", response_model=CaseFileOut)
async def case_file(case_id: IdInt, ctx: Ctx, actor: CurrentActor) -> CaseFileOut:
    """The case, its reports and its evidence: nothing else of the group (P2). Audited."""
    f = await review.open_case_file(ctx, actor, case_id)
    return CaseFileOut(
        case=CaseOut.of(f.case),
        reports=[
            ReportOut(
                id=r.id,
                reporter_id=r.reporter_id,
                category=r.category,
                statement=r.statement,
                extra_seqs=list(r.extra_seqs),
                created_at=r.created_at,
                reporter_weight=r.reporter_weight,
                manifestly_unfounded=r.manifestly_unfounded,
            )
            for r in f.reports
        ],
        evidence=[_evidence(e, f.attachments) for e in f.evidence],
        sanctions=[SanctionOut.of(s) for s in f.sanctions],
        assessments=[AssessmentOut.of(a) for a in f.assessments],
        content_withheld=f.view is CaseView.metadata,
    )


@platform.post("/cases/{case_id}/claim", response_model=CaseOut)
async def claim(case_id: IdInt, ctx: Ctx, actor: CurrentActor) -> CaseOut:
    return CaseOut.of(await review.do_claim_case(ctx, actor, case_id))


@platform.post("/cases/{case_id}/release", response_model=CaseOut)
async def release(case_id: IdInt, ctx: Ctx, actor: CurrentActor) -> CaseOut:
    """Give a claimed case back to the queue: its claimant, or a senior reviewer."""
    return CaseOut.of(await review.do_release_case(ctx, actor, case_id))


@platform.post("/cases/{case_id}/escalate", response_model=CaseOut)
async def escalate(case_id: IdInt, body: NoteIn, ctx: Ctx, actor: CurrentActor) -> CaseOut:
    return CaseOut.of(await review.do_escalate_case(ctx, actor, case_id, body.note))


@platform.post("/cases/{case_id}/decide", response_model=DecisionOut)
async def decide(case_id: IdInt, body: DecisionIn, ctx: Ctx, actor: CurrentActor) -> DecisionOut:
    """Decide: no_violation, or violation with sanctions from the rulebook's catalogue, each
    citing an article in force when the conduct happened (P3)."""
    requests = [
        SanctionRequest(s.kind, s.article, s.facts, s.days, s.scope_group_id)
        for s in body.sanctions
    ]
    case, imposed = await review.do_decide_case(
        ctx,
        actor,
        case_id,
        Decision(body.decision),
        requests,
        body.note,
        body.manifestly_unfounded,
        [s.account_id for s in body.sanctions],
    )
    return DecisionOut(case=CaseOut.of(case), sanctions=[SanctionOut.of(s) for s in imposed])


@platform.post("/sanctions/{sanction_id}/lift", response_model=SanctionOut)
async def lift(sanction_id: IdInt, body: ReasonIn, ctx: Ctx, actor: CurrentActor) -> SanctionOut:
    return SanctionOut.of(await review.do_lift_sanction(ctx, actor, sanction_id, body.reason))


@platform.get("/appeals", response_model=list[AppealOut])
async def pending_appeals(ctx: Ctx, actor: CurrentActor) -> list[AppealOut]:
    return [AppealOut.of(a) for a in await appeals.list_pending_appeals(ctx, actor)]


@platform.post("/appeals/{appeal_id}/decide", response_model=AppealOut)
async def decide_appeal(
    appeal_id: IdInt, body: AppealDecisionIn, ctx: Ctx, actor: CurrentActor
) -> AppealOut:
    """A senior reviewer other than the original decider; overturning lifts the sanction
    and reverses its credit entry."""
    return AppealOut.of(
        await appeals.do_decide_appeal(ctx, actor, appeal_id, body.overturn, body.note)
    )


@platform.get(
    "/exports/regulator",
    response_class=Response,
    responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
)
async def regulator_export(
    ctx: Ctx,
    actor: CurrentActor,
    from_: Annotated[datetime, Query(alias="from")],
    to: Annotated[datetime, Query()],
    format: Literal["jsonl", "csv"] = "jsonl",
) -> Response:
    """Sanctions on groups and accounts with articles and reasons (Art. 11). Audited."""
    rows = await records.regulator_rows(ctx, from_, to, actor)
    media = "application/x-ndjson" if format == "jsonl" else "text/csv"
    return Response(records.render(rows, format), media_type=media)


@platform.get("/transparency", response_model=dict[str, Any])
async def transparency(
    ctx: Ctx,
    actor: CurrentActor,
    from_: Annotated[datetime, Query(alias="from")],
    to: Annotated[datetime, Query()],
) -> dict[str, Any]:
    return await records.transparency(ctx, from_, to, actor)
