"""Ingest and fan-out benchmark for qunzu, against a bare WebSocket broadcast baseline.

A benchmark, not a test: it starts qunzu as a separate process (one uvicorn
worker, uvloop + httptools, SQLite in a temporary data dir, argon2 costs
lowered through ``QUNZU_ARGON2_*`` so that setting up ~140 accounts is quick),
builds its world through the SDK, and measures:

ingest    one group, one receiver on the event stream (SDK ``EventStream``),
          K concurrent senders each posting as fast as acknowledgements come
          back (HTTP ``POST /v1/groups/{id}/messages`` through ``QunzuClient``;
          also the WebSocket ``send`` frame). Accepted messages per second, and
          whether the receiver got every one.
fan-out   one group of 100 members, all connected by WebSocket (raw
          ``websockets`` clients in a separate receiver process, resuming on
          4008 like the SDK), S members posting: deliveries per second and
          send-to-delivery latency (send time embedded in the body), at full
          load (as fast as acks come back) and at half of the full-load rate
          (paced, open-loop schedule; the embedded time is the scheduled time).
          ``--fanout-send`` picks how the S members post: ``ws`` (default) with
          the SDK's WebSocket ``send`` frame, like the baseline's senders (each
          sender's socket is a member's stream, so it also receives the group's
          events: S extra deliveries per message that the receivers do not
          count), or ``http`` (``POST /v1/groups/{id}/messages``).
baseline  the same fan-out workload against ``bench/baseline_server.py`` (no
          storage, no checks: broadcast to all receivers, ack the sender; its
          senders always use WebSockets). The half-load phase runs at the same
          msg/s offered to qunzu at half load.

Everything binds to 127.0.0.1, every phase is bounded in time, and every child
process is killed in ``finally``. The rulebook's quotas are raised out of reach
(a copy of the packaged one) so that the benchmark measures capacity, not
``messages_per_minute``. On a shared machine the bench waits (bounded) for
other jobs to calm down before each phase and reports their CPU use per row.

    python bench/fanout.py                 # full run: about 4 min on a quiet box
    python bench/fanout.py --quick         # smoke run, about a minute
    python bench/fanout.py --nice -10 --json out.json --py-spy prof/
    python bench/fanout.py --skip baseline,ingest   # only qunzu's fan-out
    python bench/fanout.py --skip ingest --fanout-send http   # fan-out senders over HTTP
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import uvloop
from websockets.asyncio.client import ClientConnection, connect

from qunzu.client import EventStream, QunzuAPIError, QunzuClient
from qunzu.domain.identity import make_resident_id

HERE = Path(__file__).resolve().parent
PASSWORD = "bench password 1"
PAD = "x" * 64
GOALS = {"ingest_msgs_per_s": 1500.0, "fanout_ratio": 0.5, "p99_half_ms": 100.0}


# ---- small helpers -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body_for(phase: str, sent_at: float) -> str:
    return f"bench|{phase}|{sent_at:.6f}|{PAD}"


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def machine_info() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for pkg in (
        "qunzu",
        "fastapi",
        "uvicorn",
        "uvloop",
        "httptools",
        "websockets",
        "sqlalchemy",
        "aiosqlite",
        "httpx",
    ):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[pkg] = metadata.version(pkg)
    mem_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "mem_gib": round(mem_kib / 2**20, 1),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "packages": versions,
    }


# ---- CPU accounting: who saturates? --------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _proc_ticks(path: str) -> int:
    try:
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])  # utime + stime


def _machine_ticks() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    return sum(parts) - idle, sum(parts)


class CpuMeter:
    """CPU use per process (in % of one core) and of the whole machine, between two marks."""

    def __init__(self) -> None:
        self.pids: dict[str, int] = {}

    def watch(self, name: str, pid: int) -> None:
        self.pids[name] = pid

    def forget(self, name: str) -> None:
        self.pids.pop(name, None)

    def mark(self) -> dict[str, Any]:
        ticks = {n: _proc_ticks(f"/proc/{p}/stat") for n, p in self.pids.items()}
        if "server" in self.pids:  # the event-loop thread alone: the single-core limit
            pid = self.pids["server"]
            ticks["server loop"] = _proc_ticks(f"/proc/{pid}/task/{pid}/stat")
        return {"t": time.monotonic(), "ticks": ticks, "machine": _machine_ticks()}

    @staticmethod
    def between(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        wall = max(1e-6, b["t"] - a["t"])
        out = {
            name: round(100 * (b["ticks"][name] - a["ticks"].get(name, 0)) / CLK_TCK / wall, 1)
            for name in b["ticks"]
        }
        busy = b["machine"][0] - a["machine"][0]
        total = max(1, b["machine"][1] - a["machine"][1])
        out["machine"] = round(100 * busy / total, 1)  # % of all cores
        ours = sum(v for n, v in out.items() if n not in ("machine", "server loop", "wall_s"))
        # Everything else on the machine (other jobs), in % of one core.
        out["others"] = round(max(0.0, out["machine"] * len(os.sched_getaffinity(0)) - ours), 1)
        out["wall_s"] = round(wall, 3)
        return out


def cpu_us_per(cpu: dict[str, float], name: str, units: int) -> float | None:
    """CPU microseconds ``name`` spent per unit of work (less sensitive to other jobs)."""
    if name not in cpu or not units:
        return None
    return round(cpu[name] / 100 * cpu["wall_s"] / units * 1e6, 1)


def verdict(cpu: dict[str, float], nproc: int) -> str:
    skip = ("machine", "server", "others", "wall_s")
    hot = [n for n, v in cpu.items() if n not in skip and v >= 90]
    noisy = (
        f"; other jobs used {cpu['others']:.0f}% of a core" if cpu.get("others", 0) >= 15 else ""
    )
    if cpu.get("machine", 0) >= 90:
        who = ", ".join(hot) if hot else "no single process"
        return f"machine CPU-bound ({nproc} cores); >=90% of a core: {who}{noisy}"
    if hot:
        return "saturated: " + ", ".join(hot) + noisy
    return "nothing saturated (latency-bound)" + noisy


def wait_quiet(limit_s: float, threshold: float = 15.0) -> float:
    """Wait (up to ``limit_s``) for the machine to be idle; return its last busy %."""
    began = time.monotonic()
    told = False
    while True:
        a = _machine_ticks()
        time.sleep(1.0)
        b = _machine_ticks()
        busy = round(100 * (b[0] - a[0]) / max(1, b[1] - a[1]), 1)
        waited = time.monotonic() - began
        if busy < threshold:
            if told:
                print(f"  ...quiet after {waited:.0f}s", flush=True)
            return busy
        if waited >= limit_s:
            if told:
                print(f"  ...still {busy:.0f}% busy after {waited:.0f}s; going ahead", flush=True)
            return busy
        if not told:
            print(
                f"  machine {busy:.0f}% busy with other jobs; waiting up to {limit_s:.0f}s",
                flush=True,
            )
            told = True


# ---- child processes -----------------------------------------------------------------------


class Child:
    """A child process in its own process group, killed for sure on stop()."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str] | None = None,
        stdin: Any = None,
        stdout: Any = None,
    ) -> None:
        self.name, self.argv = name, argv
        self.proc = subprocess.Popen(
            argv,
            env=env,
            stdin=stdin,
            stdout=stdout,
            stderr=None,
            start_new_session=True,
            text=True,
            bufsize=1,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=8)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def wait_http(url: str, child: Child, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not answer {url}")


def wait_port(port: int, child: Child, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.proc.poll() is not None:
            raise RuntimeError(f"{child.name} exited with {child.proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{child.name} did not listen on {port}")


class ReceiverProc:
    """The receiver process (bench/_receivers.py), driven over its stdin/stdout."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        self.child = Child(
            "receivers",
            [sys.executable, str(HERE / "_receivers.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._send(json.dumps(cfg))

    def _send(self, line: str) -> None:
        assert self.child.proc.stdin is not None
        self.child.proc.stdin.write(line + "\n")
        self.child.proc.stdin.flush()

    async def _line(self) -> str:
        assert self.child.proc.stdout is not None
        line = await asyncio.to_thread(self.child.proc.stdout.readline)
        if not line:
            raise RuntimeError(f"receiver process exited ({self.child.proc.poll()})")
        return line.strip()

    async def ready(self) -> int:
        line = await self._line()
        if not line.startswith("READY"):
            raise RuntimeError(f"receivers: {line}")
        return int(line.split()[1])

    async def collect(self, phase: str, expected: int, timeout: float) -> dict[str, Any]:
        self._send(f"COLLECT {phase} {expected} {timeout}")
        return json.loads(await self._line())

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._send("QUIT")
            self.child.proc.wait(timeout=5)
        self.child.stop()


# ---- the world -----------------------------------------------------------------------------


@dataclass
class World:
    url: str
    owner: QunzuClient
    ingest_group: int
    fan_group: int
    ingest_senders: list[QunzuClient] = field(default_factory=list)
    ingest_receiver: QunzuClient | None = None
    fan_members: list[QunzuClient] = field(default_factory=list)

    async def close(self) -> None:
        for c in [self.owner, *self.ingest_senders, *self.fan_members]:
            with contextlib.suppress(Exception):
                await c.aclose()
        if self.ingest_receiver is not None:
            await self.ingest_receiver.aclose()


_seq = iter(range(1, 10**9))


async def make_user(url: str, prefix: str, verified: bool = True) -> QunzuClient:
    """Register, log in and verify an account (a copy of the idea in tests/factories.py)."""
    client = QunzuClient(url, timeout=60)
    n = next(_seq)
    handle = f"{prefix}{n}_{random.randrange(10**6)}"
    await client.register(handle, PASSWORD)
    await client.login(handle, PASSWORD)
    if verified:
        rnd = random.Random(n * 7919 + random.randrange(10**6))
        born = date(1960 + rnd.randrange(40), 1 + rnd.randrange(12), 1 + rnd.randrange(28))
        rid = make_resident_id("110101", born, rnd.randrange(1000))
        await client.submit_identity("张三", rid, "13800138000")
    return client


async def build_world(url: str, fan_members: int, ingest_senders: int) -> World:
    """Two open groups with different owners; the fan-out owner is one of its members."""
    owner = await make_user(url, "owner")
    ingest = await owner.create_group("bench ingest", "interest", join_policy="open")
    fan_owner = await make_user(url, "fan")
    fan = await fan_owner.create_group("bench fanout", "interest", join_policy="open")
    gate = asyncio.Semaphore(16)

    async def member(prefix: str, group: dict[str, Any]) -> QunzuClient:
        async with gate:
            client = await make_user(url, prefix)
            await client.join(group["id"], group.get("rules_version") or None)
            return client

    world = World(url, owner, ingest["id"], fan["id"])
    world.ingest_receiver = await member("recv", ingest)
    world.ingest_senders = list(
        await asyncio.gather(*(member("snd", ingest) for _ in range(ingest_senders)))
    )
    joined = await asyncio.gather(*(member("fan", fan) for _ in range(fan_members - 1)))
    world.fan_members = [fan_owner, *joined]
    return world


def bench_rulebook(path: Path) -> str:
    """The packaged rulebook with every quota of the posting levels raised out of reach.

    A benchmark measures capacity, so ``messages_per_minute = 20`` must not be
    what it finds. The quota checks still run on every message (same code path,
    same look-ups); they just never refuse. Returns a note for the report.
    """
    try:
        from qunzu.policy import default_rulebook_text, parse_rulebook
    except ImportError:
        return "no rulebook support in this qunzu; nothing changed"
    lines, raised = [], 0
    for line in default_rulebook_text().splitlines():
        if line.startswith("quotas = {") and "messages_per_minute = 0" not in line:
            line = re.sub(r"= \d+", "= 1000000", line)
            raised += 1
        lines.append(line)
    if not raised:
        return "packaged rulebook UNCHANGED (quota lines not recognised): expect 429s"
    text = "\n".join(lines) + "\n"
    parse_rulebook(text, str(path))  # refuse to start with a rulebook qunzu would refuse
    path.write_text(text)
    return f"packaged rulebook, quotas of {raised} credit levels raised to 1,000,000"


# ---- workloads -----------------------------------------------------------------------------


@dataclass
class SendOutcome:
    acks: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    ack_latencies: list[float] = field(default_factory=list)
    started: float = 0.0  # wall clock
    last_ack: float = 0.0

    @property
    def elapsed(self) -> float:
        return max(1e-6, self.last_ack - self.started)

    @property
    def rate(self) -> float:
        return self.acks / self.elapsed


async def drive(
    senders: list[Any],
    phase: str,
    duration: float,
    rate: float | None,
    post: Any,
) -> SendOutcome:
    """Each sender posts, awaits its ack, posts again, until ``duration`` is up.

    With ``rate`` (msg/s over all senders) the schedule is open-loop: sender i
    sends its j-th message at t0 + (j*S + i)/rate and embeds that scheduled time,
    so a late ack shows up as latency instead of silently lowering the load.
    """
    out = SendOutcome(started=time.time())
    t0 = out.started
    end = time.monotonic() + duration
    n = len(senders)

    async def one(i: int, sender: Any) -> None:
        j = 0
        while time.monotonic() < end:
            if rate:
                at = t0 + (j * n + i) / rate
                delay = at - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                if time.monotonic() >= end:
                    return
                stamp = at
            else:
                stamp = time.time()
            j += 1
            began = time.perf_counter()
            try:
                await post(sender, body_for(phase, stamp))
            except QunzuAPIError as exc:
                out.errors[exc.code] += 1
                continue
            except Exception as exc:
                out.errors[type(exc).__name__] += 1
                await asyncio.sleep(0.05)
                continue
            out.ack_latencies.append(time.perf_counter() - began)
            out.acks += 1
            out.last_ack = time.time()

    await asyncio.gather(*(one(i, s) for i, s in enumerate(senders)))
    if not out.acks:
        out.last_ack = time.time()
    return out


class IngestReceiver:
    """One SDK EventStream on the ingest group, counting bench messages per phase."""

    def __init__(self, stream: EventStream) -> None:
        self.stream = stream
        self.counts: Counter[str] = Counter()
        self.latencies: dict[str, list[float]] = {}
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            frame = await self.stream.next_event()
            body = frame.get("body") or ""
            if frame.get("kind") == "message" and body.startswith("bench|"):
                _, phase, sent, _ = body.split("|", 3)
                self.counts[phase] += 1
                self.latencies.setdefault(phase, []).append(time.time() - float(sent))

    async def wait_for(self, phase: str, expected: int, timeout: float) -> int:
        seen, since = -1, time.monotonic()
        while self.counts[phase] < expected:
            if self.task is not None and self.task.done():
                self.task.result()
            if self.counts[phase] != seen:
                seen, since = self.counts[phase], time.monotonic()
            elif time.monotonic() - since > timeout:
                break
            await asyncio.sleep(0.05)
        return self.counts[phase]

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
        await self.stream.close()


async def http_post(group_id: int) -> Any:
    async def post(client: QunzuClient, body: str) -> None:
        await client.send(group_id, body, uuid.uuid4().hex)

    return post


class WsSender:
    """A member posting with the WebSocket ``send`` frame through the SDK's EventStream."""

    def __init__(self, stream: EventStream, group_id: int) -> None:
        self.stream, self.group_id = stream, group_id

    async def post(self, body: str) -> None:
        ref = await self.stream.send_message(self.group_id, body, uuid.uuid4().hex)
        while True:
            frame = await self.stream.recv(timeout=30)
            if frame.get("ref") != ref:
                continue  # the group's events (this socket is a member's stream too)
            if frame.get("type") == "ack":
                return
            if frame.get("type") == "error":
                raise QunzuAPIError(frame.get("status", 0), frame.get("code", "?"), "", frame)


async def ws_senders(
    clients: list[QunzuClient], group_id: int, compression: str | None = "deflate"
) -> list[WsSender]:
    """One SDK event stream per client, posting with the ``send`` frame."""
    senders = []
    for client in clients:
        stream = client.events(compression=compression)
        await stream.connect()
        senders.append(WsSender(stream, group_id))
    return senders


async def ws_post(sender: WsSender, body: str) -> None:
    await sender.post(body)


class BaselineSender:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def post(self, body: str) -> None:
        await self.ws.send(body)
        await self.ws.recv()  # the ack


# ---- phases --------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    meter: CpuMeter
    nproc: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    spy: PySpy | None = None  # when set, the next measured phase is profiled

    def spy_start(self, name: str) -> None:
        if self.spy is not None:
            self.spy.start(name, self.args.duration)

    def spy_stop(self) -> None:
        if self.spy is not None:
            self.spy.stop()

    async def quiet(self) -> float:
        """Before each measured phase, give other jobs on the box a chance to finish."""
        if self.args.phase_wait <= 0:
            return -1.0
        return await asyncio.to_thread(wait_quiet, self.args.phase_wait)

    def record(self, row: dict[str, Any]) -> dict[str, Any]:
        row["verdict"] = verdict(row["cpu"], self.nproc)
        srv = "server" if row["system"] == "qunzu" else "baseline"
        row["server_cpu_us_per_msg"] = cpu_us_per(row["cpu"], srv, row["messages"])
        row["server_cpu_us_per_delivery"] = cpu_us_per(row["cpu"], srv, row["delivered"])
        row["client_cpu_us_per_msg"] = cpu_us_per(row["cpu"], "bench", row["messages"])
        self.rows.append(row)
        print(f"  -> {summary_line(row)}", flush=True)
        return row

    async def ingest(
        self, world: World, receiver: IngestReceiver, k: int, via: str
    ) -> dict[str, Any]:
        phase = f"ingest-{via}-{k}"
        print(f"[{phase}] {k} senders over {via} for {self.args.duration:.0f}s", flush=True)
        senders = world.ingest_senders[:k]
        streams: list[EventStream] = []
        if via == "http":
            post = await http_post(world.ingest_group)
            targets: list[Any] = senders
        else:
            targets = await ws_senders(senders, world.ingest_group)
            streams = [t.stream for t in targets]
            post = ws_post
        busy_before = await self.quiet()
        self.spy_start(phase)
        a = self.meter.mark()
        out = await drive(targets, phase, self.args.duration, None, post)
        b = self.meter.mark()
        self.spy_stop()
        got = await receiver.wait_for(phase, out.acks, timeout=15)
        for s in streams:
            await s.close()
        lat = receiver.latencies.get(phase, [])
        return self.record(
            {
                "workload": "ingest",
                "system": "qunzu",
                "phase": phase,
                "transport": via,
                "senders": k,
                "receivers": 1,
                "duration_s": round(out.elapsed, 2),
                "messages": out.acks,
                "msgs_per_s": round(out.rate, 1),
                "errors": dict(out.errors),
                "ack_p50_ms": _ms(pct(out.ack_latencies, 0.5)),
                "ack_p99_ms": _ms(pct(out.ack_latencies, 0.99)),
                "delivered": got,
                "expected_deliveries": out.acks,
                "all_delivered": got == out.acks,
                "deliveries_per_s": None,
                "lat_p50_ms": _ms(pct(lat, 0.5)),
                "lat_p99_ms": _ms(pct(lat, 0.99)),
                "reconnects": receiver.stream.reconnects,
                "cpu": CpuMeter.between(a, b),
                "note": "ws senders also receive the group's events" if via == "ws" else "",
                "busy_before_pct": busy_before,
            }
        )

    async def fanout(
        self,
        system: str,
        receivers: ReceiverProc,
        n_receivers: int,
        senders: list[Any],
        post: Any,
        phase: str,
        duration: float,
        rate: float | None,
        record: bool = True,
        via: str = "ws",
    ) -> dict[str, Any]:
        load = "full" if rate is None else f"paced {rate:.0f} msg/s"
        busy_before = await self.quiet() if record else -1.0
        print(
            f"[{system} {phase}] {len(senders)} senders over {via}, {load}, {duration:.0f}s",
            flush=True,
        )
        self.spy_start(f"fanout-{phase}")
        a = self.meter.mark()
        out = await drive(senders, phase, duration, rate, post)
        self.spy_stop()
        expected = out.acks * n_receivers
        stats = await receivers.collect(phase, expected, timeout=10)
        b = self.meter.mark()
        elapsed = max(1e-6, (stats["last"] or out.last_ack) - out.started)
        row = {
            "workload": "fanout",
            "system": system,
            "phase": phase,
            "transport": via,
            "senders": len(senders),
            "receivers": n_receivers,
            "duration_s": round(elapsed, 2),
            "messages": out.acks,
            "msgs_per_s": round(out.rate, 1),
            "offered_rate": rate,
            "errors": dict(out.errors),
            "ack_p50_ms": _ms(pct(out.ack_latencies, 0.5)),
            "ack_p99_ms": _ms(pct(out.ack_latencies, 0.99)),
            "delivered": stats["count"],
            "expected_deliveries": expected,
            "all_delivered": stats["count"] == expected,
            "deliveries_per_s": round(stats["count"] / elapsed, 1),
            "delivered_msgs_per_s": round(stats["count"] / elapsed / n_receivers, 1),
            "lat_p50_ms": _ms(stats.get("p50")),
            "lat_p90_ms": _ms(stats.get("p90")),
            "lat_p99_ms": _ms(stats.get("p99")),
            "lat_p999_ms": _ms(stats.get("p99.9")),
            "lat_max_ms": _ms(stats.get("max")),
            "reconnects": stats.get("reconnects", 0),
            "close_codes": stats.get("close_codes", {}),
            "per_second": stats.get("series", []),
            "cpu": CpuMeter.between(a, b),
            "busy_before_pct": busy_before,
        }
        if not record:
            print(f"  (warm-up: {out.acks} msgs, {stats['count']} deliveries)", flush=True)
            return row
        return self.record(row)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def summary_line(row: dict[str, Any]) -> str:
    cpu = row["cpu"]
    cpus = " ".join(f"{k}={v:.0f}%" for k, v in cpu.items() if k != "wall_s")
    dps = row.get("deliveries_per_s")
    return (
        f"{row['msgs_per_s']:.0f} msg/s accepted, "
        + (f"{dps:.0f} deliveries/s, " if dps else "")
        + f"delivered {row['delivered']}/{row['expected_deliveries']}, "
        f"p50/p99 {row['lat_p50_ms']}/{row['lat_p99_ms']} ms; cpu {cpus}"
    )


# ---- profiling -----------------------------------------------------------------------------


class PySpy:
    """Sample the server with py-spy for one phase (collapsed stacks), if py-spy is present."""

    def __init__(self, out_dir: Path | None, pid: int) -> None:
        self.out_dir, self.pid = out_dir, pid
        self.exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.child: Child | None = None

    def start(self, name: str, duration: float) -> None:
        if self.out_dir is None:
            return
        if not Path(self.exe).exists():
            print("  (py-spy not found; pip install py-spy)", flush=True)
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            self.exe,
            "record",
            "-p",
            str(self.pid),
            "-d",
            str(int(duration)),
            "-r",
            "250",
            "-f",
            "raw",
            "-o",
            str(self.out_dir / f"{name}.txt"),
            "--nonblocking",
        ]
        self.child = Child("py-spy", argv, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.child is not None:
            try:
                self.child.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.child.stop()
            self.child = None


# ---- the run -------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    head = (
        "workload",
        "via",
        "senders",
        "msgs",
        "msg/s",
        "deliv/s",
        "delivered",
        "ack p50/p99",
        "deliv p50/p99 ms",
        "reconn",
        "srv us/msg",
        "us/deliv",
        "cpu srv/loop/bench/recv/other %",
        "mach",
    )
    lines = [head]
    for r in rows:
        c = r["cpu"]
        name = r["system"] + " " + r["phase"]
        lines.append(
            (
                name,
                r.get("transport") or "-",
                str(r["senders"]),
                str(r["messages"]),
                f"{r['msgs_per_s']:.0f}",
                "-" if r.get("deliveries_per_s") is None else f"{r['deliveries_per_s']:.0f}",
                f"{r['delivered']}/{r['expected_deliveries']}",
                f"{r['ack_p50_ms']}/{r['ack_p99_ms']}",
                f"{r['lat_p50_ms']}/{r['lat_p99_ms']}",
                str(r.get("reconnects", 0)),
                _num(r.get("server_cpu_us_per_msg")),
                _num(r.get("server_cpu_us_per_delivery")),
                "/".join(
                    "-" if c.get(k) is None else f"{c[k]:.0f}"
                    for k in (
                        ("server", "server loop") if r["system"] == "qunzu" else ("baseline",) * 2
                    )
                    + ("bench", "receivers", "others")
                ),
                f"{c['machine']:.0f}%",
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for n, line in enumerate(lines):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def server_argv(args: argparse.Namespace, port: int) -> list[str]:
    """``qunzu serve`` when the CLI is there (uvloop + httptools via uvicorn's "auto"),
    else bench/_serve.py, which pins the same choices explicitly."""
    cli = Path(sys.executable).parent / "qunzu"
    if args.launcher == "cli" and cli.exists():
        return [str(cli), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, str(HERE / "_serve.py"), "--port", str(port), "--ws", args.ws]


def source_state() -> dict[str, Any]:
    """Which code was measured (read-only git queries)."""
    root = HERE.parent

    def git(*argv: str) -> str:
        try:
            done = subprocess.run(
                ["git", *argv], cwd=root, capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return ""
        return done.stdout.strip()

    dirty = [line for line in git("status", "--porcelain", "--", "src").splitlines() if line]
    return {"commit": git("rev-parse", "--short", "HEAD"), "src_files_changed": len(dirty)}


async def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    info = machine_info()
    meter = CpuMeter()
    meter.watch("bench", os.getpid())
    bench = Bench(args, meter, info["nproc"])
    results: dict[str, Any] = {
        "command": command,
        "machine": info,
        "source": source_state(),
        "settings": vars_of(args),
    }
    children: list[Any] = []
    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-"))
    world: World | None = None
    receiver: IngestReceiver | None = None
    spy: PySpy | None = None
    try:
        # -- qunzu --------------------------------------------------------------------------
        port = free_port()
        rulebook = tmp / "bench-rulebook.toml"
        results["rulebook"] = bench_rulebook(rulebook)
        env = dict(os.environ)
        env.update(
            QUNZU_ENVIRONMENT="test",
            QUNZU_DATA_DIR=str(tmp / "data"),
            QUNZU_ARGON2_TIME_COST="1",
            QUNZU_ARGON2_MEMORY_KIB="64",
            QUNZU_ARGON2_PARALLELISM="1",
            QUNZU_LOG_LEVEL="warning",
        )
        if rulebook.exists():
            env["QUNZU_RULEBOOK_FILES"] = json.dumps([str(rulebook)])
        server = Child("qunzu server", server_argv(args, port), env=env)
        results["server_argv"] = server.argv
        children.append(server)
        url = f"http://127.0.0.1:{port}"
        wait_http(url + "/healthz", server)
        meter.watch("server", server.pid)
        spy = PySpy(args.py_spy, server.pid)
        print(f"qunzu server pid {server.pid} on {url}; building the world...", flush=True)
        t = time.monotonic()
        world = await build_world(url, args.members, max(args.ingest_senders))
        results["setup_s"] = round(time.monotonic() - t, 1)
        print(
            f"  {args.members + max(args.ingest_senders) + 2} accounts in {results['setup_s']}s",
            flush=True,
        )

        assert world.ingest_receiver is not None
        stream = world.ingest_receiver.events()
        await stream.connect()
        receiver = IngestReceiver(stream)
        receiver.start()
        for k in [] if "ingest" in args.skip else args.ingest_senders:
            bench.spy = spy if k == max(args.ingest_senders) else None
            await bench.ingest(world, receiver, k, "http")
        bench.spy = None
        if args.ws_ingest and "ingest" not in args.skip:
            await bench.ingest(world, receiver, min(args.ingest_senders), "ws")
        await receiver.stop()
        receiver = None
        if "fanout" in args.skip:
            results["rows"] = bench.rows
            results["goals"] = judge(bench.rows, None, None, None, None)
            return results

        recv = ReceiverProc(
            {
                "url": f"ws://127.0.0.1:{port}/v1/events",
                "mode": "qunzu",
                "tokens": [m.token for m in world.fan_members],
                "count": len(world.fan_members),
                "group_id": world.fan_group,
                "deflate": args.deflate,
            }
        )
        children.append(recv)
        print(f"  {await recv.ready()} receivers connected (pid {recv.child.pid})", flush=True)
        meter.watch("receivers", recv.child.pid)
        via = args.fanout_send
        fan_clients = world.fan_members[: args.fanout_senders]
        fan_senders: list[Any] = fan_clients
        post = await http_post(world.fan_group)
        if via == "ws":
            # Uncompressed, like the baseline's senders.
            fan_senders = await ws_senders(fan_clients, world.fan_group, compression=None)
            post = ws_post
        n = len(world.fan_members)
        fan = bench.fanout
        await fan("qunzu", recv, n, fan_senders, post, "warmup", 1.0, None, record=False, via=via)
        bench.spy = spy
        full = await fan("qunzu", recv, n, fan_senders, post, "full", args.duration, None, via=via)
        bench.spy = None
        # "Full-load rate" is what was delivered to everyone, not what was merely accepted.
        half_rate = max(1.0, min(full["msgs_per_s"], full["delivered_msgs_per_s"]) / 2)
        half = await fan(
            "qunzu", recv, n, fan_senders, post, "half", args.duration, half_rate, via=via
        )
        if via == "ws":
            for sender in fan_senders:
                await sender.stream.close()
        recv.stop()
        meter.forget("receivers")
        await world.close()
        world = None
        server.stop()
        meter.forget("server")
        meter.forget("server loop")

        # -- baseline -----------------------------------------------------------------------
        bfull = bhalf = None
        if "baseline" not in args.skip:
            bport = free_port()
            base = Child(
                "baseline server",
                [sys.executable, str(HERE / "baseline_server.py"), "--port", str(bport)],
                stdout=subprocess.DEVNULL,
            )
            children.append(base)
            wait_port(bport, base)
            meter.watch("baseline", base.pid)
            brecv = ReceiverProc(
                {
                    "url": f"ws://127.0.0.1:{bport}/recv",
                    "mode": "baseline",
                    "count": n,
                    "deflate": args.deflate,
                }
            )
            children.append(brecv)
            await brecv.ready()
            meter.watch("receivers", brecv.child.pid)
            sockets = [
                await connect(f"ws://127.0.0.1:{bport}/send", compression=None, max_size=2**20)
                for _ in range(args.fanout_senders)
            ]
            bsenders = [BaselineSender(ws) for ws in sockets]

            async def bpost(sender: BaselineSender, body: str) -> None:
                await sender.post(body)

            await bench.fanout("baseline", brecv, n, bsenders, bpost, "warmup", 1.0, None, False)
            bfull = await bench.fanout(
                "baseline", brecv, n, bsenders, bpost, "full", args.duration, None
            )
            bhalf = await bench.fanout(
                "baseline", brecv, n, bsenders, bpost, "half", args.duration, half_rate
            )
            for ws in sockets:
                await ws.close()

        results["rows"] = bench.rows
        results["goals"] = judge(bench.rows, full, half, bfull, bhalf)
        return results
    finally:
        if spy is not None and spy.child is not None:
            spy.child.stop()
        if receiver is not None:
            with contextlib.suppress(Exception):
                await receiver.stop()
        if world is not None:
            with contextlib.suppress(Exception):
                await world.close()
        for child in reversed(children):
            with contextlib.suppress(Exception):
                child.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def judge(
    rows: list[dict[str, Any]],
    full: dict[str, Any] | None,
    half: dict[str, Any] | None,
    bfull: dict[str, Any] | None,
    bhalf: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """PASS/FAIL per goal; ``pass`` is None when the run skipped what the goal needs."""
    goals: list[dict[str, Any]] = []
    # Both of the SDK's ways to post are judged; HTTP's client is the costlier one, and on
    # a 2-core box it shares the machine with the server (its CPU per request is shown).
    for transport, label in (("ws", "SDK WebSocket send"), ("http", "SDK HTTP POST")):
        ingest = [r for r in rows if r["workload"] == "ingest" and r["transport"] == transport]
        goal = f"ingest >= {GOALS['ingest_msgs_per_s']:.0f} msg/s ({label}, best K)"
        if not ingest:
            goals.append({"goal": goal, "value": "not measured", "pass": None})
            continue
        best = max(ingest, key=lambda r: r["msgs_per_s"])
        complete = all(r["all_delivered"] for r in ingest)
        client = best.get("client_cpu_us_per_msg")
        goals.append(
            {
                "goal": goal,
                "value": f"{best['msgs_per_s']:.0f} msg/s (K={best['senders']})"
                + (f"; client {client:.0f} us CPU/msg" if client else "")
                + ("" if complete else "; receiver MISSED messages"),
                "pass": best["msgs_per_s"] >= GOALS["ingest_msgs_per_s"] and complete,
            }
        )
    goal = f"fan-out >= {GOALS['fanout_ratio']:.0%} of baseline deliveries/s"
    if full is None or half is None:
        goals.append({"goal": goal, "value": "not measured (--skip fanout)", "pass": None})
        goal = f"p99 < {GOALS['p99_half_ms']:.0f} ms at half load"
        goals.append({"goal": goal, "value": "not measured (--skip fanout)", "pass": None})
        return goals
    if bfull is not None:
        ratio = full["deliveries_per_s"] / max(1e-9, bfull["deliveries_per_s"])
        goals.append(
            {
                "goal": goal,
                "value": f"{full['deliveries_per_s']:.0f} vs {bfull['deliveries_per_s']:.0f}"
                f" = {ratio:.1%}",
                "pass": ratio >= GOALS["fanout_ratio"],
            }
        )
    else:
        goals.append(
            {"goal": goal, "value": f"{full['deliveries_per_s']:.0f}/s, no baseline", "pass": None}
        )
    p99 = half["lat_p99_ms"]
    bp99 = bhalf["lat_p99_ms"] if bhalf is not None else None
    versus = f" (baseline {bp99} ms, x{(p99 or 0) / max(1e-9, bp99 or 0):.1f})" if bp99 else ""
    goals.append(
        {
            "goal": f"p99 < {GOALS['p99_half_ms']:.0f} ms at half load",
            "value": f"{p99} ms at {half['offered_rate']:.0f} msg/s{versus}"
            + ("" if half["all_delivered"] else "; deliveries MISSING"),
            "pass": p99 is not None and p99 < GOALS["p99_half_ms"] and half["all_delivered"],
        }
    )
    return goals


def vars_of(args: argparse.Namespace) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}


def report(results: dict[str, Any]) -> None:
    m = results["machine"]
    print()
    print("=" * 100)
    print(f"command : {results['command']}")
    print(
        f"machine : {m['nproc']} cores ({m['cpu_model']}), {m['mem_gib']} GiB, "
        f"{m['implementation']} {m['python']}, {m['platform']}"
    )
    print("packages: " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()))
    src = results["source"]
    print(f"source  : commit {src['commit']}, {src['src_files_changed']} uncommitted files in src/")
    print(f"server  : {' '.join(results.get('server_argv', []))}")
    print(f"rulebook: {results.get('rulebook')}")
    s = results["settings"]
    print(
        f"settings: {s['duration']:.0f}s per phase, {s['members']} fan-out members, "
        f"{s['fanout_senders']} fan-out senders over {s.get('fanout_send', 'http')}, "
        f"ingest K={s['ingest_senders']}, "
        f"setup {results.get('setup_s')}s"
    )
    print()
    print_table(results["rows"])
    print()
    print("cpu columns: % of ONE core; 'loop' = the server's event-loop thread alone,")
    print("             'other' = other jobs on the machine; 'mach' = % of all cores busy.")
    print("srv us/msg, us/deliv: server (or baseline) CPU time per accepted message and per")
    print("             delivery; less sensitive to other jobs than rates (not immune).")
    print("Who saturates, per row:")
    for r in results["rows"]:
        print(f"  {r['system']} {r['phase']}: {r['verdict']}")
        if r.get("errors"):
            print(f"    errors: {r['errors']}")
        if r.get("close_codes"):
            print(f"    receiver close codes: {r['close_codes']}")
    print()
    for g in results["goals"]:
        verdict_ = "SKIP" if g["pass"] is None else "PASS" if g["pass"] else "FAIL"
        print(f"{verdict_}  {g['goal']}: {g['value']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short phases, for a smoke run")
    parser.add_argument("--duration", type=float, help="seconds per measured phase (15)")
    parser.add_argument("--json", type=Path, help="write all results to this file")
    parser.add_argument("--members", type=int, default=100, help="fan-out group size (100)")
    parser.add_argument("--fanout-senders", type=int, default=8, help="fan-out senders (8)")
    parser.add_argument(
        "--ingest-senders",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[8, 32],
        help="comma-separated K values (8,32)",
    )
    parser.add_argument(
        "--no-ws-ingest",
        dest="ws_ingest",
        action="store_false",
        help="skip the ingest run over the WebSocket send frame",
    )
    parser.add_argument(
        "--fanout-send",
        choices=("ws", "http"),
        default="ws",
        help="how qunzu's fan-out senders post: the WebSocket send frame (ws, the default; "
        "the baseline's senders use WebSockets too) or POST /v1/groups/{id}/messages (http)",
    )
    parser.add_argument(
        "--deflate",
        action="store_true",
        help="receivers negotiate permessage-deflate (the SDK default)",
    )
    parser.add_argument(
        "--launcher",
        choices=("cli", "bench"),
        default="cli",
        help="start qunzu with `qunzu serve` (cli) or bench/_serve.py (bench)",
    )
    parser.add_argument("--ws", default="auto", help="uvicorn ws implementation (bench launcher)")
    parser.add_argument(
        "--py-spy",
        type=Path,
        metavar="DIR",
        help="record py-spy profiles of the server (ingest, fan-out) into DIR",
    )
    parser.add_argument(
        "--wait-quiet",
        type=float,
        metavar="S",
        help="wait up to S seconds for other jobs to finish (120; quick: 0)",
    )
    parser.add_argument(
        "--phase-wait",
        type=float,
        metavar="S",
        help="before each measured phase, wait up to S seconds for a quiet machine (60; quick: 0)",
    )
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run the bench and its children at this niceness, e.g. -10 on a shared box (root)",
    )
    parser.add_argument(
        "--skip",
        type=lambda s: set(filter(None, s.split(","))),
        default=set(),
        metavar="PARTS",
        help="comma-separated parts to leave out: ingest, fanout, baseline (goals then read SKIP)",
    )
    args = parser.parse_args()
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by every child process
    if args.phase_wait is None:
        args.phase_wait = 0.0 if args.quick else 60.0
    if args.wait_quiet is None:
        args.wait_quiet = 0.0 if args.quick else 120.0
    if args.duration is None:
        args.duration = 3.0 if args.quick else 15.0
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    idle_busy = wait_quiet(args.wait_quiet)
    if idle_busy >= 15:
        print(
            f"WARNING: the machine was {idle_busy:.0f}% busy before starting; "
            "other jobs will skew the figures (see the 'other' column)",
            flush=True,
        )
    # The load generator (SDK senders, for qunzu and the baseline alike) runs on uvloop,
    # as the receivers and the server do: on asyncio's own loop the SDK's HTTP client
    # costs about 15% more CPU per request, and this machine has two cores to share.
    results = uvloop.run(run(args, command))
    results["busy_before_start_pct"] = idle_busy
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nresults written to {args.json}")


if __name__ == "__main__":
    main()
