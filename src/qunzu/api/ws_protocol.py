"""Which uvicorn WebSocket implementation serves the event stream, and how it compresses.

``QUNZU_WS_PROTOCOL`` names uvicorn's implementation; ``QUNZU_WS_DEFLATE`` says
whether permessage-deflate (RFC 7692) is offered to clients that ask for it:

- ``on`` (default): offered **without context takeover** in either direction
  (``server_no_context_takeover``, ``client_no_context_takeover``) and with 4 KiB
  windows. Each message is compressed, or decompressed, with a compression context
  made for it and dropped after it, so an idle connection holds none. uvicorn's own
  offer keeps a context for each direction for the life of the connection: about
  46 KB per connection (a zlib deflate state of about 39 KB, an inflate state of
  about 7 KB), more than the rest of an idle connection together, and a source of
  fragmentation as connections come and go. Messages here are short JSON documents,
  and live events go out uncompressed anyway (``api/ws_fastpath.py``), so a context
  carried from one message to the next buys little.
- ``off``: not offered; every frame goes out uncompressed.

With ``websockets-sansio`` (the default implementation) ``on`` is
:class:`PerMessageDeflateProtocol`, uvicorn's protocol with the offer above and
nothing else changed; with ``websockets`` or ``wsproto`` it is that library's own
offer, context takeover included.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

try:
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # a uvicorn without it: the setting falls back to the library's offer
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]

WsDeflate = Literal["on", "off"]

# The factory only holds the offer; each connection gets its own extension from it.
PER_MESSAGE_DEFLATE = ServerPerMessageDeflateFactory(
    server_no_context_takeover=True,
    client_no_context_takeover=True,
    server_max_window_bits=12,
    client_max_window_bits=12,
    compress_settings={"memLevel": 5},
)


if WebSocketsSansIOProtocol is not None:

    class PerMessageDeflateProtocol(WebSocketsSansIOProtocol):
        """uvicorn's sans-I/O protocol offering permessage-deflate without context takeover.

        Only the offer differs (``PER_MESSAGE_DEFLATE``); every method is uvicorn's, so
        direct writes (``api/ws_fastpath.py``) take this class as they take uvicorn's.
        """

        def __init__(
            self,
            config: Any,
            server_state: Any,
            app_state: dict[str, Any],
            _loop: asyncio.AbstractEventLoop | None = None,
        ) -> None:
            super().__init__(config, server_state, app_state, _loop)
            self.conn.available_extensions = [PER_MESSAGE_DEFLATE]

    SANS_IO_PROTOCOLS: tuple[type, ...] = (WebSocketsSansIOProtocol, PerMessageDeflateProtocol)
else:  # pragma: no cover - uvicorn too old for the sans-I/O implementation
    SANS_IO_PROTOCOLS = ()


def uvicorn_ws_options(protocol: str, deflate: WsDeflate) -> dict[str, Any]:
    """uvicorn ``Config`` keywords for ``QUNZU_WS_PROTOCOL`` and ``QUNZU_WS_DEFLATE``."""
    if deflate == "on" and protocol == "websockets-sansio" and SANS_IO_PROTOCOLS:
        return {"ws": SANS_IO_PROTOCOLS[1], "ws_per_message_deflate": False}
    return {"ws": protocol, "ws_per_message_deflate": deflate == "on"}


def deflate_in_force(protocol: str, deflate: WsDeflate) -> str:
    """What clients that ask for compression get, in words (start-up line, status)."""
    if deflate == "off":
        return "off"
    if protocol == "websockets-sansio" and SANS_IO_PROTOCOLS:
        return "per-message"
    return "context-takeover"
