"""A resumable WebSocket event stream.

The stream remembers, per group, the last ``seq`` it handed out. When the
connection drops (network, server restart, the server closing a slow consumer
with 4008, or 1013 while its database is away) it reconnects with ``since`` set
to those cursors, and the server replays what was missed: no loss, no duplicates.

When the session ends (the token logged out, revoked or expired: close 4401; the
account disabled: 4403) reconnecting cannot help: ``recv`` raises ``SessionEnded``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

RESUMABLE_CLOSE_CODES = {1001, 1006, 1011, 1012, 1013, 4008}
# The session is over: log in again for a new token (4401), or the account is disabled.
SESSION_CLOSE_CODES = {4401, 4403}
# Seconds to wait before each further reconnect attempt in a row (the last one repeats).
RECONNECT_DELAYS = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0)


class StreamClosed(Exception):
    """The server refused the stream (bad token, bad cursor): ``code`` and ``status`` say why.

    ``close_code`` is the WebSocket close code the server used (``4000 + status``).
    """

    def __init__(self, status: int, code: str, detail: str, close_code: int | None = None) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail
        self.close_code = close_code


class SessionEnded(StreamClosed):
    """The server closed the stream because its session ended (close 4401 or 4403).

    ``code`` says why: ``token_revoked`` (logged out or revoked), ``token_expired``,
    ``token_invalid`` or ``account_disabled``. A new token is needed; the stream does
    not reconnect.
    """

    @classmethod
    def from_close(cls, close_code: int, reason: str) -> SessionEnded:
        code = reason.split(":", 1)[0].strip() or "session_ended"
        return cls(close_code - 4000, code, reason or "The session ended.", close_code)


class EventStream:
    def __init__(
        self,
        base_url: str,
        token: str,
        cursors: dict[int, int] | None = None,
        *,
        auto_resume: bool = True,
        max_reconnects: int = 20,
        max_size: int = 2**20,
        compression: str | None = "deflate",
    ) -> None:
        base_url = base_url.rstrip("/")
        scheme = "wss" if base_url.startswith("https") else "ws"
        self.url = scheme + base_url[base_url.index(":") :] + "/v1/events"
        self.token = token
        self.cursors: dict[int, int] = dict(cursors or {})
        self._resuming = cursors is not None
        self.auto_resume = auto_resume
        self.max_reconnects = max_reconnects  # failed attempts in a row before giving up
        self.max_size = max_size
        self.compression = compression  # None: frames go uncompressed (less CPU, more bytes)
        self.reconnects = 0  # successful reconnects over the stream's life
        self.close_codes: list[int] = []
        self.duplicates = 0  # events the server sent twice (dropped here; should stay 0)
        self._ws: Any = None
        self._ready: dict[str, Any] | None = None
        self._refs = 0
        self._closed = False

    def _connect_url(self) -> str:
        if not self._resuming:
            return self.url
        since = ",".join(f"{g}:{s}" for g, s in sorted(self.cursors.items()))
        return f"{self.url}?since={since}"

    async def connect(self) -> dict[str, Any]:
        """Open the socket; returns the server's ``ready`` frame.

        Raises ``StreamClosed`` when the server refuses (an ``error`` frame, then a
        close with ``4000 + status``, or 1013 while its database is away), of which
        ``SessionEnded`` for a token or account that is no good (4401, 4403).
        """
        ws = await websockets.connect(
            self._connect_url(),
            additional_headers={"Authorization": f"Bearer {self.token}"},
            max_size=self.max_size,
            compression=self.compression,
            open_timeout=10,
        )
        try:
            first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except BaseException:
            await ws.close()
            raise
        if first.get("type") == "error":
            # The server closes right after its error frame; wait for that close to
            # learn its code, rather than racing it with our own.
            try:
                await asyncio.wait_for(ws.wait_closed(), 5)
            except TimeoutError:
                await ws.close()
            # 4401/4403: the token or account is no good (log in again); 1013: try later.
            kind = SessionEnded if ws.close_code in SESSION_CLOSE_CODES else StreamClosed
            raise kind(
                int(first.get("status", 0)),
                str(first.get("code", "")),
                str(first.get("detail", "")),
                ws.close_code,
            )
        if first.get("type") != "ready":
            await ws.close()
            raise StreamClosed(0, "protocol_error", f"Expected a ready frame, got {first!r}.")
        self._ws = ws
        for group, seq in first.get("cursors", {}).items():
            self.cursors.setdefault(int(group), seq)
        # From now on, every reconnect resumes from what we have seen.
        self._resuming = True
        self._closed = False
        self._ready = first
        return first

    @property
    def ready(self) -> dict[str, Any] | None:
        """The last ``ready`` frame: the account and where each group's delivery started."""
        return self._ready

    async def __aenter__(self) -> EventStream:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def _reconnect(self) -> None:
        """Reconnect from the cursors, retrying transient failures with a short backoff."""
        for attempt in range(self.max_reconnects):
            await asyncio.sleep(RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)])
            try:
                await self.connect()
            except StreamClosed as exc:
                if exc.close_code is not None:
                    self.close_codes.append(exc.close_code)
                if exc.close_code not in RESUMABLE_CLOSE_CODES:
                    raise  # refused for good (a revoked token, a bad cursor)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else 1006
                self.close_codes.append(code)
                if code not in RESUMABLE_CLOSE_CODES:
                    raise
            except InvalidStatus as exc:
                if exc.response.status_code < 500:
                    raise  # refused at the HTTP level: retrying will not help
            except (OSError, TimeoutError, InvalidHandshake):
                pass  # the server is restarting or unreachable: try again
            else:
                self.reconnects += 1
                return
        raise ConnectionError(
            f"Could not resume the event stream after {self.max_reconnects} tries."
        )

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next frame (event, notice, ack, pong or error), reconnecting when allowed."""
        if self._ws is None:
            await self.connect()
        while True:
            try:
                raw = await asyncio.wait_for(self._ws.recv(), timeout)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else 1006
                self.close_codes.append(code)
                if code in SESSION_CLOSE_CODES and not self._closed:
                    reason = exc.rcvd.reason if exc.rcvd else ""
                    raise SessionEnded.from_close(code, reason) from exc
                if (
                    self._closed
                    or not self.auto_resume
                    or code not in RESUMABLE_CLOSE_CODES
                    or self.max_reconnects <= 0
                ):
                    raise
                await self._reconnect()
                continue
            frame: dict[str, Any] = json.loads(raw)
            if frame.get("type") == "event":
                group, seq = int(frame["group_id"]), int(frame["seq"])
                if seq <= self.cursors.get(group, -1):
                    self.duplicates += 1
                    continue  # defensive: never hand out a duplicate
                self.cursors[group] = seq
            return frame

    async def next_event(self, timeout: float | None = None) -> dict[str, Any]:
        """The next timeline event, skipping notices and control frames."""
        while True:
            frame = await self.recv(timeout)
            if frame.get("type") == "event":
                return frame

    async def send_frame(self, frame: dict[str, Any]) -> int:
        """Send a client frame with a fresh ``ref``; replies (ack, pong, error) echo it."""
        self._refs += 1
        await self._ws.send(json.dumps({**frame, "ref": self._refs}))
        return self._refs

    async def send_message(self, group_id: int, body: str, client_txn_id: str, **refs: Any) -> int:
        """Send over the socket; the ack arrives as a frame with the returned ``ref``.
        ``refs``: ``reply_to``, ``mentions``, ``mention_all`` as in the HTTP send."""
        return await self.send_frame(
            {
                "type": "send",
                "group_id": group_id,
                "body": body,
                "client_txn_id": client_txn_id,
                **refs,
            }
        )

    async def ping(self) -> int:
        return await self.send_frame({"type": "ping"})
