"""Message search: ``GET /v1/search`` (docs/search.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.jsonwire import StrictJSONRoute
from qunzu.api.schemas import MAX_ID
from qunzu.services import search
from qunzu.services.search import SearchResult

router = APIRouter(
    prefix="/v1", tags=["search"], responses=ERROR_RESPONSES, route_class=StrictJSONRoute
)


class SnippetPart(BaseModel):
    text: str
    hit: bool


class SearchResultOut(BaseModel):
    group_id: int
    group_name: str
    seq: int
    sender_id: int | None
    sender_name: str
    created_at: datetime
    snippet: list[SnippetPart]

    @classmethod
    def of(cls, r: SearchResult) -> SearchResultOut:
        return cls(
            group_id=r.group_id,
            group_name=r.group_name,
            seq=r.seq,
            sender_id=r.sender_id,
            sender_name=r.sender_name,
            created_at=r.created_at,
            snippet=[SnippetPart(text=s.text, hit=s.hit) for s in r.snippet],
        )


class SearchOut(BaseModel):
    results: list[SearchResultOut]
    next_before: int | None


@router.get("/search", response_model=SearchOut)
async def search_messages(
    ctx: Ctx,
    actor: CurrentActor,
    q: Annotated[str, Query(max_length=1000)],
    group: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> SearchOut:
    """Messages holding ``q`` in your groups, within what you may see, newest first.
    Follow ``next_before`` for older results (null at the end)."""
    page = await search.search_messages(ctx, actor, q, group, before, limit)
    return SearchOut(
        results=[SearchResultOut.of(r) for r in page.results], next_before=page.next_before
    )
