"""The WebSocket event stream: live fan-out with gap-free resume.

Each connection keeps, per group, the last ``seq`` it delivered. A live event
whose ``seq`` is at or below it is a duplicate and is dropped; one above
``last + 1`` reveals a gap (an event published out of order, or lost by the
bus), which is filled from storage before the event goes out. So the stream is
exactly-once per connection, and across reconnects the client's cursor
(``since``) replays what it missed.

Memory is bounded: each connection has a queue of ``ws_queue_size`` frames. A
client that cannot keep up fills it and is closed with code 4008; it resumes
from its cursor.

Each socket has two tasks: a writer (catch-up, then live frames; it alone owns
the delivery state) and a reader (pings and ``send`` frames). Both write to the
socket, so every write goes through one lock: frames never interleave.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.websockets import WebSocketState

from qunzu.api.errors import status_for
from qunzu.api.metrics import Metrics
from qunzu.bus.base import EventBus, Subscription
from qunzu.domain.errors import DomainError, InvalidInput
from qunzu.domain.events import account_topic, group_topic
from qunzu.services import messaging, realtime
from qunzu.services.accounts import Actor, authenticate
from qunzu.services.context import ServiceContext
from qunzu.services.wire import entry_to_wire

log = logging.getLogger("qunzu.ws")

CLOSE_SLOW_CONSUMER = 4008
CLOSE_INTERNAL_ERROR = 1011
# How long a closing handshake may wait for a client that does not read.
CLOSE_TIMEOUT = 10.0
PARTING_KINDS = frozenset({"member_left", "member_removed"})


@dataclass(frozen=True, slots=True)
class Frame:
    """A bus payload decoded once per node, shared by every connection that gets it."""

    text: str
    type: str
    group_id: int | None
    seq: int
    kind: str
    subject: int | None
    data: dict[str, Any]


def decode_frame(payload: bytes) -> Frame:
    doc = json.loads(payload)
    data = doc.get("data") or {}
    return Frame(
        text=payload.decode(),
        type=doc.get("type", ""),
        group_id=doc.get("group_id"),
        seq=int(doc.get("seq") or 0),
        kind=str(doc.get("kind", "")),
        subject=data.get("account_id") if isinstance(data, dict) else None,
        data=doc,
    )


class Hub:
    """Holds this node's connections and one bus subscription per topic they need."""

    def __init__(self, bus: EventBus, metrics: Metrics | None = None) -> None:
        self.bus = bus
        self.metrics = metrics
        self._by_topic: dict[str, set[LiveStream]] = {}
        self._subs: dict[str, Subscription] = {}
        self._lock = asyncio.Lock()

    async def attach(self, stream: LiveStream, topic: str) -> None:
        async with self._lock:
            streams = self._by_topic.setdefault(topic, set())
            streams.add(stream)
            if topic not in self._subs:
                self._subs[topic] = await self.bus.subscribe(topic, self._on_payload)

    async def detach(self, stream: LiveStream, topic: str) -> None:
        async with self._lock:
            streams = self._by_topic.get(topic)
            if streams is None:
                return
            streams.discard(stream)
            if not streams:
                del self._by_topic[topic]
                sub = self._subs.pop(topic, None)
                if sub is not None:
                    await sub.unsubscribe()

    def _on_payload(self, topic: str, payload: bytes) -> None:
        streams = self._by_topic.get(topic)
        if not streams:
            return
        try:
            frame = decode_frame(payload)
        except (ValueError, TypeError):
            log.warning("dropping undecodable payload on %s", topic)
            return
        for stream in tuple(streams):
            stream.offer(frame)

    @property
    def topics(self) -> int:
        return len(self._by_topic)


class LiveStream:
    """One WebSocket's delivery state."""

    def __init__(
        self, hub: Hub, ctx: ServiceContext, ws: WebSocket, actor: Actor, queue_size: int
    ) -> None:
        self.hub, self.ctx, self.ws, self.actor = hub, ctx, ws, actor
        self.queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=queue_size)
        self.last: dict[int, int] = {}
        self.upto: dict[int, int | None] = {}
        self.overflowed = asyncio.Event()
        self.topics: set[str] = set()
        self._write_lock = asyncio.Lock()

    def offer(self, frame: Frame) -> None:
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.overflowed.set()

    async def _attach(self, topic: str) -> None:
        if topic not in self.topics:
            self.topics.add(topic)
            await self.hub.attach(self, topic)

    async def detach_all(self) -> None:
        for topic in list(self.topics):
            await self.hub.detach(self, topic)
        self.topics.clear()

    async def write(self, text: str) -> None:
        """Every frame to the client goes through here: reader and writer share the socket."""
        async with self._write_lock:
            await self.ws.send_text(text)

    async def _send(self, text: str) -> None:
        await self.write(text)
        if self.hub.metrics is not None:
            self.hub.metrics.deliveries.inc()

    async def _stop_group(self, group_id: int) -> None:
        self.last.pop(group_id, None)
        self.upto.pop(group_id, None)
        topic = group_topic(group_id)
        if topic in self.topics:
            self.topics.discard(topic)
            await self.hub.detach(self, topic)

    async def _fill(self, group_id: int, ceiling: int | None) -> None:
        """Deliver stored entries after ``last`` up to ``ceiling`` (or the newest)."""
        page = self.ctx.limits.ws_catchup_page
        while group_id in self.last:
            last = self.last[group_id]
            upto = self.upto.get(group_id)
            limit_to = (
                ceiling if upto is None else (upto if ceiling is None else min(upto, ceiling))
            )
            if limit_to is not None and last >= limit_to:
                break
            entries = await realtime.entries_after(
                self.ctx, self.actor.id, group_id, last, page, upto=limit_to
            )
            for entry in entries:
                wire = entry_to_wire(entry)
                await self._send(json.dumps({"type": "event", **wire}))
                self.last[group_id] = entry.seq
                if self._parts_me(entry.kind.value, wire["data"].get("account_id")):
                    await self._stop_group(group_id)
                    return
            if len(entries) < page:
                break
        upto = self.upto.get(group_id)
        if upto is not None and self.last.get(group_id, 0) >= upto:
            await self._stop_group(group_id)

    def _parts_me(self, kind: str, subject: object) -> bool:
        return kind in PARTING_KINDS and subject == self.actor.id

    async def listen(self) -> None:
        """Hear this account's notices; done before the plan is read, so no join slips by."""
        await self._attach(account_topic(self.actor.id))

    async def begin(self, plan: list[realtime.StreamStart]) -> None:
        """Set each group's cursor, follow the live ones, and tell the client: ``ready``."""
        for start in plan:
            self.last[start.group_id] = start.after
            self.upto[start.group_id] = start.upto
            if start.upto is None:
                await self._attach(group_topic(start.group_id))
        await self.write(
            json.dumps(
                {
                    "type": "ready",
                    "account_id": self.actor.id,
                    "cursors": {str(g): s for g, s in self.last.items()},
                }
            )
        )

    async def run(self, plan: list[realtime.StreamStart]) -> None:
        """Catch up from storage (live frames wait in the queue), then deliver live frames."""
        for start in plan:
            await self._fill(start.group_id, None)
        while True:
            frame = await self.queue.get()
            if frame.type == "notice":
                await self._on_notice(frame)
                continue
            group_id = frame.group_id
            if group_id is None or group_id not in self.last:
                continue
            last = self.last[group_id]
            if frame.seq <= last:
                continue
            if frame.seq > last + 1:
                await self._fill(group_id, frame.seq - 1)
                if group_id not in self.last or frame.seq <= self.last[group_id]:
                    continue
            await self._send(frame.text)
            self.last[group_id] = frame.seq
            if self._parts_me(frame.kind, frame.subject):
                await self._stop_group(group_id)

    async def _on_notice(self, frame: Frame) -> None:
        await self._send(frame.text)
        if frame.kind == "membership_added":
            group_id = int(frame.data["group_id"])
            if group_id not in self.last:
                self.last[group_id] = int(frame.data["joined_seq"]) - 1
                self.upto[group_id] = None
                await self._attach(group_topic(group_id))
                await self._fill(group_id, None)

    async def handle_client_frame(self, raw: str) -> None:
        """Clients may ping, or send a message over the socket instead of HTTP."""
        try:
            doc = json.loads(raw)
            if not isinstance(doc, dict):
                raise ValueError
        except ValueError:
            await self.send_error(InvalidInput("malformed_json", "Frames are JSON objects."), None)
            return
        ref = doc.get("ref")
        kind = doc.get("type")
        if kind == "ping":
            await self.write(json.dumps({"type": "pong", "ref": ref}))
            return
        if kind != "send":
            await self.send_error(InvalidInput("unknown_frame", "Frame types: ping, send."), ref)
            return
        try:
            group_id, body, txn = doc.get("group_id"), doc.get("body"), doc.get("client_txn_id")
            if (
                not isinstance(group_id, int)
                or isinstance(group_id, bool)
                or not isinstance(body, str)
                or not isinstance(txn, str)
            ):
                raise InvalidInput(
                    "validation_error", "send needs group_id (int), body and client_txn_id."
                )
            # Shielded: once started, a send commits and publishes even if the socket
            # goes away meanwhile (a commit whose event is never published would leave
            # live streams behind until the group's next event).
            result = await asyncio.shield(
                messaging.do_send_message(self.ctx, self.actor, group_id, body, txn)
            )
        except DomainError as exc:
            await self.send_error(exc, ref)
            return
        await self.write(
            json.dumps(
                {
                    "type": "ack",
                    "ref": ref,
                    "created": result.created,
                    "group_id": group_id,
                    "seq": result.entry.seq,
                }
            )
        )

    async def send_error(self, exc: DomainError, ref: object) -> None:
        await self.write(
            json.dumps(
                {
                    "type": "error",
                    "ref": ref,
                    "status": status_for(exc),
                    "code": exc.code,
                    "detail": exc.detail,
                }
            )
        )


router = APIRouter()


def _token_from(ws: WebSocket) -> str | None:
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return ws.query_params.get("access_token")


async def _refuse(ws: WebSocket, exc: DomainError) -> None:
    """Accept, say why in an error frame, and close with ``4000 + status``."""
    status = status_for(exc)
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.accept()
        await ws.send_text(
            json.dumps({"type": "error", "status": status, "code": exc.code, "detail": exc.detail})
        )
        await ws.close(code=4000 + status, reason=exc.code[:120])


async def _read(ws: WebSocket, stream: LiveStream) -> None:
    """Handle client frames until the client goes (returns) or the socket fails (raises)."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            await stream.send_error(InvalidInput("malformed_json", "Frames are JSON text."), None)
            continue
        await stream.handle_client_frame(text)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    """Close without hanging on a client that does not read (its buffers are full)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code=code, reason=reason), CLOSE_TIMEOUT)


async def _serve(ws: WebSocket, stream: LiveStream, plan: list[realtime.StreamStart]) -> None:
    await stream.begin(plan)
    tasks: tuple[asyncio.Task[Any], ...] = (
        asyncio.create_task(_read(ws, stream)),
        asyncio.create_task(stream.run(plan)),
        asyncio.create_task(stream.overflowed.wait()),
    )
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        # Stop reading and writing before closing: no frame may follow the close.
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if stream.overflowed.is_set():
        if stream.hub.metrics is not None:
            stream.hub.metrics.slow_consumers.inc()
        await _close(ws, CLOSE_SLOW_CONSUMER, "slow_consumer: resume with since")
        return
    for task in done:
        exc = None if task.cancelled() else task.exception()
        if exc is None or isinstance(exc, WebSocketDisconnect | OSError):
            continue  # the client went away
        if isinstance(exc, RuntimeError) and ws.client_state != WebSocketState.CONNECTED:
            continue  # a write raced the client's close
        log.error("event stream failed", exc_info=exc)
        await _close(ws, CLOSE_INTERNAL_ERROR, "internal_error: resume with since")
        return


@router.websocket("/v1/events")
async def events(ws: WebSocket) -> None:
    """Authenticate, plan the resume, then deliver until the client goes or falls behind."""
    state = ws.app.state.qunzu
    ctx: ServiceContext = state.ctx
    hub: Hub = ws.app.state.hub
    try:
        actor = await authenticate(ctx, _token_from(ws))
        since = realtime.parse_since(ws.query_params.get("since"))
    except DomainError as exc:
        await _refuse(ws, exc)
        return
    stream = LiveStream(hub, ctx, ws, actor, state.settings.ws_queue_size)
    metrics: Metrics | None = hub.metrics
    try:
        await stream.listen()
        try:
            plan = await realtime.plan_stream(ctx, actor, since)
        except DomainError as exc:
            await _refuse(ws, exc)
            return
        await ws.accept()
        if metrics:
            metrics.sockets.inc()
        try:
            await _serve(ws, stream, plan)
        except (WebSocketDisconnect, OSError):
            pass  # gone before the ready frame
        finally:
            if metrics:
                metrics.sockets.dec()
    finally:
        await stream.detach_all()
