"""Conversation: recall, pinned messages, group nicknames. Replies and mentions are
fields of the send (``MessageIn``); counts are in ``GET /v1/me/groups`` and ``ready``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import EntryOut, IdInt, In, Text
from qunzu.services import conversation

router = APIRouter(
    prefix="/v1", tags=["conversation"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


class PinOut(BaseModel):
    entry: EntryOut
    pinned_by: int
    pinned_at: datetime


class NicknameIn(In):
    # Text here; the nickname rule (domain/conversation.py) is stricter and answers
    # control and bidirectional characters with its own invalid_nickname.
    nickname: Text = Field(max_length=256)


class NicknameOut(BaseModel):
    group_id: int
    account_id: int
    nickname: str | None


@router.post("/groups/{group_id}/messages/{seq}/recall", status_code=status.HTTP_204_NO_CONTENT)
async def recall(group_id: IdInt, seq: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    """Recall your own message within the rulebook's window (撤回); members see
    "recalled" in its place."""
    await conversation.do_recall_message(ctx, actor, group_id, seq)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/groups/{group_id}/pins", response_model=list[PinOut])
async def pins(group_id: IdInt, ctx: Ctx, actor: CurrentActor) -> list[PinOut]:
    """The group's pinned messages you may see, oldest pin first."""
    return [
        PinOut(entry=EntryOut.of(p.entry), pinned_by=p.pinned_by, pinned_at=p.pinned_at)
        for p in await conversation.list_pins(ctx, actor, group_id)
    ]


@router.put("/groups/{group_id}/pins/{seq}", status_code=status.HTTP_204_NO_CONTENT)
async def pin(group_id: IdInt, seq: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    """Pin a message (owner, or an admin with pin_messages), up to the rulebook's cap."""
    await conversation.do_pin_message(ctx, actor, group_id, seq)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/groups/{group_id}/pins/{seq}", status_code=status.HTTP_204_NO_CONTENT)
async def unpin(group_id: IdInt, seq: IdInt, ctx: Ctx, actor: CurrentActor) -> Response:
    await conversation.do_unpin_message(ctx, actor, group_id, seq)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/groups/{group_id}/nickname", response_model=NicknameOut)
async def set_nickname(
    group_id: IdInt, body: NicknameIn, ctx: Ctx, actor: CurrentActor
) -> NicknameOut:
    """Your nickname in this group (群昵称); an empty text clears it."""
    name = await conversation.do_set_nickname(ctx, actor, group_id, body.nickname)
    return NicknameOut(group_id=group_id, account_id=actor.id, nickname=name)


@router.get("/groups/{group_id}/nicknames", response_model=dict[str, str])
async def nicknames(
    group_id: IdInt,
    ctx: Ctx,
    actor: CurrentActor,
    ids: Annotated[list[IdInt], Query(max_length=500)],
) -> dict[str, str]:
    """Group nicknames of the accounts named (those without one are left out)."""
    found = await conversation.nicknames(ctx, actor, group_id, ids)
    return {str(k): v for k, v in found.items()}
