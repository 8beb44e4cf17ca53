"""``mount_web``: the pages, their static files, the cookie-authenticated event stream and
a self-hosted ``/docs``, added to the FastAPI app that ``create_app`` builds."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from qunzu.web.events import web_events
from qunzu.web.page import HERE, CsrfRefused, Redirect, env, load
from qunzu.web.security import SecurityHeadersMiddleware


class _Static(StaticFiles):
    """Static files, cached for a day (names do not change often; a restart serves anew)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.setdefault("cache-control", "public, max-age=86400")
        return response


def mount_web(app: FastAPI) -> None:
    from qunzu.web import (
        pages_account,
        pages_console,
        pages_conversation,
        pages_groups,
        pages_officers,
        pages_owner,
        pages_public,
        pages_search,
        pages_second_factor,
        pages_security,
        pages_timeline,
    )

    for module in (
        pages_account,
        pages_security,
        pages_second_factor,
        pages_groups,
        pages_timeline,
        pages_owner,
        pages_conversation,
        pages_search,
        pages_console,
        pages_officers,
        pages_public,
    ):
        app.include_router(module.router)
    app.mount("/static", _Static(directory=HERE / "static"), name="static")
    app.router.routes.append(WebSocketRoute("/web/events", web_events))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """The API reference (Swagger UI), served from this server: it works offline."""
        return HTMLResponse(env.get_template("docs.html").render())

    @app.exception_handler(Redirect)
    async def _redirect(_: Request, exc: Redirect) -> Response:
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, _: CsrfRefused) -> Response:
        page = await load(request, login=False)
        html = env.get_template("error.html").render(
            page=page,
            _=page.tr,
            tr=page.tr,
            csrf=page.csrf,
            me=page.actor,
            title=page.tr("error.csrf.title"),
            message=page.tr("error.csrf.text"),
        )
        return HTMLResponse(html, status_code=403)

    @app.exception_handler(pages_console.StaffOnly)
    async def _staff_only(request: Request, _: Exception) -> Response:
        page = await load(request, login=False)
        html = env.get_template("error.html").render(
            page=page,
            _=page.tr,
            tr=page.tr,
            csrf=page.csrf,
            me=page.actor,
            title=page.tr("console.forbidden.title"),
            message=page.tr("console.forbidden.text"),
        )
        return HTMLResponse(html, status_code=403, headers={"cache-control": "no-store"})

    app.add_middleware(SecurityHeadersMiddleware)
