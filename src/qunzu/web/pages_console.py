"""The platform console (平台工作台): the review queue, a case and its decision, appeals, and
the audit log, for platform staff only.

Every page calls the same services as the API under ``/v1/platform``, so every case view,
queue read and decision is audited there, and a case shows only what its case file holds
(P2: for a private-tier group, the reported items alone). A role sees only its own pages;
any other console page answers 403 (``StaffOnly``, rendered in ``web/app.py``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from qunzu.domain.cases import conduct_rulebook
from qunzu.domain.errors import DomainError, InvalidInput
from qunzu.domain.models import PlatformRole
from qunzu.domain.reports import CaseStatus, Decision, QueueFilter, Route
from qunzu.domain.rulebook import Rulebook, SanctionKind, Tier
from qunzu.domain.sanctions import SanctionRequest, check_measure_allowed
from qunzu.domain.text import TextKind, check_text
from qunzu.services import appeals, audit, review
from qunzu.services.actor import REVIEWERS, SENIORS
from qunzu.web.page import (
    MAX_PAGE_ID,
    IdPath,
    Page,
    act,
    form_int,
    load,
    load_form,
    redirect,
    render,
)

router = APIRouter(include_in_schema=False)

AUDITORS = (PlatformRole.auditor, PlatformRole.admin)
PAGE_SIZE = 50
ROUTES = ("owner", "platform", "escalated", "severe")
TIERS = tuple(t.value for t in Tier)
MAX_FACTS = 2000


class StaffOnly(Exception):  # a control-flow signal, handled in web/app.py
    """A console page the viewer's role does not open: 403, nothing shown."""


async def staff_page(request: Request, roles: tuple[PlatformRole, ...]) -> Page:
    """A console page: anonymous visitors log in first; other roles get the 403 page.
    Staff are employees bound by their contract, not the members' agreement."""
    page = await load(request, agreement_needed=False)
    if page.me.account.platform_role not in roles:
        raise StaffOnly
    return page


async def staff_form(request: Request, roles: tuple[PlatformRole, ...]) -> Page:
    page = await load_form(request, agreement_needed=False)
    if page.me.account.platform_role not in roles:
        raise StaffOnly
    return page


def home_of(role: PlatformRole | None) -> str:
    """The first console page a role opens."""
    if role in REVIEWERS:
        return "/console/queue"
    if role in AUDITORS:
        return "/console/audit"
    return "/"


def _nav(page: Page) -> list[tuple[str, str]]:
    role = page.me.account.platform_role
    items = []
    if role in REVIEWERS:
        items.append(("/console/queue", "console.nav.queue"))
    if role in SENIORS:
        items.append(("/console/appeals", "console.nav.appeals"))
    if role in SENIORS:
        items.append(("/console/officer", "console.nav.officer"))
    if role in AUDITORS:
        items.append(("/console/audit", "console.nav.audit"))
    if role in (*AUDITORS, *SENIORS):
        items.append(("/console/exports", "console.nav.exports"))
    if role is PlatformRole.admin:
        items.append(("/console/staff", "console.nav.staff"))
    return items


def show(page: Page, template: str, status: int = 200, **values: Any) -> Response:
    return render(page, template, status, section="console", console_nav=_nav(page), **values)


@router.get("/console")
async def console_home(request: Request) -> Response:
    page = await load(request, agreement_needed=False)
    role = page.me.account.platform_role
    if role is None:
        raise StaffOnly
    return redirect(page, home_of(role))


# ---- the queue ------------------------------------------------------------------------


def _queue_filter(page: Page) -> tuple[QueueFilter, dict[str, str]]:
    """The filters from the query string; an unknown value is no filter (and is not echoed)."""
    q = page.request.query_params
    book = page.ctx.rulebooks.in_force(page.now())
    shown: dict[str, str] = {}
    category = q.get("category") or None
    if category not in book.report_categories:
        category = None
    tier = q.get("tier") if q.get("tier") in TIERS else None
    route = q.get("route") if q.get("route") in ROUTES else None
    claimed: int | None = None
    raw_claimed = q.get("claimed", "")
    if raw_claimed == "me":
        claimed = page.me.id
    elif raw_claimed.isdigit() and 0 < int(raw_claimed) <= MAX_PAGE_ID:
        claimed = int(raw_claimed)
    for key, value in (("category", category), ("tier", tier), ("route", route)):
        if value:
            shown[key] = value
    if claimed is not None:
        shown["claimed"] = raw_claimed
    flt = QueueFilter(
        category=category,
        tier=tier,
        severity="severe" if route == "severe" else None,
        escalated_only=route == "escalated",
        route=Route(route) if route in ("owner", "platform") else None,
        claimed_by=claimed,
    )
    return flt, shown


@router.get("/console/queue")
async def queue(request: Request) -> Response:
    page = await staff_page(request, REVIEWERS)
    flt, shown = _queue_filter(page)
    raw = request.query_params.get("page", "1")
    number = int(raw) if raw.isdigit() and 0 < int(raw) <= 10_000 else 1
    cases = await review.list_queue(page.ctx, page.me, flt, PAGE_SIZE + 1, (number - 1) * PAGE_SIZE)
    book = page.ctx.rulebooks.in_force(page.now())
    return show(
        page,
        "console_queue.html",
        title=page.tr("console.queue.title"),
        cases=cases[:PAGE_SIZE],
        more=len(cases) > PAGE_SIZE,
        number=number,
        shown=shown,
        categories=book.report_categories,
        tiers=TIERS,
        routes=ROUTES,
        query="&".join(f"{k}={v}" for k, v in shown.items()),
    )


def _back(page: Page, case_id: int) -> str:
    return "/console/queue" if page.form.get("back") == "queue" else f"/console/cases/{case_id}"


@router.post("/console/cases/{case_id}/claim")
async def claim(request: Request, case_id: IdPath) -> Response:
    page = await staff_form(request, REVIEWERS)
    return await act(
        page,
        lambda: review.do_claim_case(page.ctx, page.me, case_id),
        _back(page, case_id),
        page.tr("console.claimed"),
        back=_back(page, case_id),
    )


@router.post("/console/cases/{case_id}/release")
async def release(request: Request, case_id: IdPath) -> Response:
    page = await staff_form(request, REVIEWERS)
    return await act(
        page,
        lambda: review.do_release_case(page.ctx, page.me, case_id),
        _back(page, case_id),
        page.tr("console.released"),
        back=_back(page, case_id),
    )


@router.post("/console/cases/{case_id}/escalate")
async def escalate(request: Request, case_id: IdPath) -> Response:
    page = await staff_form(request, REVIEWERS)
    note = page.form.get("note", "").strip()

    async def work() -> object:
        if not note:
            raise InvalidInput("note_required", "Say why a senior reviewer should look.")
        check_text(note[:MAX_FACTS], "note", TextKind.prose)
        return await review.do_escalate_case(page.ctx, page.me, case_id, note)

    return await act(
        page, work, "/console/queue", page.tr("console.escalated"), back=f"/console/cases/{case_id}"
    )


# ---- a case and its decision ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Draft:
    """The decision form as posted: what the preview shows and the decision imposes."""

    decision: str = ""
    kind: str = ""
    article: str = ""
    facts: str = ""
    days: int | None = None
    unfounded: bool = False


def measures_for(book: Rulebook, tier: str) -> list[SanctionKind]:
    """The closed catalogue of the conduct-time rulebook, less what the tier forbids (P1)."""
    allowed = []
    for kind in book.sanctions.values():
        try:
            check_measure_allowed(kind, Tier(tier))
        except DomainError:
            continue
        allowed.append(kind)
    return allowed


def check_draft(draft: Draft, book: Rulebook, tier: str) -> SanctionRequest | None:
    """The form's fields, each required where the measure needs it, checked against the
    conduct-time rulebook before anything is sent (the service checks again)."""
    if draft.decision not in (d.value for d in Decision):
        raise InvalidInput("decision_required", "Choose a decision.")
    if draft.decision == Decision.no_violation.value:
        return None
    kind = {k.id: k for k in measures_for(book, tier)}.get(draft.kind)
    if kind is None:
        raise InvalidInput("unknown_sanction", "Choose a measure from the rulebook.")
    if draft.article not in kind.articles or draft.article not in book.articles:
        raise InvalidInput("unknown_article", "Cite an article of the rulebook in force then.")
    if not draft.facts.strip():
        raise InvalidInput("facts_required", "State the facts.")
    if len(draft.facts) > MAX_FACTS:
        raise InvalidInput("too_long", f"The facts are at most {MAX_FACTS} characters.")
    check_text(draft.facts, "facts", TextKind.prose)
    if kind.max_days is not None and (draft.days is None or not 1 <= draft.days <= kind.max_days):
        raise InvalidInput("invalid_days", f"The duration is 1 to {kind.max_days} days.")
    days = draft.days if kind.max_days is not None else None
    return SanctionRequest(kind.id, draft.article, draft.facts.strip(), days)


def _draft(page: Page) -> Draft:
    f = page.form
    return Draft(
        f.get("decision", ""),
        f.get("kind", ""),
        f.get("article", ""),
        f.get("facts", "")[: MAX_FACTS + 1],
        form_int(page, "days"),
        f.get("unfounded") == "yes",
    )


async def _case_page(
    page: Page, case_id: int, draft: Draft | None = None, error: str = "", status: int = 200
) -> Response:
    """The case file (audited by the service) with the decision form for its conduct-time
    rulebook, and, when asked, the statement of reasons as its addressee will read it."""
    file = await review.open_case_file(page.ctx, page.me, case_id)
    book = conduct_rulebook(page.ctx.rulebooks, file.case)
    procedure = page.ctx.rulebooks.in_force(page.now())
    preview = None
    if draft is not None and not error and draft.decision == Decision.violation.value:
        preview = {
            "kind": book.sanctions[draft.kind],
            "article": book.articles[draft.article],
            "facts": draft.facts.strip(),
            "days": draft.days,
            "version": book.version,
            "window": procedure.appeal_window_days,
            "evidence": [e.seq for e in file.evidence if e.reported],
        }
    return show(
        page,
        "console_case.html",
        status=status,
        title=page.tr("console.case.title", id=case_id),
        f=file,
        case=file.case,
        book=book,
        measures=measures_for(book, file.case.tier),
        draft=draft or Draft(),
        preview=preview,
        error=error,
        open=file.case.is_open,
        window=procedure.appeal_window_days,
        overdue=file.case.is_open and file.case.deadline_at < page.now(),
    )


@router.get("/console/cases/{case_id}")
async def case_page(request: Request, case_id: IdPath) -> Response:
    page = await staff_page(request, REVIEWERS)
    try:
        return await _case_page(page, case_id)
    except DomainError as exc:
        return show(
            page,
            "console_refused.html",
            status=status_of(exc),
            message=page.tr.error(exc),
            title=page.tr("console.case.title", id=case_id),
        )


def status_of(exc: DomainError) -> int:
    from qunzu.api.errors import status_for  # see qunzu/web/__init__.py

    return status_for(exc)


@router.post("/console/cases/{case_id}/preview")
async def preview(request: Request, case_id: IdPath) -> Response:
    page = await staff_form(request, REVIEWERS)
    draft = _draft(page)
    try:
        file_book = await _conduct_book(page, case_id)
        check_draft(draft, *file_book)
    except DomainError as exc:
        return await _case_page(page, case_id, draft, page.tr.error(exc), status=422)
    return await _case_page(page, case_id, draft)


async def _conduct_book(page: Page, case_id: int) -> tuple[Rulebook, str]:
    file = await review.open_case_file(page.ctx, page.me, case_id)
    return conduct_rulebook(page.ctx.rulebooks, file.case), file.case.tier


@router.post("/console/cases/{case_id}/decide")
async def decide(request: Request, case_id: IdPath) -> Response:
    page = await staff_form(request, REVIEWERS)
    draft = _draft(page)
    try:
        book, tier = await _conduct_book(page, case_id)
        wanted = check_draft(draft, book, tier)
        await review.do_decide_case(
            page.ctx,
            page.me,
            case_id,
            Decision(draft.decision),
            [wanted] if wanted else [],
            draft.facts.strip()[:MAX_FACTS],
            manifestly_unfounded=draft.unfounded and wanted is None,
        )
    except DomainError as exc:
        return await _case_page(page, case_id, draft, page.tr.error(exc), status=status_of(exc))
    return redirect(page, f"/console/cases/{case_id}", ("ok", page.tr("console.decided")))


# ---- appeals (senior reviewers) ---------------------------------------------------------


@router.get("/console/appeals")
async def appeals_page(request: Request) -> Response:
    page = await staff_page(request, SENIORS)
    pending = await appeals.list_pending_appeals(page.ctx, page.me)
    return show(
        page, "console_appeals.html", title=page.tr("console.appeals.title"), appeals=pending
    )


@router.post("/console/appeals/{appeal_id}/decide")
async def decide_appeal(request: Request, appeal_id: IdPath) -> Response:
    page = await staff_form(request, SENIORS)
    overturn = page.form.get("outcome") == "overturn"
    note = page.form.get("note", "").strip()

    async def work() -> object:
        check_text(note[:MAX_FACTS], "note", TextKind.prose)
        return await appeals.do_decide_appeal(page.ctx, page.me, appeal_id, overturn, note)

    return await act(page, work, "/console/appeals", page.tr("console.appeal_decided"))


# ---- the audit log (auditors) -------------------------------------------------------------


def _audit_filters(page: Page) -> dict[str, Any]:
    q = page.request.query_params
    out: dict[str, Any] = {}
    actor = q.get("actor", "")
    if actor.isdigit() and int(actor) <= MAX_PAGE_ID:
        out["actor"] = int(actor)
    for key in ("action", "subject"):
        value = q.get(key, "").strip()[:96]
        if value:
            out[key] = value
    for key in ("since", "until"):
        with contextlib.suppress(ValueError):
            out[key] = datetime.fromisoformat(q.get(key, "")).date()
    return out


def _matches(entry: Any, flt: dict[str, Any], tz: Any) -> bool:
    if "actor" in flt and entry.actor_id != flt["actor"]:
        return False
    if "action" in flt and entry.action != flt["action"]:
        return False
    if "subject" in flt and flt["subject"] not in entry.subject:
        return False
    day = entry.at.astimezone(tz).date()
    if "since" in flt and day < flt["since"]:
        return False
    return not ("until" in flt and day > flt["until"])


@router.get("/console/audit")
async def audit_page(request: Request) -> Response:
    """A page of the log (1,000 entries after ``after``), filtered on the page; the chain
    check on demand (``?verify=1``) names the first broken entry."""
    page = await staff_page(request, AUDITORS)
    raw = request.query_params.get("after", "0")
    after = int(raw) if raw.isdigit() and int(raw) <= MAX_PAGE_ID else 0
    entries = await audit.list_audit(page.ctx, page.me, after, 1000)
    flt = _audit_filters(page)
    report = None
    if request.query_params.get("verify") == "1":
        report = await audit.verify_audit_chain(page.ctx, page.me)
    shown = [e for e in entries if _matches(e, flt, page.tr.tz)]
    return show(
        page,
        "console_audit.html",
        title=page.tr("console.audit.title"),
        entries=shown,
        flt={k: str(v) for k, v in flt.items()},
        report=report,
        next_after=entries[-1].id if len(entries) == 1000 else None,
        broken=report.first_broken_id if report is not None else None,
        statuses=CaseStatus,
    )
