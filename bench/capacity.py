"""Capacity of one node: idle WebSocket connections, memory, and delivery to a big group.

A benchmark, not a test. It builds its world in-process through the services (one
group of ``--members`` accounts, the other accounts in groups of 200, every account
with a token), then for each compression mode starts a fresh ``qunzu serve`` as a
separate process on that data and:

1. reads the server's RSS after a warm-up (20 connections opened and closed);
2. opens ``--connections`` idle WebSocket connections to ``/v1/events`` (one per
   account, spread over ``--client-procs`` processes of bare clients,
   ``bench/_idle_clients.py``) and reads the RSS again: memory per connection is the
   difference divided by the connections;
3. with every connection open, one sender posts ``--rate`` messages a second for
   ``--duration`` seconds to the big group over the WebSocket ``send`` frame: the
   latency of every delivery (receipt time minus the send time in the body), and per
   message the time until the last of its receivers had it;
4. closes them all, reads the RSS, and does connect-and-close ``--cycles`` times in
   all: the server's RSS after the last cycle against the first (connected and
   closed) shows whether anything stays behind.

Modes: ``plain`` (clients offer no compression) and ``deflate`` (clients offer
permessage-deflate as the SDK and browsers do; the server answers with what
``QUNZU_WS_DEFLATE`` allows). Goals: at most 32 KB per connection without
compression, growth at most 5% over the cycles, delivery p99 to all members under
250 ms. Every figure is printed with its ratio to the goal.

    python bench/capacity.py                          # quick: 2,000 connections, ~2 min
    python bench/capacity.py --connections 10000      # full run, about 5 min
    python bench/capacity.py --modes plain --cycles 1 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import uvloop
from websockets.asyncio.client import connect

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import fanout  # noqa: E402  (bench/ is not a package)

GOALS = {"kb_per_connection": 32.0, "cycle_growth_pct": 5.0, "p99_all_ms": 250.0}
PASSWORD = "bench password 1"
PAD = "x" * 64
IDLE_GROUP_SIZE = 200
# Few: memory freed by the warm-up is reused by the first connections measured after it.
WARM_UP = 20
BUCKET_S = 0.0005  # as in _idle_clients.py


# ---- the world, built in-process before any server runs ------------------------------------


@dataclass
class World:
    data_dir: Path
    rulebook: Path
    group_id: int
    sender_token: str
    member_tokens: list[str] = field(default_factory=list)  # in the big group
    idle_tokens: list[str] = field(default_factory=list)  # in groups of IDLE_GROUP_SIZE


def bench_settings(data_dir: Path, rulebook: Path) -> dict[str, str]:
    return {
        "QUNZU_ENVIRONMENT": "test",
        "QUNZU_DATA_DIR": str(data_dir),
        "QUNZU_ARGON2_TIME_COST": "1",
        "QUNZU_ARGON2_MEMORY_KIB": "64",
        "QUNZU_ARGON2_PARALLELISM": "1",
        "QUNZU_RULEBOOK_FILES": json.dumps([str(rulebook)]),
        "QUNZU_LOG_LEVEL": "warning",
        "QUNZU_JOBS": "false",  # no daily job wandering into the measurement
    }


async def build_world(tmp: Path, connections: int, members: int) -> World:
    from qunzu.bootstrap import build
    from qunzu.config import Settings
    from qunzu.domain.identity import make_resident_id
    from qunzu.domain.models import GroupCategory, JoinPolicy
    from qunzu.services.accounts import authenticate, do_login, do_register
    from qunzu.services.groups import do_create_group
    from qunzu.services.identity import do_submit_identity
    from qunzu.services.membership import do_join

    rulebook = tmp / "rulebook.toml"
    fanout.bench_rulebook(rulebook)
    data_dir = tmp / "data"
    env = bench_settings(data_dir, rulebook)
    settings = Settings(
        environment="test",
        data_dir=data_dir,
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
        rulebook_files=[rulebook],
        jobs=False,
    )
    assert env["QUNZU_DATA_DIR"] == str(settings.data_dir)
    app = build(settings)
    await app.start()
    ctx = app.ctx
    run = uuid.uuid4().hex[:6]

    async def account(n: int) -> tuple[Any, str]:
        handle = f"cap{run}_{n}"
        await do_register(ctx, handle, PASSWORD)
        issued = await do_login(ctx, handle, PASSWORD)
        return await authenticate(ctx, issued.token), issued.token

    try:
        owner, sender_token = await account(0)
        rid = make_resident_id("110101", date(1980, 1, 1), 7)
        await do_submit_identity(ctx, owner, "张三", rid, "13800138000")
        owner = await authenticate(ctx, sender_token)

        async def group(name: str) -> int:
            made = await do_create_group(
                ctx, owner, name, GroupCategory.community, join_policy=JoinPolicy.open
            )
            return made.id

        big = await group("capacity big group")
        world = World(data_dir, rulebook, big, sender_token)
        idle_group = 0
        t0 = time.monotonic()
        for n in range(1, connections + 1):
            actor, token = await account(n)
            if n <= members:
                await do_join(ctx, actor, big)
                world.member_tokens.append(token)
            else:
                if (n - members - 1) % IDLE_GROUP_SIZE == 0:
                    idle_group = await group(f"capacity idle {n}")
                await do_join(ctx, actor, idle_group)
                world.idle_tokens.append(token)
            if n % 2000 == 0:
                print(f"  {n} accounts ({time.monotonic() - t0:.0f}s)", flush=True)
    finally:
        await app.close()
    return world


# ---- processes -----------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


class ClientProc:
    """One bench/_idle_clients.py process, driven over its stdin/stdout."""

    def __init__(self, cfg: dict[str, Any], members: int) -> None:
        self.members = members  # how many of its tokens are in the big group
        self.child = fanout.Child(
            "idle clients",
            [sys.executable, str(HERE / "_idle_clients.py")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.say(json.dumps(cfg))

    def say(self, line: str) -> None:
        assert self.child.proc.stdin is not None
        self.child.proc.stdin.write(line + "\n")
        self.child.proc.stdin.flush()

    async def hear(self) -> str:
        assert self.child.proc.stdout is not None
        line = await asyncio.to_thread(self.child.proc.stdout.readline)
        if not line:
            raise RuntimeError(f"client process exited ({self.child.proc.poll()})")
        return line.strip()

    async def ask(self, line: str) -> str:
        self.say(line)
        return await self.hear()

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.say("QUIT")
            self.child.proc.wait(timeout=15)
        self.child.stop()


def client_procs(
    port: int, tokens: list[str], is_member: list[bool], procs: int, deflate: bool, first: int
) -> list[ClientProc]:
    out = []
    for p in range(procs):
        mine = tokens[p::procs]
        cfg = {
            "host": "127.0.0.1",
            "port": port,
            "path": "/v1/events",
            "tokens": mine,
            "deflate": deflate,
            "concurrency": 64,
            # Many loopback source addresses: three cycles of 10,000 connections would
            # otherwise run one address out of ephemeral ports (TIME_WAIT).
            "sources": [f"127.0.{first + p}.{i}" for i in range(2, 250)],
        }
        out.append(ClientProc(cfg, sum(is_member[p::procs])))
    return out


async def all_ask(procs: list[ClientProc], line: str) -> list[str]:
    return list(await asyncio.gather(*(p.ask(line) for p in procs)))


# ---- one mode ------------------------------------------------------------------------------


async def settle(pid: int, seconds: float = 3.0) -> int:
    """The server's RSS once it stopped moving (closes finish, buffers freed)."""
    await asyncio.sleep(seconds)
    last = rss_kib(pid)
    for _ in range(10):
        await asyncio.sleep(0.5)
        now = rss_kib(pid)
        if abs(now - last) < 64:
            return now
        last = now
    return last


async def send_at_rate(
    url: str, token: str, group_id: int, rate: float, duration: float
) -> tuple[int, int]:
    """Post ``rate`` messages a second (open loop); returns (sent, acknowledged)."""
    acked = 0
    async with connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, compression=None
    ) as ws:

        async def read() -> None:
            nonlocal acked
            async for raw in ws:
                if isinstance(raw, str) and raw.startswith('{"type": "ack"'):
                    acked += 1
                elif isinstance(raw, str) and raw.startswith('{"type": "error"'):
                    print(f"  sender error: {raw[:200]}", flush=True)

        reader = asyncio.create_task(read())
        total = int(rate * duration)
        start = time.monotonic() + 0.5
        txn = uuid.uuid4().hex[:8]
        for i in range(total):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            body = f"cap|{i}|{time.time():.6f}|{PAD}"
            frame = {
                "type": "send",
                "group_id": group_id,
                "body": body,
                "client_txn_id": f"cap-{txn}-{i}",
                "ref": i,
            }
            await ws.send(json.dumps(frame))
        for _ in range(100):
            if acked >= total:
                break
            await asyncio.sleep(0.1)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
    return total, acked


def merge_latency(parts: list[dict[str, Any]], receivers: int, sent: int) -> dict[str, Any]:
    hist: dict[int, int] = {}
    per_msg: dict[int, list[float]] = {}
    count = 0
    for part in parts:
        count += part["count"]
        for bucket, n in part["hist"].items():
            hist[int(bucket)] = hist.get(int(bucket), 0) + n
        for number, (n, latest) in part["per_msg"].items():
            seen = per_msg.setdefault(int(number), [0, 0.0])
            seen[0] += n
            seen[1] = max(seen[1], latest)

    def pct(q: float) -> float | None:
        seen, rank = 0, q * count
        for bucket in sorted(hist):
            seen += hist[bucket]
            if seen >= rank:
                return round((bucket + 0.5) * BUCKET_S * 1000, 1)
        return None

    to_all = sorted(latest for n, latest in per_msg.values() if n >= receivers)
    complete = len(to_all)

    def pct_all(q: float) -> float | None:
        if not to_all or complete < sent:
            return None
        return round(to_all[min(len(to_all) - 1, int(q * len(to_all)))] * 1000, 1)

    return {
        "sent": sent,
        "receivers": receivers,
        "deliveries": count,
        "expected": sent * receivers,
        "messages_to_all": complete,
        "p50_ms": pct(0.5),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
        "all_p50_ms": pct_all(0.5),
        "all_p99_ms": pct_all(0.99),
        "all_max_ms": round(to_all[-1] * 1000, 1) if to_all else None,
    }


async def run_mode(args: argparse.Namespace, world: World, mode: str, index: int) -> dict[str, Any]:
    port = fanout.free_port()
    env = dict(os.environ)
    env.update(bench_settings(world.data_dir, world.rulebook))
    env.update(dict(kv.split("=", 1) for kv in args.server_env))
    argv = [
        sys.executable,
        "-c",
        "from qunzu.cli import main; main()",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    server = fanout.Child("qunzu server", argv, env=env)
    procs: list[ClientProc] = []
    out: dict[str, Any] = {"mode": mode, "server_argv": argv[3:], "cycles": []}
    deflate = mode == "deflate"
    try:
        fanout.wait_http(f"http://127.0.0.1:{port}/healthz", server)
        pid = server.pid
        tokens = world.member_tokens + world.idle_tokens
        is_member = [True] * len(world.member_tokens) + [False] * len(world.idle_tokens)
        # Warm-up: a few connections opened and closed, so that lazily built
        # things (imports, caches, the first statements) are in the baseline.
        warm = client_procs(
            port, tokens[:WARM_UP], is_member[:WARM_UP], 1, deflate, 200 + index * 10
        )
        procs += warm
        print(f"  [{mode}] warm-up: {(await all_ask(warm, 'CONNECT'))[0]}", flush=True)
        print(f"  [{mode}] warm-up: {(await all_ask(warm, 'CLOSE'))[0]}", flush=True)
        base = await settle(pid)
        out["rss_base_kib"] = base
        first = 1 + index * (args.client_procs + 1)
        procs += client_procs(port, tokens, is_member, args.client_procs, deflate, first)
        clients = procs[len(warm) :]
        for cycle in range(1, args.cycles + 1):
            row: dict[str, Any] = {"cycle": cycle}
            t = time.monotonic()
            said = await all_ask(clients, "CONNECT")
            row["connected"] = sum(int(s.split()[1]) for s in said)
            row["failed"] = sum(int(s.split()[2]) for s in said)
            row["connect_s"] = round(time.monotonic() - t, 1)
            row["rss_open_kib"] = await settle(pid)
            print(
                f"  [{mode}] cycle {cycle}: {row['connected']} connected "
                f"({row['failed']} failed) in {row['connect_s']}s; "
                f"RSS {row['rss_open_kib'] / 1024:.1f} MiB",
                flush=True,
            )
            if cycle == 1:
                out["kb_per_connection"] = round(
                    (row["rss_open_kib"] - base) * 1.024 / max(1, row["connected"]), 1
                )
                if args.duration > 0:
                    sent, acked = await send_at_rate(
                        f"ws://127.0.0.1:{port}/v1/events",
                        world.sender_token,
                        world.group_id,
                        args.rate,
                        args.duration,
                    )
                    parts = await asyncio.gather(
                        *(p.ask(f"COLLECT {sent * p.members} 30") for p in clients)
                    )
                    lat = merge_latency(
                        [json.loads(x) for x in parts], sum(p.members for p in clients), sent
                    )
                    lat["acked"] = acked
                    out["delivery"] = lat
                    print(
                        f"  [{mode}] {sent} messages ({acked} acked) to {lat['receivers']}: "
                        f"{lat['deliveries']}/{lat['expected']} deliveries, p50/p99 "
                        f"{lat['p50_ms']}/{lat['p99_ms']} ms; to all: p50/p99/max "
                        f"{lat['all_p50_ms']}/{lat['all_p99_ms']}/{lat['all_max_ms']} ms",
                        flush=True,
                    )
                    row["rss_after_send_kib"] = rss_kib(pid)
            t = time.monotonic()
            said = await all_ask(clients, "CLOSE")
            row["close_s"] = round(time.monotonic() - t, 1)
            row["rss_closed_kib"] = await settle(pid)
            print(
                f"  [{mode}] cycle {cycle}: closed in {row['close_s']}s; "
                f"RSS {row['rss_closed_kib'] / 1024:.1f} MiB",
                flush=True,
            )
            out["cycles"].append(row)
        c1, cn = out["cycles"][0], out["cycles"][-1]
        out["growth_open_pct"] = round(100 * (cn["rss_open_kib"] / c1["rss_open_kib"] - 1), 2)
        out["growth_closed_pct"] = round(100 * (cn["rss_closed_kib"] / c1["rss_closed_kib"] - 1), 2)
    finally:
        for p in procs:
            p.stop()
        server.stop()
    return out


# ---- report --------------------------------------------------------------------------------


def ratio(value: float | None, goal: float) -> str:
    return "n/a" if value is None else f"{value / goal:.2f}x the goal"


def report(results: dict[str, Any]) -> None:
    print()
    print("=" * 96)
    print(f"command : {results['command']}")
    m = results["machine"]
    print(
        f"machine : {m['nproc']} cores ({m['cpu_model']}), {m['mem_gib']} GiB, Python {m['python']}"
    )
    print(f"source  : commit {results['source']['commit']}")
    print(
        f"world   : {results['connections']} accounts, one connection each; big group of "
        f"{results['members']}; setup {results['setup_s']}s"
    )
    for mode in results["modes"]:
        print()
        print(f"-- {mode['mode']} (server: {' '.join(mode['server_argv'])})")
        kb = mode.get("kb_per_connection")
        verdict = "" if mode["mode"] != "plain" else f"  [goal <= 32 KB: {ratio(kb, 32.0)}]"
        base = mode["rss_base_kib"] / 1024
        print(f"   memory per connection : {kb} KB (RSS base {base:.1f} MiB){verdict}")
        for c in mode["cycles"]:
            print(
                f"   cycle {c['cycle']}: {c['connected']} open -> "
                f"RSS {c['rss_open_kib'] / 1024:.1f} MiB;"
                f" closed -> {c['rss_closed_kib'] / 1024:.1f} MiB"
                f" (connect {c['connect_s']}s, close {c['close_s']}s)"
            )
        print(
            f"   growth over {len(mode['cycles'])} cycles: open {mode['growth_open_pct']}%, "
            f"closed {mode['growth_closed_pct']}%  [goal <= 5%: "
            f"{ratio(max(mode['growth_open_pct'], mode['growth_closed_pct'], 0.0), 5.0)}]"
        )
        d = mode.get("delivery")
        if d:
            print(
                f"   delivery, {d['sent']} msgs at {results['rate']}/s to {d['receivers']}: "
                f"{d['deliveries']}/{d['expected']} delivered; each p50/p99/max "
                f"{d['p50_ms']}/{d['p99_ms']}/{d['max_ms']} ms"
            )
            print(
                f"   to all {d['receivers']}: p50/p99/max {d['all_p50_ms']}/{d['all_p99_ms']}/"
                f"{d['all_max_ms']} ms  [goal p99 < 250 ms: {ratio(d['all_p99_ms'], 250.0)}]"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=2000, help="idle connections (2000)")
    parser.add_argument("--members", type=int, default=2000, help="big group's receivers (2000)")
    parser.add_argument("--rate", type=float, default=10.0, help="messages a second (10)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of sending (20)")
    parser.add_argument("--cycles", type=int, default=3, help="connect-and-close cycles (3)")
    parser.add_argument("--client-procs", type=int, default=2, help="client processes (2)")
    parser.add_argument(
        "--modes",
        type=lambda s: [m for m in s.split(",") if m],
        default=["plain", "deflate"],
        help="plain, deflate (both)",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="K=V",
        help="extra QUNZU_* setting for the server, e.g. QUNZU_WS_DEFLATE=off (repeatable)",
    )
    parser.add_argument("--json", type=Path, help="write all results to this file")
    args = parser.parse_args()
    args.members = min(args.members, args.connections)
    command = " ".join(shlex.quote(a) for a in [Path(sys.executable).name, *sys.argv])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = args.connections + 1000
    if soft < need:  # inherited by the server and the clients
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
    tmp = Path(tempfile.mkdtemp(prefix="qunzu-capacity-"))
    results: dict[str, Any] = {
        "command": command,
        "machine": fanout.machine_info(),
        "source": fanout.source_state(),
        "connections": args.connections,
        "members": args.members,
        "rate": args.rate,
        "modes": [],
    }
    try:
        print(f"building {args.connections} accounts...", flush=True)
        t = time.monotonic()
        world = uvloop.run(build_world(tmp, args.connections, args.members))
        results["setup_s"] = round(time.monotonic() - t, 1)
        for index, mode in enumerate(args.modes):
            results["modes"].append(uvloop.run(run_mode(args, world, mode, index)))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        print(f"\nresults written to {args.json}")


if __name__ == "__main__":
    main()
