"""Thousands of idle WebSocket clients in one process, driven over stdin/stdout.

Started by ``capacity.py``. Each client is a bare ``asyncio.Protocol`` speaking just
enough RFC 6455 to be a fair client: the upgrade request (optionally offering
permessage-deflate as the SDK does), unmasked server frames in, masked frames out,
pongs for the server's keep-alive pings, a clean closing handshake. No library
client: at 10,000 connections a full client per socket would cost the two shared
cores and the memory this bench is trying to measure on the server.

    stdin, first line:  JSON {"host", "port", "path", "tokens": [...], "deflate": bool,
                              "concurrency": N, "sources": ["127.0.0.2", ...]}
    stdin:  CONNECT           -> CONNECTED <ok> <failed> <seconds>
    stdin:  COLLECT <n> <s>   -> one JSON line: deliveries of benchmark messages so far
                                 (waits until <n> arrived or <s> seconds passed), then reset
    stdin:  CLOSE             -> CLOSED <closed> <seconds>
    stdin:  QUIT

A benchmark message body looks like ``cap|<number>|<send time>|<pad>``. Per message
number the process keeps how many clients got it and the latest arrival (receipt
time minus the send time, wall clock, same machine), plus a histogram of every
delivery's latency, so ``capacity.py`` can merge processes exactly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import struct
import sys
import time
import zlib
from typing import Any

import uvloop

BUCKET_S = 0.0005  # 0.5 ms histogram resolution
MARK = re.compile(rb"cap\|(\d+)\|([0-9.]+)\|")
DEFLATE_TAIL = b"\x00\x00\xff\xff"


class Stats:
    """Benchmark deliveries seen by this process since the last COLLECT."""

    def __init__(self) -> None:
        self.count = 0
        self.hist: dict[int, int] = {}
        self.per_msg: dict[int, list[float]] = {}  # number -> [receivers, latest latency]
        self.arrived = asyncio.Event()
        self.want = 0

    def add(self, number: int, latency: float) -> None:
        self.count += 1
        bucket = max(0, int(latency / BUCKET_S))
        self.hist[bucket] = self.hist.get(bucket, 0) + 1
        seen = self.per_msg.get(number)
        if seen is None:
            self.per_msg[number] = [1, latency]
        else:
            seen[0] += 1
            if latency > seen[1]:
                seen[1] = latency
        if self.want and self.count >= self.want:
            self.arrived.set()

    def take(self) -> dict[str, Any]:
        out = {"count": self.count, "hist": self.hist, "per_msg": self.per_msg}
        self.count, self.hist, self.per_msg, self.want = 0, {}, {}, 0
        self.arrived.clear()
        return out


def masked(opcode: int, payload: bytes) -> bytes:
    """A client frame (RFC 6455 §5.3: clients mask everything they send)."""
    mask = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | opcode, 0x80 | n])
    else:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    data = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + data


class IdleClient(asyncio.Protocol):
    """One connection: handshake, then read frames; answer pings; note benchmark events."""

    __slots__ = ("buf", "closed", "decoder", "ready", "shook", "stats", "transport", "upgrade")

    def __init__(self, upgrade: bytes, stats: Stats, loop: asyncio.AbstractEventLoop) -> None:
        self.upgrade = upgrade
        self.stats = stats
        self.buf = bytearray()
        self.shook = False
        self.decoder: Any = None  # a zlib decompressor once a compressed frame arrives
        self.ready: asyncio.Future[bool] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.upgrade)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_result(False)
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.shook:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                self.ready.set_result(False)
                self.transport.close()  # type: ignore[union-attr]
                return
            self.shook = True
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            n, at = b1 & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    return
                n, at = struct.unpack_from("!H", buf, 2)[0], 4
            elif n == 127:
                if len(buf) < 10:
                    return
                n, at = struct.unpack_from("!Q", buf, 2)[0], 10
            if len(buf) < at + n:
                return
            payload = bytes(buf[at : at + n])
            del buf[: at + n]
            self.frame(b0, payload)

    def frame(self, b0: int, payload: bytes) -> None:
        opcode = b0 & 0x0F
        if opcode == 0x1:
            if b0 & 0x40:  # RSV1: compressed (permessage-deflate)
                payload = self.inflate(payload)
            match = MARK.search(payload, 0, 200)
            if match is not None:
                self.stats.add(int(match[1]), time.time() - float(match[2]))
            elif not self.ready.done() and b'"ready"' in payload[:40]:
                self.ready.set_result(True)
        elif opcode == 0x9:
            self.transport.write(masked(0xA, payload))  # type: ignore[union-attr]
        elif opcode == 0x8 and not self.transport.is_closing():  # type: ignore[union-attr]
            self.transport.write(masked(0x8, payload[:2]))  # type: ignore[union-attr]
            self.transport.close()  # type: ignore[union-attr]

    def inflate(self, payload: bytes) -> bytes:
        # One decoder kept per connection: it reads server frames with or without
        # context takeover alike (a fresh context is just one that was never used).
        if self.decoder is None:
            self.decoder = zlib.decompressobj(-15)
        return bytes(self.decoder.decompress(payload + DEFLATE_TAIL))

    async def close(self) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        transport.write(masked(0x8, struct.pack("!H", 1000)))
        try:
            await asyncio.wait_for(asyncio.shield(self.closed), 10)
        except TimeoutError:
            transport.abort()


def upgrade_request(host: str, port: int, path: str, token: str, deflate: bool) -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        f"Authorization: Bearer {token}",
    ]
    if deflate:  # what websockets' client (the SDK) offers
        lines.append("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class Clients:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.stats = Stats()
        self.clients: list[IdleClient] = []

    async def connect(self) -> tuple[int, int, float]:
        cfg, loop = self.cfg, asyncio.get_running_loop()
        gate = asyncio.Semaphore(int(cfg.get("concurrency", 100)))
        sources = cfg.get("sources") or ["127.0.0.1"]
        t0 = time.monotonic()

        async def one(i: int, token: str) -> IdleClient | None:
            upgrade = upgrade_request(cfg["host"], cfg["port"], cfg["path"], token, cfg["deflate"])
            async with gate:
                for _attempt in range(5):
                    client = IdleClient(upgrade, self.stats, loop)
                    try:
                        await loop.create_connection(
                            lambda c=client: c,  # type: ignore[misc]
                            cfg["host"],
                            cfg["port"],
                            local_addr=(sources[i % len(sources)], 0),
                        )
                        if await asyncio.wait_for(client.ready, 60):
                            return client
                    except (OSError, TimeoutError):
                        pass
                    if client.transport is not None:
                        client.transport.abort()
                    await asyncio.sleep(0.2)
                return None

        found = await asyncio.gather(*(one(i, t) for i, t in enumerate(cfg["tokens"])))
        self.clients = [c for c in found if c is not None]
        return len(self.clients), len(found) - len(self.clients), time.monotonic() - t0

    async def collect(self, want: int, timeout: float) -> dict[str, Any]:
        stats = self.stats
        if stats.count < want:
            stats.want = want
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stats.arrived.wait(), timeout)
        return stats.take()

    async def close(self) -> tuple[int, float]:
        t0 = time.monotonic()
        gate = asyncio.Semaphore(int(self.cfg.get("concurrency", 100)))

        async def one(client: IdleClient) -> None:
            async with gate:
                await client.close()

        clients, self.clients = self.clients, []
        await asyncio.gather(*(one(c) for c in clients))
        return len(clients), time.monotonic() - t0


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)  # the first line lists every token
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    clients = Clients(json.loads(await reader.readline()))
    while True:
        words = (await reader.readline()).decode().split()
        if not words or words[0] == "QUIT":
            break
        if words[0] == "CONNECT":
            ok, failed, took = await clients.connect()
            say(f"CONNECTED {ok} {failed} {took:.2f}")
        elif words[0] == "COLLECT":
            say(json.dumps(await clients.collect(int(words[1]), float(words[2]))))
        elif words[0] == "CLOSE":
            closed, took = await clients.close()
            say(f"CLOSED {closed} {took:.2f}")
    await clients.close()


if __name__ == "__main__":
    uvloop.run(main())
