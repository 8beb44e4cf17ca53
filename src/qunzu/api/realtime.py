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

An idle connection costs one task, its reader (pings and ``send`` frames: the
ASGI handler itself), and no queue. A writer task exists only while there is
something to write that the fast path cannot: the catch-up at connect, then
queued frames (it alone decides what goes into the gaps); it ends when its
queue runs dry, and the next ``offer`` starts another. Ending a stream (slow
consumer, session over, a failed writer) cancels the reader, which stops the
writer and closes the socket with the stream's code: nothing is written after
the close.

The fast path: most of the time a connection is caught up, its writer is parked
on an empty queue and its transport is not paused. A live event that is exactly
the next ``seq`` then needs no decision at all, so the bus callback writes it
straight to the transport (``ws_fastpath``: one pre-encoded frame per event,
the same bytes for every receiver) instead of queueing it and waking a task per
connection. Everything else (gaps, duplicates, notices, this account's own
parting, a busy writer, a paused transport) takes the queue as before.

Every frame is one whole ``transport.write`` (direct, or uvicorn's own for the
ASGI path), so frames never interleave; a task that has to wait for a paused
transport holds the write lock, and everyone else queues behind it.

A stream ends with its session (``api/sessions.py``: close 4401 or 4403) and
outlives bus outages (``api/bus_links.py``: subscriptions retried, streams
resynced from storage). With the database away, a connection is refused with
1013 (try again later) and a send over an open one is answered 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocketState

from qunzu.api.bus_links import BusLinks
from qunzu.api.errors import ProblemFields, problem_of
from qunzu.api.frames import Refusal, read_frame
from qunzu.api.metrics import Metrics
from qunzu.api.schemas import PingFrame, SendFrame
from qunzu.api.sessions import SessionWatch
from qunzu.api.ws_fastpath import DirectSocket, encode_text_frame
from qunzu.bus.base import EventBus, Subscription
from qunzu.domain.errors import DomainError, Unavailable
from qunzu.domain.events import account_topic, group_topic
from qunzu.services import conversation, messaging, realtime
from qunzu.services.accounts import TokenKind, authenticate
from qunzu.services.actor import Actor
from qunzu.services.context import ServiceContext
from qunzu.services.wire import entry_to_wire

log = logging.getLogger("qunzu.ws")

CLOSE_SLOW_CONSUMER = 4008
CLOSE_INTERNAL_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
# How long a closing handshake may wait for a client that does not read.
CLOSE_TIMEOUT = 10.0
SLOW_CONSUMER_REASON = "slow_consumer: resume with since"
EVENTS_PATH = "/v1/events"
PARTING_KINDS = frozenset({"member_left", "member_removed"})


@dataclass(slots=True)
class Frame:
    """A bus payload decoded once per node, shared by every connection that gets it."""

    text: str
    type: str
    group_id: int | None
    seq: int
    kind: str
    subject: int | None
    data: dict[str, Any]
    payload: bytes = b""
    # Whose parting this is (member_left / member_removed), else None.
    parting: int | None = None
    _wire: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def wire(self) -> bytes:
        """The WebSocket frame for ``text``: built on first use, then shared by every receiver."""
        wire = self._wire
        if wire is None:
            wire = self._wire = encode_text_frame(self.payload)
        return wire


def decode_frame(payload: bytes) -> Frame:
    doc = json.loads(payload)
    data = doc.get("data") or {}
    kind = str(doc.get("kind", ""))
    subject = data.get("account_id") if isinstance(data, dict) else None
    return Frame(
        text=payload.decode(),
        type=doc.get("type", ""),
        group_id=doc.get("group_id"),
        seq=int(doc.get("seq") or 0),
        kind=kind,
        subject=subject,
        data=doc,
        payload=payload,
        parting=subject if kind in PARTING_KINDS else None,
    )


# Offered to a stream when the bus may have lost events for it (api/bus_links.py).
RESYNC = Frame(text="", type="resync", group_id=None, seq=0, kind="", subject=None, data={})


class Hub:
    """Holds this node's connections and one bus subscription per topic they need."""

    def __init__(self, bus: EventBus, metrics: Metrics | None = None) -> None:
        self.bus = bus
        self.metrics = metrics
        self._by_topic: dict[str, set[LiveStream]] = {}
        self._subs: dict[str, Subscription] = {}
        self._lock = asyncio.Lock()
        # Off: every frame takes the ASGI path, as before direct writes existed (a
        # switch for operators, and for tests that need compressed frames).
        self.direct_writes = True
        self._unflushed: list[DirectSocket] = []
        # Streams opened so far with direct writes and without (platform status).
        self.streams_direct = 0
        self.streams_asgi = 0
        self.sessions = SessionWatch(metrics)
        self.links = BusLinks(self)

    async def attach(self, stream: LiveStream, topic: str) -> None:
        async with self._lock:
            streams = self._by_topic.setdefault(topic, set())
            streams.add(stream)
            if topic not in self._subs:
                # None: the bus is away; the topic is retried in the background.
                sub = await self.links.subscribe(topic)
                if sub is not None:
                    self._subs[topic] = sub

    async def detach(self, stream: LiveStream, topic: str) -> None:
        async with self._lock:
            streams = self._by_topic.get(topic)
            if streams is None:
                return
            streams.discard(stream)
            if not streams:
                del self._by_topic[topic]
                self.links.forget(topic)
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
        if frame.type == "session_ended":  # for the hub, not the clients
            self.sessions.on_event(frame.data)
            return
        if not self.direct_writes or frame.type != "event":
            for stream in tuple(streams):
                stream.offer(frame)
            return
        fast = 0
        for stream in tuple(streams):
            if stream.deliver_now(frame):
                fast += 1
            else:
                stream.offer(frame)
        if fast and self.metrics is not None:
            # Once per event, not per receiver: Counter.inc takes a lock each time.
            self.metrics.deliveries.inc(fast)
            self.metrics.fast_deliveries.inc(fast)

    def count(self, delivered: int) -> None:
        if delivered and self.metrics is not None:
            self.metrics.deliveries.inc(delivered)

    def flush_soon(self, direct: DirectSocket) -> None:
        """Flush ``direct`` once this loop iteration's callbacks and tasks have run."""
        unflushed = self._unflushed
        unflushed.append(direct)
        if len(unflushed) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        unflushed, self._unflushed = self._unflushed, []
        for direct in unflushed:
            try:
                direct.flush()
            except Exception:  # one broken connection must not hold up the others
                log.warning("flushing a WebSocket failed", exc_info=True)

    @property
    def topics(self) -> int:
        return len(self._by_topic)

    def resync(self, topic: str | None) -> None:
        """Have the streams of ``topic`` (None: all) re-read from storage what they missed."""
        if topic is None:
            streams = {s for group in self._by_topic.values() for s in group}
        else:
            streams = set(self._by_topic.get(topic, ()))
        for stream in streams:
            stream.offer(RESYNC)
        if streams and self.metrics is not None:
            self.metrics.bus_resyncs.inc()

    async def close(self) -> None:
        await self.links.close()
        await self.sessions.close()


class LiveStream:
    """One WebSocket's delivery state."""

    # Slots: with 10,000 connections on a node, each instance dictionary is memory.
    __slots__ = (
        "_me",
        "_uncounted",
        "_write_lock",
        "_writer",
        "actor",
        "checked_at",
        "ctx",
        "direct",
        "ending",
        "hub",
        "idle",
        "last",
        "max_frame_bytes",
        "queue",
        "queue_size",
        "reader",
        "token",
        "token_kind",
        "topics",
        "upto",
        "ws",
    )

    def __init__(
        self,
        hub: Hub,
        ctx: ServiceContext,
        ws: WebSocket,
        actor: Actor,
        queue_size: int,
        max_frame_bytes: int = 64 * 1024,
        token: str = "",
    ) -> None:
        self.hub, self.ctx, self.ws, self.actor = hub, ctx, ws, actor
        # A client frame may be as large as a request body (QUNZU_MAX_REQUEST_BYTES).
        self.max_frame_bytes = max_frame_bytes
        self.token, self.checked_at = token, ctx.clock.now()  # for sessions.fresh_actor
        self.token_kind = TokenKind.api
        # (close code, reason) once the stream is to end: slow consumer, session over, or
        # a failed writer. From then on nothing more is queued or written directly.
        self.ending: tuple[int, str] | None = None
        # Frames for the writer; made on the first ``offer`` and dropped when drained.
        self.queue: deque[Frame] | None = None
        self.queue_size = queue_size
        self.last: dict[int, int] = {}
        self.upto: dict[int, int | None] = {}
        self.topics: set[str] = set()
        self._write_lock = asyncio.Lock()
        self._me = actor.id
        # Set once accepted, when pre-encoded frames may go straight to the transport.
        self.direct: DirectSocket | None = None
        # No writer task and nothing queued: nothing is pending or in flight, so the
        # next frame in seq order may be written from the bus callback.
        self.idle = False
        self._writer: asyncio.Task[None] | None = None
        # The task reading the socket (the ASGI handler) while it serves: cancelled to end.
        self.reader: asyncio.Task[Any] | None = None
        self._uncounted = 0  # deliveries not yet added to the metrics counter

    def offer(self, frame: Frame) -> None:
        self.idle = False
        if self.ending is not None:
            return
        queue = self.queue
        if queue is None:
            queue = self.queue = deque()
        elif len(queue) >= self.queue_size:
            self.end(CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)
            return
        queue.append(frame)
        if self._writer is None and self.reader is not None:
            self._start_writer(None)

    def end(self, code: int, reason: str) -> None:
        """Deliver nothing more, and close with ``code`` (once the reader has stopped)."""
        if self.ending is None:
            self.ending = (code, reason)
            self.idle = False
            reader = self.reader
            if reader is not None and reader is not asyncio.current_task():
                reader.cancel()

    def _start_writer(self, plan: list[realtime.StreamStart] | None) -> None:
        self._writer = writer = asyncio.get_running_loop().create_task(self._drain(plan))
        writer.add_done_callback(self._writer_done)

    async def _drain(self, plan: list[realtime.StreamStart] | None) -> None:
        """Catch up from storage (live frames wait in the queue), then write what is queued."""
        try:
            for start in plan or ():
                await self._fill(start.group_id, None)
            queue = self.queue
            while queue and self.ending is None:
                await self._deliver(queue.popleft())
                queue = self.queue
            # Drained, with no await since the last look: the fast path may take over.
            self.queue = None
            self.idle = self.ending is None and self.reader is not None
        finally:
            self._writer = None
            self._count()

    def _writer_done(self, task: asyncio.Task[None]) -> None:
        exc = None if task.cancelled() else task.exception()
        if exc is None or self.ending is not None or _client_gone(exc, self.ws):
            return
        if isinstance(exc, Unavailable):  # the database went away: resume later
            self.end(CLOSE_TRY_AGAIN_LATER, f"{exc.code}: resume with since")
            return
        log.error("event stream failed", exc_info=exc)
        self.end(CLOSE_INTERNAL_ERROR, "internal_error: resume with since")

    def start(self, plan: list[realtime.StreamStart]) -> None:
        """The catch-up (then whatever was queued meanwhile) in a writer task."""
        self._start_writer(plan)

    async def stop_writer(self) -> None:
        writer = self._writer
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)

    def deliver_now(self, frame: Frame) -> bool:
        """Write a live event from the bus callback if nothing may need to go before it.

        False means the caller must ``offer`` it: the writer then decides, as it did
        before this path existed (gap fill, duplicate, parting, back-pressure).
        """
        direct = self.direct
        group_id = frame.group_id
        if direct is None or not self.idle or group_id is None:
            return False
        last = self.last.get(group_id)
        if last is None or frame.seq != last + 1 or frame.parting == self._me:
            return False
        # A held lock means a frame in flight behind a paused transport: it goes first.
        if self._write_lock.locked() or not direct.writable():
            return False
        try:
            if direct.buffer(frame.wire):
                self.hub.flush_soon(direct)
        except Exception:
            log.warning("direct write failed; back to the ASGI path", exc_info=True)
            self.direct = None
            return False
        self.last[group_id] = frame.seq
        return True

    async def _attach(self, topic: str) -> None:
        if topic not in self.topics:
            self.topics.add(topic)
            await self.hub.attach(self, topic)

    async def detach_all(self) -> None:
        for topic in list(self.topics):
            await self.hub.detach(self, topic)
        self.topics.clear()

    async def write(self, text: str, wire: bytes | None = None) -> None:
        """The reader's and the writer's frames (``wire``: ``text`` already encoded).

        Written directly when the transport takes it now and no one waits for it;
        otherwise through the ASGI send under the lock, which waits out a paused
        transport, so those frames keep their order.
        """
        direct = self.direct
        if direct is not None:
            if self.hub.direct_writes and not self._write_lock.locked() and direct.writable():
                direct.write(wire if wire is not None else encode_text_frame(text.encode()))
                return
            direct.flush()  # what the bus callback buffered goes first
        async with self._write_lock:
            await self.ws.send_text(text)

    async def _send(self, text: str, wire: bytes | None = None) -> None:
        await self.write(text, wire)
        self._uncounted += 1
        if self._uncounted >= 64:  # a writer that never runs dry still shows up
            self._count()

    def _count(self) -> None:
        self.hub.count(self._uncounted)
        self._uncounted = 0

    def stop_direct(self) -> None:
        """From now on nothing is written behind the ASGI layer's back (before a close)."""
        self.idle = False
        if self.direct is not None:
            self.direct.flush()
            self.direct = None

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
            self._count()
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
        counts = await conversation.my_counts(self.ctx, self.actor)
        await self.write(
            json.dumps(
                {
                    "type": "ready",
                    "account_id": self.actor.id,
                    "cursors": {str(g): s for g, s in self.last.items()},
                    # From each read cursor: unread entries and, of them, mentions of you.
                    "counts": {
                        str(g): {"unread": c.unread, "mentions": c.mentions}
                        for g, c in counts.items()
                    },
                }
            )
        )

    async def _deliver(self, frame: Frame) -> None:
        if frame.type == "notice":
            await self._on_notice(frame)
            return
        if frame is RESYNC:  # the bus may have lost events: read storage past each cursor
            for group in list(self.last):
                await self._fill(group, None)
            return
        group_id = frame.group_id
        if group_id is None or group_id not in self.last:
            return
        last = self.last[group_id]
        if frame.seq <= last:
            return
        if frame.seq > last + 1:
            await self._fill(group_id, frame.seq - 1)
            if group_id not in self.last or frame.seq <= self.last[group_id]:
                return
        await self._send(frame.text, frame.wire)
        self.last[group_id] = frame.seq
        if self._parts_me(frame.kind, frame.subject):
            await self._stop_group(group_id)

    async def _on_notice(self, frame: Frame) -> None:
        await self._send(frame.text, frame.wire)
        if frame.kind == "membership_added":
            group_id = int(frame.data["group_id"])
            if group_id not in self.last:
                self.last[group_id] = int(frame.data["joined_seq"]) - 1
                self.upto[group_id] = None
                await self._attach(group_topic(group_id))
                await self._fill(group_id, None)

    async def handle_client_frame(self, raw: str) -> None:
        """Clients may ping, or send a message over the socket instead of HTTP.

        A frame is read as an HTTP body is (``api/frames.py``) and refused with the same
        problem, as an ``error`` frame; the connection stays."""
        frame = read_frame(raw, self.max_frame_bytes)
        if isinstance(frame, Refusal):
            await self.send_problem(frame.problem, frame.ref)
        elif isinstance(frame, PingFrame):
            await self.write(json.dumps({"type": "pong", "ref": frame.ref}))
        else:
            await self._send_message(frame)

    async def _send_message(self, frame: SendFrame) -> None:
        try:
            # The account as it is now: a session ended or an account disabled since the
            # connect must not post (sanctions are read by the send itself).
            actor = await self.hub.sessions.fresh_actor(self)
            # Shielded: once started, a send commits and publishes even if the socket
            # goes away meanwhile (a commit whose event is never published would leave
            # live streams behind until the group's next event).
            result = await asyncio.shield(
                messaging.do_send_message(
                    self.ctx,
                    actor,
                    frame.group_id,
                    frame.body,
                    frame.client_txn_id,
                    frame.attachments,
                    frame.references(),
                )
            )
        except DomainError as exc:
            await self.send_problem(problem_of(exc), frame.ref)
            return
        await self.write(
            json.dumps(
                {
                    "type": "ack",
                    "ref": frame.ref,
                    "created": result.created,
                    "group_id": frame.group_id,
                    "seq": result.entry.seq,
                }
            )
        )

    async def send_problem(self, problem: ProblemFields, ref: object) -> None:
        """An ``error`` frame: the members of the HTTP problem document, and the ``ref``."""
        status, code, detail, extra = problem
        await self.write(
            json.dumps(
                {
                    "type": "error",
                    "ref": ref,
                    "status": status,
                    "code": code,
                    "detail": detail,
                    **extra,
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
    """Accept, say why in an error frame, and close with ``4000 + status`` (1013, try
    again later, when the database is away: the SDK retries that one)."""
    status, code, detail, extra = problem_of(exc)
    close_code = CLOSE_TRY_AGAIN_LATER if isinstance(exc, Unavailable) else 4000 + status
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.accept()
        await ws.send_text(
            json.dumps({"type": "error", "status": status, "code": code, "detail": detail, **extra})
        )
        await ws.close(code=close_code, reason=exc.code[:120])


async def _read(ws: WebSocket, stream: LiveStream) -> None:
    """Handle client frames until the client goes or the stream ends (returns), or the
    socket fails (raises)."""
    while stream.ending is None:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            binary: ProblemFields = (400, "malformed_json", "Frames are JSON text, not binary.", {})
            await stream.send_problem(binary, None)
            continue
        await stream.handle_client_frame(text)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    """Close without hanging on a client that does not read (its buffers are full)."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(ws.close(code=code, reason=reason), CLOSE_TIMEOUT)


def _client_gone(exc: BaseException, ws: WebSocket) -> bool:
    if isinstance(exc, WebSocketDisconnect | OSError):
        return True
    # A write that raced the client's close.
    return isinstance(exc, RuntimeError) and ws.client_state != WebSocketState.CONNECTED


async def _serve(ws: WebSocket, stream: LiveStream, plan: list[realtime.StreamStart]) -> None:
    """Serve in the handler's own task: it reads; a writer task exists only while needed."""
    me = asyncio.current_task()
    failure: Exception | None = None
    stream.reader = me
    try:
        if stream.ending is None:
            await stream.begin(plan)
            stream.start(plan)
            await _read(ws, stream)
    except asyncio.CancelledError:
        # ``end`` cancels the reader; any other cancellation (shutdown) goes on.
        if stream.ending is None or me is None or me.uncancel() > 0:
            raise
    except Exception as exc:  # sorted out below, after the writer has stopped
        failure = exc
    finally:
        # Stop reading and writing before closing: no frame may follow the close.
        stream.reader = None
        stream.stop_direct()
        await stream.stop_writer()
    if stream.ending is not None:
        if stream.ending[0] == CLOSE_SLOW_CONSUMER and stream.hub.metrics is not None:
            stream.hub.metrics.slow_consumers.inc()
        await _close(ws, *stream.ending)
        return
    if failure is None or _client_gone(failure, ws):
        return
    if isinstance(failure, Unavailable):  # the database went away: resume later
        await _close(ws, CLOSE_TRY_AGAIN_LATER, f"{failure.code}: resume with since")
        return
    log.error("event stream failed", exc_info=failure)
    await _close(ws, CLOSE_INTERNAL_ERROR, "internal_error: resume with since")


@router.websocket(EVENTS_PATH)
async def events(ws: WebSocket) -> None:
    """Authenticate, plan the resume, then deliver until the client goes or falls behind."""
    state = ws.app.state.qunzu
    ctx: ServiceContext = state.ctx
    hub: Hub = ws.app.state.hub
    token = _token_from(ws)
    # Only the pages' /web/events sets this (from the session cookie): a client cannot.
    kind = TokenKind(ws.scope.get("qunzu.token_kind", TokenKind.api.value))
    try:
        actor = await authenticate(ctx, token, kind)
        since = realtime.parse_since(ws.query_params.get("since"))
    except DomainError as exc:
        await _refuse(ws, exc)
        return
    settings = state.settings
    stream = LiveStream(
        hub,
        ctx,
        ws,
        actor,
        settings.ws_queue_size,
        max_frame_bytes=settings.max_request_bytes,
        token=token or "",
    )
    stream.token_kind = kind
    metrics: Metrics | None = hub.metrics
    hub.sessions.add(stream)  # before listening: no session end may slip by
    try:
        await stream.listen()
        try:
            plan = await realtime.plan_stream(ctx, actor, since)
        except DomainError as exc:
            await _refuse(ws, exc)
            return
        await ws.accept()
        stream.direct = DirectSocket.of(ws._send)
        if hub.direct_writes and stream.direct is not None:
            hub.streams_direct += 1
        else:
            hub.streams_asgi += 1
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
        hub.sessions.remove(stream)
        await stream.detach_all()


class EventStreamShortcut:
    """Serves ``/v1/events`` ahead of the framework's router (ASGI middleware).

    The event stream's handler lives as long as its connection, and every layer
    between uvicorn and it keeps a suspended frame, and some an object or two, for
    that whole time: FastAPI's router (included routers, route contexts, two exit
    stacks per connection for dependencies this endpoint does not have), Starlette's
    exception wrappers, the HTTP-only middleware. Reached from here, the handler gets
    the same ``WebSocket`` with the same scope (``scope["app"]`` is set before any
    middleware runs) while an idle connection costs about 8 KB less. Every other
    request, and any other WebSocket path, goes on down the stack unchanged.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and _route_path(scope) == EVENTS_PATH:
            await events(WebSocket(scope, receive=receive, send=send))
            return
        await self.app(scope, receive, send)


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path
