"""Writing WebSocket frames straight to a connection's transport.

A server's frames are not masked (RFC 6455 §5.1), so an event's frame is the same
bytes for every receiver: it is built once per event and handed to each
connection's ``transport.write``. That skips, per delivery, the three ASGI ``send``
wrappers, uvicorn's ``send`` and the websockets library's frame building (and its
per-connection compression).

This is only sound with uvicorn's websockets sans-I/O protocol, reached from the
ASGI ``send`` callable through wrappers known to pass messages on untouched, and
only while that protocol would itself write a data frame now: handshake done, no
close sent or received, not disconnected, and its transport not paused (a paused
transport means a slow reader: the caller must then take the ASGI path, which
waits, so that the connection's bounded queue fills and the slow-consumer rule
applies). Anything else, including an unknown wrapper or extension, means no
direct writes for that connection: it keeps the ASGI path.

permessage-deflate (RFC 7692) marks each compressed message with RSV1; §6 lets an
endpoint send any message uncompressed (RSV1 clear), and such a message touches
neither side's compression context (websockets' decoder returns it untouched), so
direct frames may go out uncompressed on a connection that negotiated deflate,
mixed freely with compressed ones from the ASGI path.

Frames from the bus callback are buffered per connection and handed to the
transport once per event-loop iteration (``buffer`` then ``flush``): events
published in the same iteration (concurrent senders) cost one ``write``, so one
syscall, per receiver instead of one each. Every other write to the connection
flushes the buffer first, so order is kept.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable
from typing import Any

from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.protocol import State

from qunzu.api.ws_protocol import SANS_IO_PROTOCOLS

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # a uvicorn without it: every connection keeps the ASGI path
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

_FIN_TEXT = 0x81  # FIN set, RSV1-3 clear, opcode 1 (text)
_HEADER_7 = struct.Struct("!BB")
_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")

# ASGI send wrappers that pass every websocket message on unchanged, by (module,
# qualname), with the name of the closure variable holding the next send. Only
# these may stand between us and uvicorn: bypassing any other could skip what it does.
_PASS_THROUGH: dict[tuple[str, str], str] = {
    # starlette's exception-handler wrapper only notes "http.response.start".
    (
        "starlette._exception_handler",
        "wrap_app_handling_exceptions.<locals>.wrapped_app.<locals>.sender",
    ): "send",
}
_MAX_WRAPPERS = 8
# Past this much buffered, write at once: memory stays bounded, and the transport's
# own back-pressure (pause_writing) applies to a burst as it would to single frames.
FLUSH_BYTES = 64 * 1024


# The uvicorn WebSocket implementation direct writes need (``QUNZU_WS_PROTOCOL``).
DIRECT_WRITES_PROTOCOL = "websockets-sansio"


def direct_writes_supported(protocol: str) -> bool:
    """Whether connections served by uvicorn's ``protocol`` can take direct writes."""
    return protocol == DIRECT_WRITES_PROTOCOL and WebSocketsSansIOProtocol is not None


def encode_text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked, uncompressed text frame carrying ``payload`` (UTF-8)."""
    n = len(payload)
    if n < 126:
        header = _HEADER_7.pack(_FIN_TEXT, n)
    elif n < 65536:
        header = _HEADER_16.pack(_FIN_TEXT, 126, n)
    else:
        header = _HEADER_64.pack(_FIN_TEXT, 127, n)
    return header + payload


def find_protocol(send: Callable[..., Any]) -> Any:
    """The uvicorn sans-I/O protocol behind an ASGI ``send``, or None if not provably there."""
    if WebSocketsSansIOProtocol is None:
        return None
    fn: Any = send
    for _ in range(_MAX_WRAPPERS):
        owner = getattr(fn, "__self__", None)
        if owner is not None:
            # Exactly uvicorn's class (or ours, which only changes the deflate offer) and
            # uvicorn's own send: another subclass could change what send does.
            if (
                type(owner) in SANS_IO_PROTOCOLS
                and getattr(fn, "__func__", None) is WebSocketsSansIOProtocol.send
            ):
                return owner
            return None
        key = (getattr(fn, "__module__", None), getattr(fn, "__qualname__", None))
        name = _PASS_THROUGH.get(key)  # type: ignore[arg-type]
        if name is None:
            return None
        try:
            index = fn.__code__.co_freevars.index(name)
            fn = fn.__closure__[index].cell_contents
        except (AttributeError, ValueError, IndexError, TypeError):
            return None
    return None


class DirectSocket:
    """A connection that can take pre-encoded frames; ``writable()`` says whether right now."""

    __slots__ = ("_pending", "_pending_bytes", "conn", "proto", "transport")

    def __init__(self, proto: Any) -> None:
        self.proto = proto
        self.conn = proto.conn
        self.transport = proto.transport
        self._pending: list[bytes] = []
        self._pending_bytes = 0

    @classmethod
    def of(cls, send: Callable[..., Any]) -> DirectSocket | None:
        """For an accepted connection's ASGI ``send``; None when direct writes are not safe."""
        proto = find_protocol(send)
        if proto is None or not proto.handshake_complete or proto.transport is None:
            return None
        # Write flow control (uvicorn >= 0.52.1) tells a paused transport; without it
        # a slow reader could not be told from a fast one.
        if not isinstance(getattr(proto, "writable", None), asyncio.Event):
            return None
        # Only permessage-deflate may be in force (see the module doc); any other
        # extension could need to transform every frame.
        if not all(isinstance(ext, PerMessageDeflate) for ext in proto.conn.extensions):
            return None
        return cls(proto)

    def writable(self) -> bool:
        """True when uvicorn itself would write a data frame at once (no wait, no refusal)."""
        return self.proto.writable.is_set() and self.open()

    def open(self) -> bool:
        """Data frames may still be sent: no close sent or received, not disconnected."""
        proto = self.proto
        return (
            not proto.close_sent
            and not proto.disconnected
            and proto.initial_response is None
            and self.conn.state is State.OPEN
            and not self.conn.expect_continuation_frame
            and not self.transport.is_closing()
        )

    def buffer(self, wire: bytes) -> bool:
        """Add a frame for the next ``flush``; True if it is the first since the last one."""
        pending = self._pending
        first = not pending
        pending.append(wire)
        self._pending_bytes += len(wire)
        if self._pending_bytes >= FLUSH_BYTES:
            self.flush()
        return first

    def flush(self) -> None:
        """Buffered frames, in order, in one write (whole frames: nothing interleaves)."""
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        self._pending_bytes = 0
        # Closed or closing meanwhile: no data frame may follow a close frame. The
        # client never saw these, and resumes after the last one it did see.
        if self.open():
            self.transport.write(data)

    def write(self, wire: bytes) -> None:
        """Buffered frames first, then this one: the caller checked ``writable()``."""
        if self._pending:
            self._pending.append(wire)
            self.flush()
        else:
            self.transport.write(wire)
