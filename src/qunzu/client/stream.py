"""A resumable WebSocket event stream.

The stream remembers, per group, the last ``seq`` it handed out. When the
connection drops (network, server restart, or the server closing a slow
consumer with 4008) it reconnects with ``since`` set to those cursors, and the
server replays what was missed: no loss, no duplicates.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.exceptions import ConnectionClosed

RESUMABLE_CLOSE_CODES = {1001, 1006, 1011, 1012, 1013, 4008}


class StreamClosed(Exception):
    """The server refused the stream (bad token, bad cursor): ``code`` and ``status`` say why."""

    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(f"{status} {code}: {detail}")
        self.status, self.code, self.detail = status, code, detail


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
    ) -> None:
        scheme = "wss" if base_url.startswith("https") else "ws"
        self.url = scheme + base_url[base_url.index(":") :] + "/v1/events"
        self.token = token
        self.cursors: dict[int, int] = dict(cursors or {})
        self._resuming = cursors is not None
        self.auto_resume = auto_resume
        self.max_reconnects = max_reconnects
        self.max_size = max_size
        self.reconnects = 0
        self.close_codes: list[int] = []
        self._ws: Any = None
        self._ready: dict[str, Any] | None = None
        self._refs = 0

    def _connect_url(self) -> str:
        if not self._resuming:
            return self.url
        since = ",".join(f"{g}:{s}" for g, s in sorted(self.cursors.items()))
        return f"{self.url}?since={since}"

    async def connect(self) -> dict[str, Any]:
        """Open the socket; returns the server's ``ready`` frame."""
        self._ws = await websockets.connect(
            self._connect_url(),
            additional_headers={"Authorization": f"Bearer {self.token}"},
            max_size=self.max_size,
            open_timeout=10,
        )
        first = json.loads(await self._ws.recv())
        if first.get("type") == "error":
            await self._ws.close()
            raise StreamClosed(first["status"], first["code"], first.get("detail", ""))
        for group, seq in first.get("cursors", {}).items():
            self.cursors.setdefault(int(group), seq)
        # From now on, every reconnect resumes from what we have seen.
        self._resuming = True
        self._ready = first
        return first

    async def __aenter__(self) -> EventStream:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()

    async def recv(self, timeout: float | None = None) -> dict[str, Any]:
        """The next frame (event, notice, ack, pong or error), reconnecting when allowed."""
        while True:
            try:
                raw = await asyncio.wait_for(self._ws.recv(), timeout)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else 1006
                self.close_codes.append(code)
                if (
                    not self.auto_resume
                    or code not in RESUMABLE_CLOSE_CODES
                    or self.reconnects >= self.max_reconnects
                ):
                    raise
                self.reconnects += 1
                await self.connect()
                continue
            frame: dict[str, Any] = json.loads(raw)
            if frame.get("type") == "event":
                group, seq = int(frame["group_id"]), int(frame["seq"])
                if seq <= self.cursors.get(group, -1):
                    continue  # defensive: never hand out a duplicate
                self.cursors[group] = seq
            return frame

    async def next_event(self, timeout: float | None = None) -> dict[str, Any]:
        """The next timeline event, skipping notices and control frames."""
        while True:
            frame = await self.recv(timeout)
            if frame.get("type") == "event":
                return frame

    async def send_message(self, group_id: int, body: str, client_txn_id: str) -> int:
        """Send over the socket; the ack arrives as a frame with the returned ``ref``."""
        self._refs += 1
        await self._ws.send(
            json.dumps(
                {
                    "type": "send",
                    "ref": self._refs,
                    "group_id": group_id,
                    "body": body,
                    "client_txn_id": client_txn_id,
                }
            )
        )
        return self._refs

    async def ping(self) -> int:
        self._refs += 1
        await self._ws.send(json.dumps({"type": "ping", "ref": self._refs}))
        return self._refs
