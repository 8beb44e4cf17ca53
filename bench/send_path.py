"""The message send path in one process, without sockets: where a send's CPU goes.

A benchmark, not a test. It builds the app as ``qunzu serve`` does (SQLite in a
temporary data dir, the packaged rulebook with the posting quotas raised out of reach,
as bench/fanout.py does), makes a verified member of a group, and times, in CPU
microseconds per call over N calls after a warm-up:

floor     the same SQL a send runs, with the same parameter conversion, straight on
          one ``sqlite3`` connection to the same file: BEGIN IMMEDIATE, the posting
          read, the seq UPDATE ... RETURNING, the INSERT, COMMIT. What SQLite itself
          costs a send.
send      ``messaging.do_send_message`` (the WebSocket ``send`` frame calls just this).
auth+send ``accounts.authenticate`` then ``do_send_message`` (what an HTTP request does
          in the service layer).
asgi      ``POST /v1/groups/{id}/messages`` handed straight to the ASGI app (FastAPI
          routing, middleware, dependencies, validation, serialisation; no uvicorn,
          no socket).

Each row also prints its ratio to the floor, measured in the same process (ratios
travel between machines better than microseconds do).

    python bench/send_path.py              # 5,000 calls per row
    python bench/send_path.py -n 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
PASSWORD = "bench password 1"


def cpu_us_per_call(fn: Callable[[int], None], n: int, start: int) -> float:
    t0 = time.process_time()
    for i in range(start, start + n):
        fn(i)
    return (time.process_time() - t0) / n * 1e6


async def acpu_us_per_call(fn: Callable[[int], Awaitable[Any]], n: int, start: int) -> float:
    t0 = time.process_time()
    for i in range(start, start + n):
        await fn(i)
    return (time.process_time() - t0) / n * 1e6


def sqlite_floor(db: Path, group_id: int, account_id: int, n: int) -> float:
    """The send's statements, as SQL text, on a plain sqlite3 connection to the same file."""
    from qunzu.storage.engine import make_engine
    from qunzu.storage.fastsql import plan_for
    from qunzu.storage.posting_repo import _POSTING_STATE
    from qunzu.storage.repositories import _INSERT_ENTRY, _NEXT_SEQ

    dialect = make_engine(f"sqlite:///{db}").dialect  # type: ignore[attr-defined]
    posting, next_seq, insert = (
        plan_for(s, dialect) for s in (_POSTING_STATE, _NEXT_SEQ, _INSERT_ENTRY)
    )
    assert posting and next_seq and insert
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    now = datetime.now(UTC)

    def one(i: int) -> None:
        txn = f"f{i}"
        conn.execute("BEGIN IMMEDIATE")
        found = conn.execute(
            posting.sql,
            posting.bind(
                {"group_id": group_id, "account_id": account_id, "client_txn_id": txn, "now": now}
            ),
        ).fetchall()
        assert found
        seq = conn.execute(next_seq.sql, next_seq.bind({"group_id": group_id})).fetchone()[0]
        values = {
            "group_id": group_id,
            "seq": seq,
            "kind": "message",
            "sender_id": account_id,
            "client_txn_id": txn,
            "body": "floor",
            "data": None,
            "created_at": now,
        }
        conn.execute(insert.sql, insert.bind({f"v_{k}": v for k, v in values.items()}))
        conn.execute("COMMIT")

    for i in range(200):
        one(i)
    try:
        return cpu_us_per_call(one, n, 1000)
    finally:
        conn.close()


async def measure(n: int) -> dict[str, Any]:
    import fanout

    from qunzu.api import create_app
    from qunzu.config import Settings
    from qunzu.domain.identity import make_resident_id
    from qunzu.domain.models import GroupCategory
    from qunzu.services import messaging
    from qunzu.services.accounts import authenticate, do_login, do_register
    from qunzu.services.groups import do_create_group
    from qunzu.services.identity import do_submit_identity

    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-send-"))
    rulebook = tmp / "rulebook.toml"
    fanout.bench_rulebook(rulebook)
    settings = Settings(
        environment="test",
        data_dir=tmp / "data",
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
        rulebook_files=[str(rulebook)],
    )
    app = create_app(settings)
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        ctx = app.state.qunzu.ctx
        await do_register(ctx, "sender", PASSWORD)
        token = (await do_login(ctx, "sender", PASSWORD)).token
        actor = await authenticate(ctx, token)
        resident = make_resident_id("310104", date(1990, 1, 1), 7)
        await do_submit_identity(ctx, actor, "张三", resident, "13800138000")
        actor = await authenticate(ctx, token)
        group = await do_create_group(ctx, actor, "bench", GroupCategory.friends)

        async def send(i: int) -> None:
            await messaging.do_send_message(ctx, actor, group.id, f"m {i}", f"s{i}")

        async def auth_send(i: int) -> None:
            who = await authenticate(ctx, token)
            await messaging.do_send_message(ctx, who, group.id, f"m {i}", f"a{i}")

        path = f"/v1/groups/{group.id}/messages"
        statuses: set[int] = set()

        async def asgi(i: int) -> None:
            body = json.dumps({"body": f"m {i}", "client_txn_id": f"h{i}"}).encode()
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"host", b"bench"),
                    (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {token}".encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
                "client": ("127.0.0.1", 1),
                "server": ("127.0.0.1", 80),
                "state": {},
            }
            messages = [{"type": "http.request", "body": body, "more_body": False}]

            async def receive() -> dict[str, Any]:
                return messages.pop() if messages else {"type": "http.disconnect"}

            async def respond(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses.add(message["status"])

            await app(scope, receive, respond)

        for name, fn in (("send", send), ("auth+send", auth_send), ("asgi", asgi)):
            for i in range(300):
                await fn(i)
            out[name] = await acpu_us_per_call(fn, n, 1000)
        out["asgi_statuses"] = sorted(statuses)
        try:
            out["floor"] = sqlite_floor(settings.data_dir / "qunzu.db", group.id, actor.id, n)
        except ImportError:  # a qunzu from before the posting read (PYTHONPATH=old/src)
            out["floor"] = None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="calls per row (5,000)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args()
    out = asyncio.run(measure(args.n))
    assert out["asgi_statuses"] == [201], out["asgi_statuses"]
    floor = out["floor"]
    print(f"{'row':<10} {'CPU us/call':>12} {'x floor':>8}")
    for name in ("floor", "send", "auth+send", "asgi"):
        if out[name] is None:
            print(f"{name:<10} {'-':>12} {'-':>8}")
            continue
        ratio = f"{out[name] / floor:8.1f}" if floor else f"{'-':>8}"
        print(f"{name:<10} {out[name]:>12.1f} {ratio}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
