"""A group's timeline: read (newest 50, older pages), send (retry-safe), accept new rules,
and the fragments app.js fetches to keep the page live (entries after a seq, the composer,
the pinned notice).

Without JavaScript each of these is a plain page or form. With it, the page keeps a
WebSocket on /web/events and, when an event of this group arrives, fetches the entries
after the last one it shows: the fragment is the one source of truth, so a missed or
repeated event can neither leave a gap nor show an entry twice.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import JSONResponse, Response

from qunzu.domain.errors import DomainError, Forbidden, InvalidInput, Unauthenticated
from qunzu.domain.owner_tools import AdminRight
from qunzu.services import (
    attachments,
    conversation,
    groups,
    messaging,
    overview,
    owner_tools,
    rulebook,
)
from qunzu.services.messaging import HistoryPage
from qunzu.web.entries import EntryView, mentioned_ids, view
from qunzu.web.page import (
    MAX_PAGE_ID,
    IdPath,
    Page,
    Redirect,
    act,
    form_int,
    load,
    load_form,
    redirect,
    refused,
    render,
)
from qunzu.web.pages_conversation import references_from_form

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50


async def _entries(
    page: Page, group_id: int, after: int | None, before: int | None, limit: int = 0
) -> tuple[HistoryPage, list[EntryView]]:
    limit = limit or (PAGE_SIZE if after is None else 200)
    history = await messaging.read_history(page.ctx, page.me, group_id, after, before, limit)
    accounts = await overview.accounts_by_id(page.ctx, mentioned_ids(history.entries))
    return history, view(history.entries, page.tr, accounts, page.me.id, page.now())


async def _cursors(page: Page) -> str:
    """``group:seq`` for every group of the viewer, as of this render: where the live
    stream resumes, so nothing that happens after the page was built is missed."""
    mine = await groups.list_my_groups(page.ctx, page.me)
    return ",".join(f"{g.id}:{g.last_seq}" for _m, g in mine)


async def timeline_page(
    page: Page, group_id: int, before: int | None = None, error: str = "", draft: str = ""
) -> Response:
    try:
        pv = await overview.get_posting_view(page.ctx, page.me, group_id)
    except Forbidden:
        raise Redirect(f"/g/{group_id}/info") from None
    history, entries = await _entries(page, group_id, None, before)
    newest = history.last_visible_seq
    if before is None and newest > pv.read_cursor:
        # Showing the newest page is reading it (for a manager, notice of it: P7).
        await owner_tools.do_mark_read(page.ctx, page.me, group_id, newest)
    title = pv.group.name
    if pv.group.is_direct:
        peer = next(
            (
                i.peer
                for i in await overview.list_inbox(page.ctx, page.me)
                if i.group.id == group_id
            ),
            None,
        )
        title = peer.display_name if peer else page.tr("direct.title")
    oldest = entries[0].seq if entries else newest + 1
    pins = await conversation.list_pins(page.ctx, page.me, group_id) if live_page(before) else []
    return render(
        page,
        "timeline.html",
        status=200 if not error else 400,
        title=title,
        section="groups",
        pv=pv,
        entries=entries,
        has_older=oldest > history.first_visible_seq,
        oldest=oldest,
        newest=newest,
        live=before is None,
        pins=pins,
        cursors=await _cursors(page),
        can_remove=AdminRight.remove_messages in pv.rights,
        error=error,
        draft=draft,
        categories=rulebook.rulebook_in_force(page.ctx).report_categories,
        now=page.now(),
        new_txn=_new_txn(),
    )


def live_page(before: int | None) -> bool:
    return before is None


def _new_txn() -> str:
    return "web-" + secrets.token_urlsafe(12)


@router.get("/g/{group_id}")
async def timeline(
    request: Request,
    group_id: IdPath,
    before: Annotated[int | None, Query(ge=1, le=MAX_PAGE_ID)] = None,
) -> Response:
    page = await load(request)
    try:
        return await timeline_page(page, group_id, before)
    except DomainError as exc:
        return render(
            page, "error.html", 404, title=page.tr("error.title"), message=page.tr.error(exc)
        )


@router.get("/g/{group_id}/entries")
async def entries_fragment(
    request: Request,
    group_id: IdPath,
    after: Annotated[int | None, Query(ge=0, le=MAX_PAGE_ID)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_PAGE_ID)] = None,
) -> Response:
    """Entries after (live) or before (older pages) a seq, as list items."""
    page = await load(request)
    try:
        pv = await overview.get_posting_view(page.ctx, page.me, group_id)
        history, entries = await _entries(page, group_id, after, before)
    except DomainError as exc:
        return refused(page, exc, f"/g/{group_id}")
    response = render(
        page,
        "_entries.html",
        pv=pv,
        entries=entries,
        can_remove=AdminRight.remove_messages in pv.rights,
        categories=rulebook.rulebook_in_force(page.ctx).report_categories,
        now=page.now(),
    )
    response.headers["x-first-visible-seq"] = str(history.first_visible_seq)
    return response


@router.get("/g/{group_id}/composer")
async def composer_fragment(request: Request, group_id: IdPath) -> Response:
    page = await load(request)
    try:
        pv = await overview.get_posting_view(page.ctx, page.me, group_id)
    except DomainError as exc:
        return refused(page, exc, f"/g/{group_id}")
    return render(page, "_composer.html", pv=pv, now=page.now(), new_txn=_new_txn(), draft="")


@router.get("/g/{group_id}/notice")
async def notice_fragment(request: Request, group_id: IdPath) -> Response:
    """The pinned group notice (群公告) as the page shows it: app.js swaps it in when a
    ``notice_pinned`` entry arrives live."""
    page = await load(request)
    try:
        pv = await overview.get_posting_view(page.ctx, page.me, group_id)
    except DomainError as exc:
        return refused(page, exc, f"/g/{group_id}")
    return render(page, "_notice.html", pv=pv)


@router.post("/g/{group_id}/send")
async def send(request: Request, group_id: IdPath) -> Response:
    page = await load_form(request)
    body = page.form.get("body", "")
    txn = page.form.get("client_txn_id", "")
    try:
        refs = await references_from_form(page, group_id, body)
        result = await messaging.do_send_message(page.ctx, page.me, group_id, body, txn, refs=refs)
    except Unauthenticated as exc:
        return refused(page, exc, "/login")
    except DomainError as exc:
        if page.is_fetch:
            return refused(page, exc, f"/g/{group_id}")
        return await timeline_page(page, group_id, error=page.tr.error(exc), draft=body)
    if page.is_fetch:
        return JSONResponse(
            {"ok": True, "seq": result.entry.seq, "created": result.created, "txn": txn},
            status_code=201 if result.created else 200,
        )
    return redirect(page, f"/g/{group_id}#e-{result.entry.seq}")


@router.post("/g/{group_id}/read")
async def mark_read(request: Request, group_id: IdPath) -> Response:
    page = await load_form(request)
    seq = form_int(page, "seq")
    try:
        if seq is None:
            raise InvalidInput("invalid_cursor", "No such position in this group.")
        done = await owner_tools.do_mark_read(page.ctx, page.me, group_id, seq)
    except DomainError as exc:
        return refused(page, exc, f"/g/{group_id}")
    return JSONResponse({"ok": True, "seq": done})


@router.post("/g/{group_id}/rules/accept")
async def accept_rules(request: Request, group_id: IdPath) -> Response:
    page = await load_form(request)
    version = form_int(page, "version", 0) or 0
    return await act(
        page,
        lambda: groups.do_accept_rules(page.ctx, page.me, group_id, version),
        f"/g/{group_id}",
        page.tr("rules.accepted"),
    )


@router.get("/a/{upload_id}/{variant}")
async def attachment(request: Request, upload_id: IdPath, variant: str) -> Response:
    """An attachment the viewer may see: a redirect to its short-lived signed link (the
    page itself stays cacheable; the link is made for this viewer when asked for)."""
    page = await load(request)
    try:
        shown = await attachments.view_upload(page.ctx, page.me, upload_id)
    except DomainError:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    link = shown.links.get(variant)
    if link is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    return Response(status_code=303, headers={"Location": link, "Cache-Control": "no-store"})


@router.get("/g/{group_id}/m/{seq}")
async def message_page(request: Request, group_id: IdPath, seq: IdPath) -> Response:
    """One message and what one may do with it: report it or its sender; remove it."""
    page = await load(request)
    try:
        pv = await overview.get_posting_view(page.ctx, page.me, group_id)
        _history, entries = await _entries(page, group_id, seq - 1, None, limit=1)
    except DomainError as exc:
        return render(
            page, "error.html", 404, title=page.tr("error.title"), message=page.tr.error(exc)
        )
    if not entries or entries[0].seq != seq or not entries[0].is_message:
        return render(
            page,
            "error.html",
            404,
            title=page.tr("error.title"),
            message=page.tr("error.message_not_found"),
        )
    pinned = {p.entry.seq for p in await conversation.list_pins(page.ctx, page.me, group_id)}
    return render(
        page,
        "message.html",
        title=page.tr("message.title"),
        section="groups",
        pv=pv,
        entry=entries[0],
        can_remove=AdminRight.remove_messages in pv.rights,
        can_pin=AdminRight.pin_messages in pv.rights,
        pinned=seq in pinned,
        recall_until=await conversation.recall_deadline(page.ctx, page.me, group_id, seq),
        new_txn=_new_txn(),
    )


@router.post("/g/{group_id}/m/{seq}/remove")
async def remove_message(request: Request, group_id: IdPath, seq: IdPath) -> Response:
    page = await load_form(request)
    reason = page.form.get("reason", "")
    return await act(
        page,
        lambda: owner_tools.do_remove_message(page.ctx, page.me, group_id, seq, reason),
        f"/g/{group_id}",
        page.tr("moderation.message_removed"),
    )
