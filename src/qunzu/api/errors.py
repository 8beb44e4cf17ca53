"""RFC 9457 problem+json for every refusal; a 500 is always a bug."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from qunzu.domain.errors import DomainError

log = logging.getLogger("qunzu.api")

PROBLEM_TYPE_BASE = "https://qunzu.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

STATUS_BY_KIND = {
    "invalid": 400,
    "unauthenticated": 401,
    "forbidden": 403,
    "not_found": 404,
    "conflict": 409,
    "gone": 410,
    "quota": 429,
    "unavailable": 503,
}

TITLES = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}

# Seconds a 503 tells the client to wait, unless the error says otherwise.
DEFAULT_RETRY_AFTER = 2


class Problem(BaseModel):
    """An RFC 9457 problem document with qunzu's stable ``code``."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    code: str


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:  # a dependency is away: say when to come back (RFC 9110 §10.2.3)
        headers = {"Retry-After": str(extra.get("retry_after", DEFAULT_RETRY_AFTER))}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_for(error: DomainError) -> int:
    return STATUS_BY_KIND.get(error.kind, 400)


def _validation_problem(exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return problem(400, "malformed_json", "The request body is not valid JSON.")
    fields = []
    for e in errors[:20]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        fields.append({"field": loc, "problem": str(e.get("msg", ""))})
    return problem(
        422, "validation_error", "Some fields are missing or have the wrong type.", errors=fields
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem(status_for(exc), exc.code, exc.detail, **_jsonable(exc.extra))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_problem(exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI raises a bare 400 when it cannot even decode the body (e.g. bytes that
            # are not UTF-8); to a client that is the same mistake as any other bad JSON.
            return problem(400, "malformed_json", "The request body is not valid JSON.")
        code = {404: "route_not_found", 405: "method_not_allowed"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        return problem(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem(500, "internal_error", "Something went wrong on our side.")


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in extra.items() if isinstance(v, str | int | float | bool | None)}


# Only application/problem+json is declared: a ``model`` here would make FastAPI declare
# application/json as well, a content type no error is ever sent with. The Problem schema is
# added to the components by ``create_app``.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": TITLES[status],
        "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for status in (400, 401, 403, 404, 409, 410, 413, 422, 429)
}
