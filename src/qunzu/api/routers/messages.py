"""Messages and direct conversations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from qunzu.api.deps import BEARER_SECURITY, Ctx, CurrentActor, CurrentSession
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import MAX_ID, DirectIn, EntryOut, GroupOut, HistoryOut, IdInt, MessageIn
from qunzu.services import messaging

router = APIRouter(
    prefix="/v1", tags=["messages"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


@router.post(
    "/groups/{group_id}/messages",
    status_code=status.HTTP_201_CREATED,
    response_model=EntryOut,
    responses={200: {"model": EntryOut, "description": "A retry: the original message."}},
    openapi_extra=BEARER_SECURITY,
)
async def send_message(
    group_id: IdInt, body: MessageIn, session: CurrentSession, response: Response
) -> EntryOut:
    """Post a message. Retrying with the same client_txn_id returns the original (200)."""
    result = await messaging.do_send_message(
        session.ctx,
        session.actor,
        group_id,
        body.body,
        body.client_txn_id,
        body.attachments,
        body.references(),
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return EntryOut.of(result.entry)


@router.get("/groups/{group_id}/messages", response_model=HistoryOut)
async def history(
    group_id: IdInt,
    ctx: Ctx,
    actor: CurrentActor,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    before: Annotated[int | None, Query(ge=0, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> HistoryOut:
    """The timeline after or before a seq; the newest page when neither is given."""
    page = await messaging.read_history(ctx, actor, group_id, after, before, limit)
    return HistoryOut(
        entries=[EntryOut.of(e) for e in page.entries],
        first_visible_seq=page.first_visible_seq,
        last_visible_seq=page.last_visible_seq,
    )


@router.post("/direct", response_model=GroupOut)
async def open_direct(body: DirectIn, ctx: Ctx, actor: CurrentActor) -> GroupOut:
    """Open (or return) your one-to-one conversation with another account."""
    return GroupOut.of(await messaging.do_open_direct(ctx, actor, body.handle))
