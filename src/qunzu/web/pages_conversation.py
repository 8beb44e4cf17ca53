"""Conversation in the web app: recall one's message, pin and unpin, and one's nickname
in a group (群昵称). Replies and mentions go through the timeline's send form."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from starlette.responses import Response

from qunzu.domain.errors import DomainError
from qunzu.services import conversation, overview
from qunzu.services.threads import References
from qunzu.web.page import IdPath, Page, act, form_int, load, load_form, render

router = APIRouter(include_in_schema=False)


@router.post("/g/{group_id}/m/{seq}/recall")
async def recall(request: Request, group_id: IdPath, seq: IdPath) -> Response:
    page = await load_form(request)
    return await act(
        page,
        lambda: conversation.do_recall_message(page.ctx, page.me, group_id, seq),
        f"/g/{group_id}#e-{seq}",
        back=f"/g/{group_id}/m/{seq}",
    )


@router.post("/g/{group_id}/m/{seq}/pin")
async def pin(request: Request, group_id: IdPath, seq: IdPath) -> Response:
    page = await load_form(request)
    return await act(
        page,
        lambda: conversation.do_pin_message(page.ctx, page.me, group_id, seq),
        f"/g/{group_id}",
        back=f"/g/{group_id}/m/{seq}",
    )


@router.post("/g/{group_id}/m/{seq}/unpin")
async def unpin(request: Request, group_id: IdPath, seq: IdPath) -> Response:
    page = await load_form(request)
    return await act(
        page,
        lambda: conversation.do_unpin_message(page.ctx, page.me, group_id, seq),
        f"/g/{group_id}",
        back=f"/g/{group_id}/m/{seq}",
    )


@router.get("/g/{group_id}/nickname")
async def nickname_page(request: Request, group_id: IdPath) -> Response:
    page = await load(request)
    try:
        pv = await overview.get_posting_view(page.ctx, page.me, group_id)
        mine = await conversation.nicknames(page.ctx, page.me, group_id, [page.me.id])
    except DomainError as exc:
        return render(
            page, "error.html", 404, title=page.tr("error.title"), message=page.tr.error(exc)
        )
    return render(
        page,
        "nickname.html",
        title=page.tr("conv.nickname"),
        section="groups",
        pv=pv,
        nickname=mine.get(page.me.id, ""),
    )


@router.post("/g/{group_id}/nickname")
async def set_nickname(request: Request, group_id: IdPath) -> Response:
    page = await load_form(request)
    name = page.form.get("nickname", "")
    return await act(
        page,
        lambda: conversation.do_set_nickname(page.ctx, page.me, group_id, name),
        f"/g/{group_id}",
        back=f"/g/{group_id}/nickname",
    )


# ``@handle`` (a handle's own rule: a letter, then letters, digits or underscores) and
# ``@all`` / ``@所有人`` typed in the composer.
_MENTION = re.compile(r"(?<![A-Za-z0-9_])@([A-Za-z][A-Za-z0-9_]{2,31}|所有人)")
_ALL = ("all", "所有人")


async def references_from_form(page: Page, group_id: int, body: str) -> References:
    """A reply target from the form, mentions from the text: ``@all`` asks for @all (the
    service decides whether the sender may), ``@handle`` of a current member mentions them."""
    reply_to = form_int(page, "reply_to")
    named = [m.group(1) for m in _MENTION.finditer(body)]
    handles = [h for h in named if h.lower() not in _ALL]
    ids = (
        await conversation.member_ids_by_handle(page.ctx, page.me, group_id, handles)
        if handles
        else []
    )
    return References(
        reply_to if reply_to and reply_to > 0 else None,
        tuple(ids),
        any(h.lower() in _ALL for h in named),
    )
