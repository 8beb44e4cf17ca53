"""The direct-write helpers: frame bytes, finding uvicorn's protocol, buffering rules."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from starlette._exception_handler import wrap_app_handling_exceptions
from starlette.websockets import WebSocket
from uvicorn.config import Config
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from qunzu.api.ws_fastpath import (
    FLUSH_BYTES,
    DirectSocket,
    direct_writes_supported,
    encode_text_frame,
    find_protocol,
)
from qunzu.api.ws_protocol import PER_MESSAGE_DEFLATE, PerMessageDeflateProtocol

Send = Callable[[dict[str, Any]], Awaitable[None]]


# ---- frame bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "a" * 125,  # the largest 7-bit length
        "a" * 126,  # the smallest 16-bit length
        "a" * 65535,  # the largest 16-bit length
        "a" * 65536,  # the smallest 64-bit length
        '{"type": "event", "body": "群组 ✓ 🎉"}' * 40,  # multi-byte UTF-8: length is bytes
    ],
)
def test_text_frame_is_byte_for_byte_what_websockets_builds_for_a_server(text: str) -> None:
    payload = text.encode()
    expected = Frame(Opcode.TEXT, payload).serialize(mask=False, extensions=[])
    assert encode_text_frame(payload) == expected


# ---- finding the protocol ------------------------------------------------------------------


@pytest.fixture
def protocol() -> WebSocketsSansIOProtocol:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        return None

    config = Config(app=app, ws="websockets-sansio", lifespan="off")
    config.load()
    return WebSocketsSansIOProtocol(config, ServerState(), {}, _loop=asyncio.new_event_loop())


def starlette_wrapped(send: Send) -> Send:
    """The send our route sees: starlette's exception-handler ``sender`` around uvicorn's."""
    seen: list[Send] = []

    async def app(scope: Any, receive: Any, inner_send: Send) -> None:
        seen.append(inner_send)

    scope = {"type": "websocket", "path": "/", "headers": []}
    conn = WebSocket(scope, receive=None, send=send)  # type: ignore[arg-type]
    asyncio.run(wrap_app_handling_exceptions(app, conn)(scope, None, send))  # type: ignore[arg-type]
    return seen[0]


def test_the_protocol_is_found_through_known_pass_through_wrappers_only(
    protocol: WebSocketsSansIOProtocol,
) -> None:
    assert find_protocol(protocol.send) is protocol
    wrapped = starlette_wrapped(protocol.send)
    assert wrapped is not protocol.send
    assert find_protocol(wrapped) is protocol
    assert find_protocol(starlette_wrapped(wrapped)) is protocol

    async def unknown_middleware_send(message: dict[str, Any]) -> None:
        await protocol.send(message)  # might change the message: must not be bypassed

    assert find_protocol(unknown_middleware_send) is None
    assert find_protocol(starlette_wrapped(unknown_middleware_send)) is None
    assert find_protocol(protocol.receive) is None  # the protocol's, but not its send


def test_a_subclass_of_the_protocol_is_not_trusted(protocol: WebSocketsSansIOProtocol) -> None:
    class Custom(WebSocketsSansIOProtocol):
        pass

    custom = Custom.__new__(Custom)
    custom.__dict__.update(protocol.__dict__)
    assert find_protocol(custom.send) is None


def test_our_per_message_deflate_protocol_is_trusted_and_offers_only_that(
    protocol: WebSocketsSansIOProtocol,
) -> None:
    """It changes the deflate offer and nothing else (api/ws_protocol.py)."""
    ours = PerMessageDeflateProtocol(
        protocol.config, ServerState(), {}, _loop=asyncio.new_event_loop()
    )
    assert find_protocol(ours.send) is ours
    assert ours.conn.available_extensions == [PER_MESSAGE_DEFLATE]
    assert [n for n in vars(PerMessageDeflateProtocol) if callable(getattr(ours, n))] == [
        "__init__"
    ]


# ---- buffering -----------------------------------------------------------------------------


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing


def direct_socket(extensions: list[Any] | None = None) -> tuple[DirectSocket, Any]:
    writable = asyncio.Event()
    writable.set()
    proto = SimpleNamespace(
        transport=FakeTransport(),
        conn=SimpleNamespace(
            state=State.OPEN, expect_continuation_frame=False, extensions=extensions or []
        ),
        writable=writable,
        close_sent=False,
        disconnected=False,
        initial_response=None,
        handshake_complete=True,
    )
    return DirectSocket(proto), proto


def test_buffered_frames_go_out_in_order_in_one_write() -> None:
    direct, proto = direct_socket()
    frames = [encode_text_frame(f'{{"seq": {i}}}'.encode()) for i in range(3)]
    assert direct.buffer(frames[0]) is True  # first since the last flush: schedule one
    assert direct.buffer(frames[1]) is False
    assert direct.buffer(frames[2]) is False
    assert proto.transport.writes == []
    direct.flush()
    assert proto.transport.writes == [b"".join(frames)]
    direct.flush()  # nothing left: no empty write
    assert len(proto.transport.writes) == 1


def test_a_direct_write_carries_what_was_buffered_before_it() -> None:
    direct, proto = direct_socket()
    event, ack = encode_text_frame(b'{"type": "event"}'), encode_text_frame(b'{"type": "ack"}')
    direct.buffer(event)
    direct.write(ack)
    assert proto.transport.writes == [event + ack]


def test_the_buffer_is_bounded_and_written_through_when_full() -> None:
    direct, proto = direct_socket()
    big = encode_text_frame(b"x" * (FLUSH_BYTES // 4))
    for _ in range(3):
        direct.buffer(big)
    assert proto.transport.writes == []
    direct.buffer(big)  # reaches FLUSH_BYTES: written at once, for the transport to pace
    assert proto.transport.writes == [big * 4]


@pytest.mark.parametrize(
    "closed",
    [
        lambda p: setattr(p, "close_sent", True),
        lambda p: setattr(p, "disconnected", True),
        lambda p: setattr(p.conn, "state", State.CLOSING),
        lambda p: setattr(p.transport, "closing", True),
    ],
)
def test_no_buffered_frame_is_written_once_the_connection_closes(
    closed: Callable[[Any], None],
) -> None:
    direct, proto = direct_socket()
    direct.buffer(encode_text_frame(b"late"))
    closed(proto)
    assert not direct.open() and not direct.writable()
    direct.flush()
    assert proto.transport.writes == []


def test_a_paused_transport_is_open_but_not_writable() -> None:
    direct, proto = direct_socket()
    proto.writable.clear()
    assert direct.open() and not direct.writable()


def test_direct_writes_need_a_finished_handshake_and_no_extension_but_deflate(
    protocol: WebSocketsSansIOProtocol,
) -> None:
    protocol.transport = FakeTransport()  # type: ignore[assignment]
    assert DirectSocket.of(protocol.send) is None  # handshake not complete
    protocol.handshake_complete = True
    assert DirectSocket.of(protocol.send) is not None
    protocol.conn.extensions = [PerMessageDeflate(False, False, 15, 15)]
    assert DirectSocket.of(protocol.send) is not None
    protocol.conn.extensions = [SimpleNamespace(name="x-unknown")]  # type: ignore[list-item]
    assert DirectSocket.of(protocol.send) is None


def test_direct_writes_need_uvicorns_write_flow_control(
    protocol: WebSocketsSansIOProtocol,
) -> None:
    """Without it (uvicorn before 0.52.1) a paused transport cannot be told: no direct writes."""
    protocol.transport = FakeTransport()  # type: ignore[assignment]
    protocol.handshake_complete = True
    assert DirectSocket.of(protocol.send) is not None
    del protocol.writable
    assert DirectSocket.of(protocol.send) is None


def test_only_the_sans_io_implementation_supports_direct_writes() -> None:
    assert direct_writes_supported("websockets-sansio")
    assert not direct_writes_supported("websockets")
    assert not direct_writes_supported("wsproto")
