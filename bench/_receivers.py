"""Many lightweight WebSocket receivers in one process, driven over stdin/stdout.

Started by ``fanout.py``, kept in its own process so that receiving does not
compete with the senders for one event loop. It speaks a line protocol:

    stdin, first line:  JSON {"url": ..., "mode": "qunzu"|"baseline",
                              "tokens": [...], "count": N, "deflate": false}
    stdout:             READY <connected>
    stdin:              COLLECT <phase> <expected> <timeout_s>
    stdout:             one JSON line of statistics for <phase>
    stdin:              QUIT

A benchmark message body looks like ``bench|<phase>|<send time>|<pad>``; every
receiver records, per phase, the count and the latency (receipt time minus the
embedded send time, wall clock, same machine) in a fixed-resolution histogram,
so memory stays flat however many deliveries there are.

For qunzu the receivers are raw ``websockets`` clients (cheaper than the SDK's
EventStream) but resume like it does: when the server closes a slow consumer
(4008) or the connection drops, the receiver reconnects with ``since`` set to
the last seq it saw, and the server replays the gap from storage.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import uvloop
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

BUCKET_S = 0.0001  # 0.1 ms resolution
MAX_BUCKET = 200_000  # 20 s; anything slower is counted in the last bucket


@dataclass
class PhaseStats:
    count: int = 0
    first: float = 0.0
    last: float = 0.0
    hist: dict[int, int] = field(default_factory=dict)
    lat_sum: float = 0.0
    # per wall-clock second: [deliveries, worst latency], to see stalls over time
    series: dict[int, list[float]] = field(default_factory=dict)

    def add(self, now: float, sent: float) -> None:
        if not self.count:
            self.first = now
        self.count += 1
        self.last = now
        lat = now - sent
        self.lat_sum += lat
        b = min(MAX_BUCKET, max(0, int(lat / BUCKET_S)))
        self.hist[b] = self.hist.get(b, 0) + 1
        sec = self.series.get(int(now))
        if sec is None:
            self.series[int(now)] = [1, lat]
        else:
            sec[0] += 1
            if lat > sec[1]:
                sec[1] = lat

    def percentile(self, q: float) -> float | None:
        if not self.count:
            return None
        rank = q * self.count
        seen = 0
        for b in sorted(self.hist):
            seen += self.hist[b]
            if seen >= rank:
                return (b + 0.5) * BUCKET_S
        return MAX_BUCKET * BUCKET_S

    def summary(self) -> dict[str, Any]:
        pct = {f"p{int(q * 1000) / 10:g}": self.percentile(q) for q in (0.5, 0.9, 0.99, 0.999)}
        top = max(self.hist) * BUCKET_S if self.hist else None
        mean = self.lat_sum / self.count if self.count else None
        return {
            "count": self.count,
            "first": self.first,
            "last": self.last,
            "mean": mean,
            "max": top,
            **pct,
            "series": [
                {"t": t, "deliveries": int(c), "max_ms": round(worst * 1000, 1)}
                for t, (c, worst) in sorted(self.series.items())
            ],
        }


class Receivers:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.cfg = cfg
        self.mode: str = cfg["mode"]
        self.stats: dict[str, PhaseStats] = {}
        self.reconnects = 0
        self.close_codes: dict[int, int] = {}
        self.connected = 0
        self.stopping = False

    def on_text(self, text: str, now: float) -> bool:
        i = text.find("bench|")
        if i < 0:
            return False
        parts = text[i : i + 64].split("|", 3)
        stats = self.stats.get(parts[1])
        if stats is None:
            stats = self.stats[parts[1]] = PhaseStats()
        stats.add(now, float(parts[2]))
        return True

    async def _open(self, token: str | None, since: int | None) -> tuple[ClientConnection, int]:
        url = self.cfg["url"]
        headers = {}
        if self.mode == "qunzu":
            headers["Authorization"] = f"Bearer {token}"
            if since is not None:
                url += f"?since={self.cfg['group_id']}:{since}"
        ws = await connect(
            url,
            additional_headers=headers,
            max_size=2**20,
            open_timeout=30,
            compression="deflate" if self.cfg.get("deflate") else None,
            max_queue=None,
        )
        cursor = 0
        if self.mode == "qunzu":
            ready = json.loads(await ws.recv())
            if ready.get("type") != "ready":
                raise RuntimeError(f"stream refused: {ready}")
            cursor = int(ready.get("cursors", {}).get(str(self.cfg["group_id"]), 0))
        return ws, cursor

    async def one(self, token: str | None, ready: asyncio.Event, gate: asyncio.Semaphore) -> None:
        async with gate:
            ws, cursor = await self._open(token, None)
        self.connected += 1
        if self.connected == self.cfg["count"]:
            ready.set()
        last_event: str | None = None  # parsed for its seq only when resuming
        on_text, clock = self.on_text, time.time
        while not self.stopping:
            try:
                async for text in ws:
                    if on_text(text, clock()):  # type: ignore[arg-type]
                        last_event = text  # type: ignore[assignment]
                return
            except ConnectionClosed as exc:
                if self.stopping:
                    return
                code = exc.rcvd.code if exc.rcvd else 1006
                self.close_codes[code] = self.close_codes.get(code, 0) + 1
                if self.mode != "qunzu":
                    raise
                self.reconnects += 1
                since = _seq_of(last_event) or cursor
                ws, cursor = await self._open(token, since)
                # After a resume the server replays from `since`; keep counting.

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        ready = asyncio.Event()
        gate = asyncio.Semaphore(20)
        tokens = self.cfg.get("tokens") or [None] * self.cfg["count"]
        tasks = [asyncio.create_task(self.one(t, ready, gate)) for t in tokens]
        waiter = asyncio.create_task(ready.wait())
        done, _ = await asyncio.wait(
            [waiter, *tasks], return_when=asyncio.FIRST_COMPLETED, timeout=120
        )
        if not ready.is_set():
            for t in done:
                if t is not waiter and t.exception():
                    raise t.exception()  # type: ignore[misc]
            raise RuntimeError(f"only {self.connected} receivers connected")
        _emit(f"READY {self.connected}")
        while True:
            line = (await reader.readline()).decode().strip()
            if not line or line == "QUIT":
                break
            _cmd, phase, expected, timeout = line.split()
            stats = await self.collect(phase, int(expected), float(timeout))
            _emit(json.dumps(stats))
        self.stopping = True
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def collect(self, phase: str, expected: int, timeout: float) -> dict[str, Any]:
        """Wait until ``expected`` deliveries of ``phase`` arrived, or no progress for timeout."""
        stalled_since = time.monotonic()
        seen = -1
        while True:
            stats = self.stats.get(phase) or PhaseStats()
            if stats.count >= expected:
                break
            if stats.count != seen:
                seen, stalled_since = stats.count, time.monotonic()
            elif time.monotonic() - stalled_since > timeout:
                break
            await asyncio.sleep(0.05)
        out = stats.summary()
        out.update(
            phase=phase,
            expected=expected,
            reconnects=self.reconnects,
            close_codes={str(k): v for k, v in self.close_codes.items()},
        )
        return out


def _seq_of(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    seq = doc.get("seq")
    return int(seq) if isinstance(seq, int) else None


def _emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main() -> None:
    cfg = json.loads(sys.stdin.readline())
    uvloop.run(Receivers(cfg).serve())


if __name__ == "__main__":
    main()
