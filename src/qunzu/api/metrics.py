"""Prometheus metrics, one registry per app (nothing global, nothing at import time)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "qunzu_http_requests_total",
            "HTTP requests.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "qunzu_http_request_seconds",
            "HTTP request latency.",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.sockets = Gauge(
            "qunzu_websocket_connections", "Open WebSocket event streams.", registry=self.registry
        )
        self.messages = Counter(
            "qunzu_messages_sent_total", "Messages accepted.", registry=self.registry
        )
        self.deliveries = Counter(
            "qunzu_ws_deliveries_total", "Frames delivered over WebSocket.", registry=self.registry
        )
        self.fast_deliveries = Counter(
            "qunzu_ws_fast_deliveries_total",
            "Of those, live events written straight from the bus callback (no queue, no task).",
            registry=self.registry,
        )
        self.cases_overdue = Gauge(
            "qunzu_cases_overdue",
            "Open report cases past their handling deadline (Art. 12), at scrape time.",
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "qunzu_cases_open",
            "Open cases in the platform queue by time to their deadline, at scrape time.",
            ["due"],
            registry=self.registry,
        )
        self.bus_publish_failures = Counter(
            "qunzu_bus_publish_failures_total",
            "Events committed but not published (the bus was unreachable); streams fill the "
            "gap from storage.",
            registry=self.registry,
        )
        self.bus_resyncs = Counter(
            "qunzu_bus_resyncs_total",
            "Times this node re-read its streams from storage after the bus came back.",
            registry=self.registry,
        )
        self.sessions_ended = Counter(
            "qunzu_ws_sessions_ended_total",
            "Streams closed because their token was revoked or expired, or the account disabled.",
            ["reason"],
            registry=self.registry,
        )
        self.slow_consumers = Counter(
            "qunzu_ws_slow_consumer_disconnects_total",
            "Streams closed because the client could not keep up.",
            registry=self.registry,
        )

    def message_sent(self) -> None:
        self.messages.inc()

    def publish_failed(self) -> None:
        self.bus_publish_failures.inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Counts requests by route template (not raw path, so ids do not explode cardinality)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics
        # (method, route template, status) -> its counter and histogram children:
        # ``labels()`` costs a lock and a dict build per call, and the set is small.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def _send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, _send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "")
            key = (method, template, status)
            children = self._children.get(key)
            if children is None:
                children = self._children[key] = (
                    self.metrics.requests.labels(method, template, str(status)),
                    self.metrics.latency.labels(method, template),
                )
            children[0].inc()
            children[1].observe(time.perf_counter() - start)
