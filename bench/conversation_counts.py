"""Unread and mention counts: how long ``GET /v1/me/groups`` takes when one of the
reader's groups holds 100,000 unread messages, a quarter of them mentioning the reader
and one in a thousand @all, against the same reader and group before the fill (the
baseline, in the same run). A benchmark, not a test.

Builds the app as ``qunzu serve`` does (SQLite in a temporary data dir), writes the
messages and their mention rows in bulk with the storage tables, and hands each
request straight to the ASGI app (server time, no socket): p50 and p99 of wall time.

    python bench/conversation_counts.py              # 100,000 messages
    python bench/conversation_counts.py -n 20000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from web_pages import fill, pct, person, settings_for


async def get(app: Any, path: str, token: str) -> tuple[int, float, bytes]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    status, body = 0, b""

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def respond(message: dict[str, Any]) -> None:
        nonlocal status, body
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    t0 = time.perf_counter()
    await app(scope, receive, respond)
    return status, (time.perf_counter() - t0) * 1000, body


async def mention_rows(
    app: Any, group_id: int, first: int, last: int, reader: int, sender: int
) -> None:
    from datetime import UTC, datetime

    from qunzu.storage import tables as t

    now = datetime.now(UTC)
    rows = [
        {
            "group_id": group_id,
            "account_id": reader if s % 1000 else 0,
            "seq": s,
            "sender_id": sender,
            "at": now,
        }
        for s in range(first, last + 1)
        if s % 4 == 0
    ]
    async with app.state.qunzu.engine.begin() as conn:
        for i in range(0, len(rows), 10_000):
            await conn.execute(t.message_mentions.insert(), rows[i : i + 10_000])


async def timed(app: Any, token: str, requests: int) -> dict[str, Any]:
    for _ in range(100):
        await get(app, "/v1/me/groups", token)
    times, statuses = [], set()
    for _ in range(requests):
        status, ms, body = await get(app, "/v1/me/groups", token)
        statuses.add(status)
        times.append(ms)
    groups = json.loads(body)
    return {
        "p50_ms": pct(times, 0.5),
        "p99_ms": pct(times, 0.99),
        "statuses": sorted(statuses),
        "counts": [(g["unread"], g["mentions"]) for g in groups],
    }


async def run(n: int, requests: int) -> dict[str, Any]:
    from qunzu.api import create_app
    from qunzu.domain.models import GroupCategory
    from qunzu.services.groups import do_create_group
    from qunzu.services.membership import do_accept_invitation, do_invite

    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-counts-"))
    app = create_app(settings_for(tmp))
    async with app.router.lifespan_context(app):
        ctx = app.state.qunzu.ctx
        owner, _ = await person(ctx, "owner", 1)
        reader, token = await person(ctx, "reader", 2)
        group = await do_create_group(ctx, owner, "bench", GroupCategory.interest, rules_text="ok")
        invitation = await do_invite(ctx, owner, group.id, "reader")
        await do_accept_invitation(ctx, reader, invitation.id, 1)
        baseline = await timed(app, token, requests)
        t0 = time.perf_counter()
        first = group.last_seq + 1
        last = await fill(app, group.id, owner.id, n)
        await mention_rows(app, group.id, first, last, reader.id, owner.id)
        fill_s = time.perf_counter() - t0
        full = await timed(app, token, requests)
    return {"messages": n, "fill_s": fill_s, "baseline": baseline, "full": full}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="unread messages in the group")
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    r = asyncio.run(run(args.n, args.requests))
    n, fill_s = r["messages"], r["fill_s"]
    print(f"GET /v1/me/groups, one group, {n:,} unread messages (filled in {fill_s:.1f} s)")
    for name in ("baseline", "full"):
        x = r[name]
        print(
            f"  {name:8} p50 {x['p50_ms']:6.2f} ms  p99 {x['p99_ms']:6.2f} ms  "
            f"(unread, mentions) {x['counts']}  {x['statuses']}"
        )
    print(
        f"  ratio full/baseline: p50 {r['full']['p50_ms'] / r['baseline']['p50_ms']:.2f}, "
        f"p99 {r['full']['p99_ms'] / r['baseline']['p99_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
