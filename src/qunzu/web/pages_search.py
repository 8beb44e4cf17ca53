"""Message search (消息搜索): the results page behind the search box of every group page.

A plain GET form: ``/search?q=…`` searches every group of the viewer, ``&group=`` one of
them, ``&before=`` goes to older results. Refusals (too short, too many searches) show
on the page with the form kept."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from qunzu.domain.errors import DomainError
from qunzu.services import search
from qunzu.services.search import SearchPage
from qunzu.web.page import MAX_PAGE_ID, load, render

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 20


@router.get("/search")
async def search_page(
    request: Request,
    q: Annotated[str, Query(max_length=1000)] = "",
    group: Annotated[int | None, Query(ge=1, le=MAX_PAGE_ID)] = None,
    before: Annotated[int | None, Query(ge=1, le=MAX_PAGE_ID)] = None,
) -> Response:
    page = await load(request)
    found: SearchPage | None = None
    error = ""
    if q.strip():
        try:
            found = await search.search_messages(page.ctx, page.me, q, group, before, PAGE_SIZE)
        except DomainError as exc:
            error = page.tr.error(exc)
    return render(
        page,
        "search.html",
        status=400 if error else 200,
        title=page.tr("search.title"),
        section="groups",
        q=q,
        group=group,
        found=found,
        error=error,
    )
