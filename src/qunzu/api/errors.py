"""RFC 9457 problem+json for every refusal; a 500 is always a bug.

The same problem, as fields, answers a WebSocket frame (``api/realtime.py``):
``problem_of`` and ``validation_problem`` serve both, so one input gets one code
whichever way it came.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Route

from qunzu.domain.errors import DomainError
from qunzu.logs import REQUEST_ID_HEADER, current_request_id

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
    elif status == 429 and "retry_after" in extra:  # a backoff says when it ends
        headers = {"Retry-After": str(extra["retry_after"])}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def status_for(error: DomainError) -> int:
    return STATUS_BY_KIND.get(error.kind, 400)


# (status, code, detail, extra members)
ProblemFields = tuple[int, str, str, dict[str, Any]]


def problem_of(error: DomainError) -> ProblemFields:
    return status_for(error), error.code, error.detail, _jsonable(error.extra)


def validation_problem(errors: Sequence[Any], *, located: bool = True) -> ProblemFields:
    """Pydantic's errors as one problem: ``malformed_json`` (400) when the JSON could not be
    read at all, else ``validation_error`` (422) naming each field and what is wrong.

    ``located``: each error's ``loc`` begins with where the value was (FastAPI's "body",
    "path", "query"); a request body's fields are then named without it."""
    for e in errors:
        if e.get("type") == "json_invalid":
            why = (e.get("ctx") or {}).get("error")
            return 400, "malformed_json", f"The body is not valid JSON ({why}).", {}
    fields = []
    for e in errors[:20]:
        loc = tuple(e.get("loc", ()))
        if located and loc[:1] == ("body",):
            loc = loc[1:]
        fields.append({"field": ".".join(str(p) for p in loc), "problem": str(e.get("msg", ""))})
    detail = "Some fields are missing, have the wrong type or hold what they may not."
    return 422, "validation_error", detail, {"errors": fields}


class AllowedMethods:
    """The methods each path answers, over every route: the ``Allow`` of a 405 (RFC 9110
    §15.5.6). The framework's own names only the first route that matched the path."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self._table = [
            (route.path_regex, frozenset(route.methods))
            for route in routes
            if isinstance(route, Route) and route.methods
        ]

    def header(self, path: str) -> str | None:
        methods: set[str] = set()
        for pattern, allowed in self._table:
            if pattern.match(path):
                methods |= allowed
        return ", ".join(sorted(methods)) if methods else None


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        status, code, detail, extra = problem_of(exc)
        return problem(status, code, detail, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, detail, extra = validation_problem(exc.errors())
        return problem(status, code, detail, **extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # FastAPI raises a bare 400 when it cannot even decode the body (e.g. bytes that
            # are not UTF-8); to a client that is the same mistake as any other bad JSON.
            return problem(400, "malformed_json", "The body is not valid JSON.")
        code = {404: "route_not_found", 405: "method_not_allowed"}.get(
            exc.status_code, f"http_{exc.status_code}"
        )
        response = problem(exc.status_code, code, str(exc.detail))
        if exc.status_code == 405:
            allowed: AllowedMethods | None = getattr(request.app.state, "allowed_methods", None)
            allow = allowed.header(request.url.path) if allowed is not None else None
            allow = allow or (exc.headers or {}).get("Allow")
            if allow:
                response.headers["Allow"] = allow
        return response

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        response = problem(500, "internal_error", "Something went wrong on our side.")
        # Sent from outside the request-id middleware: name the id here, so the client
        # can quote what the log line says.
        request_id = current_request_id()
        if request_id is not None:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response


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
    for status in (400, 401, 403, 404, 409, 410, 413, 422, 429, 503)
}
