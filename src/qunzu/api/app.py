"""The FastAPI application factory. Everything is built from the settings passed in."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi

from qunzu import __version__
from qunzu.api.errors import AllowedMethods, Problem, install_error_handlers
from qunzu.api.metrics import Metrics, MetricsMiddleware
from qunzu.api.middleware import (
    BodyLimitMiddleware,
    HashingShedMiddleware,
    RequestIdMiddleware,
)
from qunzu.api.readiness import router as readiness_router
from qunzu.api.realtime import EventStreamShortcut, Hub
from qunzu.api.realtime import router as realtime_router
from qunzu.api.routers import (
    accounts,
    conversation,
    governance,
    groups,
    lawful,
    messages,
    owner,
    personal_data,
    platform,
    reports,
    search,
    second_factor,
    security,
    uploads,
)
from qunzu.api.schemas import HealthOut
from qunzu.api.ws_fastpath import direct_writes_supported
from qunzu.api.ws_protocol import deflate_in_force
from qunzu.bootstrap import App, build, public_url
from qunzu.config import Settings
from qunzu.domain.clock import Clock
from qunzu.domain.errors import Unavailable
from qunzu.services import review
from qunzu.services.status import RuntimeFacts, startup_fields
from qunzu.web.app import mount_web

log = structlog.get_logger("qunzu")


def runtime_facts(qunzu: App) -> RuntimeFacts:
    settings = qunzu.settings
    return RuntimeFacts(
        version=__version__,
        node=qunzu.node,
        storage=qunzu.storage,
        websocket_protocol=settings.ws_protocol,
        direct_writes=settings.ws_direct_writes and direct_writes_supported(settings.ws_protocol),
        websocket_deflate=deflate_in_force(settings.ws_protocol, settings.ws_deflate),
        bus=public_url(settings.bus_url),
        jobs_enabled=settings.jobs,
    )


def create_app(settings: Settings, clock: Clock | None = None) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        qunzu: App = build(settings, clock=clock, observer=metrics)
        await qunzu.start()
        app.state.qunzu = qunzu
        facts = app.state.runtime = runtime_facts(qunzu)
        app.state.hub = Hub(qunzu.bus, metrics)
        app.state.hub.direct_writes = facts.direct_writes
        if settings.jobs:
            qunzu.jobs.start()
        log.info(
            "qunzu started",
            loop=type(asyncio.get_running_loop()).__module__.partition(".")[0],
            **startup_fields(facts, qunzu.ctx.rulebooks, qunzu.ctx.clock.now()),
        )
        # Move everything built at start-up out of the cyclic GC's reach: a full collection
        # over it paused the server ~100 ms under load (bench/fanout.py, py-spy).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.hub.close()
            await qunzu.close()

    app = FastAPI(
        title="qunzu",
        version=__version__,
        summary="Group chat with governance built in.",
        description=(
            "All errors are RFC 9457 problem documents with a stable `code`. "
            "Authenticate with `Authorization: Bearer <token>` from `POST /v1/sessions`."
        ),
        lifespan=lifespan,
        # /docs is the web app's, with vendored Swagger UI assets (no CDN: it works offline).
        docs_url=None,
        redoc_url=None,
    )
    app.state.metrics = metrics
    install_error_handlers(app)
    # FastAPI tries routes in order; the message path (the bulk of requests) goes first.
    routers = (
        messages.router,
        accounts.router,
        security.router,
        groups.router,
        platform.router,
        governance.router,
        reports.router,
        reports.platform,
        owner.router,
        lawful.router,
        personal_data.router,
        uploads.router,
        second_factor.router,
        conversation.router,
        search.router,
    )
    for router in routers:
        app.include_router(router)
    app.include_router(realtime_router)
    app.include_router(readiness_router)

    @app.get("/healthz", response_model=HealthOut, tags=["system"])
    async def healthz() -> HealthOut:
        return HealthOut(status="ok", version=__version__)

    @app.get(
        "/metrics",
        tags=["system"],
        response_class=Response,
        responses={200: {"content": {"text/plain": {}}}},
    )
    async def prometheus(request: Request) -> Response:
        # During a database outage the other metrics (publish failures...) matter most.
        with suppress(Unavailable):
            ctx = request.app.state.qunzu.ctx
            metrics.cases_overdue.set(await review.count_overdue(ctx))
            for due, count in (await review.queue_depth(ctx)).items():
                metrics.queue_depth.labels(due).set(count)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                Problem.model_json_schema()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.state.allowed_methods = AllowedMethods(
        [*(route for router in routers for route in router.routes), *app.router.routes]
    )
    mount_web(app)  # the pages at / (qunzu.web), after the API routes
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(HashingShedMiddleware)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    # Inside the request id (bound for the connection's log lines), ahead of the rest.
    app.add_middleware(EventStreamShortcut)
    app.add_middleware(RequestIdMiddleware)
    return app
