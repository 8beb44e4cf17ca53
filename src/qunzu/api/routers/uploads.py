"""Uploads: streamed in, then served through short-lived signed links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from qunzu.api.deps import Ctx, CurrentActor
from qunzu.api.errors import ERROR_RESPONSES
from qunzu.api.schemas import IdInt
from qunzu.domain.attachments import Upload
from qunzu.domain.errors import InvalidInput
from qunzu.services import attachments

router = APIRouter(prefix="/v1", tags=["uploads"], responses=ERROR_RESPONSES)


class UploadOut(BaseModel):
    id: int
    kind: str
    name: str
    mime: str
    size: int
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None
    thumbnail: bool = False
    created_at: str
    links: dict[str, str] = {}

    @classmethod
    def of(cls, upload: Upload, links: dict[str, str] | None = None) -> UploadOut:
        return cls(
            id=upload.id,
            kind=upload.kind.value,
            name=upload.name,
            mime=upload.mime,
            size=upload.size,
            width=upload.width,
            height=upload.height,
            duration_ms=upload.duration_ms,
            thumbnail=upload.thumb_sha256 is not None,
            created_at=upload.created_at.isoformat(),
            links=links or {},
        )


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput("bad_content_length", "Content-Length is not a number.") from None
    if value < 0:
        raise InvalidInput("bad_content_length", "Content-Length is negative.")
    return value


@router.post(
    "/uploads",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadOut,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def upload(
    request: Request,
    ctx: Ctx,
    actor: CurrentActor,
    name: Annotated[str, Query(min_length=1, max_length=255)],
) -> UploadOut:
    """Upload a file as the raw request body (the file name in ``name``); reference the
    returned id in a message's ``attachments``. The type is read from the content."""

    async def chunks() -> AsyncIterator[bytes]:
        async for chunk in request.stream():
            if chunk:
                yield chunk

    stored = await attachments.do_upload(
        ctx,
        actor,
        name,
        request.headers.get("content-type"),
        _declared_length(request),
        chunks(),
    )
    view = await attachments.view_upload(ctx, actor, stored.id)
    return UploadOut.of(stored, view.links)


@router.get("/uploads/{upload_id}", response_model=UploadOut)
async def get_upload(upload_id: IdInt, ctx: Ctx, actor: CurrentActor) -> UploadOut:
    """An upload you may see (yours, or on a message you may read), with signed links to
    its content and thumbnail, valid for the rulebook's ``uploads.url_ttl_seconds``."""
    view = await attachments.view_upload(ctx, actor, upload_id)
    return UploadOut.of(view.upload, view.links)


@router.get(
    "/uploads/{upload_id}/{variant}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
async def download(
    upload_id: IdInt,
    variant: str,
    ctx: Ctx,
    a: Annotated[int, Query(ge=1, le=2**62)],
    exp: Annotated[int, Query(ge=0, le=2**40)],
    sig: Annotated[str, Query(min_length=64, max_length=64)],
) -> StreamingResponse:
    """The content behind a signed link. Images are shown inline; everything else is a
    download. Never sniffed by the browser (``nosniff``)."""
    served = await attachments.open_signed(ctx, upload_id, variant, a, exp, sig)
    headers: dict[str, Any] = {
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=60",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }
    disposition = "inline" if served.inline else "attachment"
    filename = served.upload.name if variant == "content" else "thumbnail.jpg"
    headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(filename)}"
    return StreamingResponse(served.chunks, media_type=served.mime, headers=headers)
