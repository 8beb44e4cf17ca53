"""The web app: how long the server takes to render a group's page, and how long a
message takes from one browser to another. A benchmark, not a test.

render    Builds the app as ``qunzu serve`` does (SQLite in a temporary data dir),
          fills one group with N messages (100,000 by default; written in bulk with
          the storage tables, as a long-lived group would have them), and times
          ``GET /g/{id}`` (the newest 50, the composer, the cursors of the live
          stream) and ``GET /g/{id}?before=...`` (an older page) handed straight to
          the ASGI app: server time, no socket. Per request, p50 and p99 of wall time
          and of the process's CPU time (which a busy machine disturbs less).
browsers  A real server (uvicorn, one worker) and Debian's chromium through Playwright:
          two people with the group open; one sends, one message at a time, through
          the page's composer; the other's page records when the message appears in
          its timeline (a MutationObserver, on the same machine's clock). Send to
          display, p50 and p99, over 200 messages.

    python bench/web_pages.py                  # 100,000 messages, 200 sends
    python bench/web_pages.py -n 20000 --sends 100 --skip-browsers
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
PASSWORD = "bench password 1"
CHROMIUM = Path("/usr/bin/chromium")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def settings_for(tmp: Path) -> Any:
    import fanout

    from qunzu.config import Settings

    rulebook = tmp / "rulebook.toml"
    fanout.bench_rulebook(rulebook)
    return Settings(
        environment="test",
        data_dir=tmp / "data",
        argon2_time_cost=1,
        argon2_memory_kib=64,
        argon2_parallelism=1,
        rulebook_files=[str(rulebook)],
    )


async def person(ctx: Any, handle: str, n: int) -> tuple[Any, str]:
    from qunzu.domain.identity import make_resident_id
    from qunzu.services import agreement
    from qunzu.services.accounts import TokenKind, authenticate, do_login, do_register
    from qunzu.services.identity import do_submit_identity

    await do_register(ctx, handle, PASSWORD)
    # A web session (the cookie the pages read), as the log-in page starts one.
    issued = await do_login(ctx, handle, PASSWORD, "bench", TokenKind.web)
    token = issued.token  # type: ignore[union-attr]  # no second factor: a token
    actor = await authenticate(ctx, token, TokenKind.web)
    await do_submit_identity(
        ctx, actor, "张三", make_resident_id("310104", date(1990, 1, 1), n), "13800138000"
    )
    await agreement.do_accept_agreement(ctx, actor.id, agreement.agreement_in_force(ctx).version)
    return await authenticate(ctx, token, TokenKind.web), token


async def fill(app: Any, group_id: int, sender_id: int, n: int) -> int:
    """N messages in the group, in one transaction per 10,000 rows."""
    from sqlalchemy import select, update

    from qunzu.storage import tables as t

    engine = app.state.qunzu.engine
    async with engine.begin() as conn:
        last = (
            await conn.execute(select(t.groups.c.last_seq).where(t.groups.c.id == group_id))
        ).scalar_one()
    start = datetime.now(UTC) - timedelta(days=30)
    seq = last
    for chunk in range(0, n, 10_000):
        rows = []
        for i in range(chunk, min(n, chunk + 10_000)):
            seq += 1
            rows.append(
                {
                    "group_id": group_id,
                    "seq": seq,
                    "kind": "message",
                    "sender_id": sender_id,
                    "client_txn_id": f"fill-{i}",
                    "body": f"消息 {i}: 周末一起去爬山吗？",
                    "data": None,
                    "created_at": start + timedelta(seconds=i * 20),
                }
            )
        async with engine.begin() as conn:
            await conn.execute(t.timeline.insert(), rows)
    async with engine.begin() as conn:
        await conn.execute(update(t.groups).where(t.groups.c.id == group_id).values(last_seq=seq))
    return seq


async def get(app: Any, path: str, query: str, token: str) -> tuple[int, float]:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"cookie", f"qz_session={token}".encode())],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def respond(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    t0 = time.perf_counter()
    await app(scope, receive, respond)
    return status, (time.perf_counter() - t0) * 1000


def cpu_ms() -> float:
    return time.process_time() * 1000


async def render(n: int, requests: int) -> dict[str, Any]:
    from qunzu.api import create_app
    from qunzu.domain.models import GroupCategory
    from qunzu.services.groups import do_create_group

    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-web-"))
    app = create_app(settings_for(tmp))
    out: dict[str, Any] = {"messages": n}
    async with app.router.lifespan_context(app):
        ctx = app.state.qunzu.ctx
        owner, token = await person(ctx, "owner", 1)
        group = await do_create_group(ctx, owner, "bench", GroupCategory.interest, rules_text="ok")
        t0 = time.perf_counter()
        last = await fill(app, group.id, owner.id, n)
        out["fill_s"] = round(time.perf_counter() - t0, 1)
        for name, query in (("newest", ""), ("older", f"before={last // 2}")):
            statuses: set[int] = set()
            for _ in range(20):
                statuses.add((await get(app, f"/g/{group.id}", query, token))[0])
            times, cpu = [], []
            for _ in range(requests):
                c0 = cpu_ms()
                status, ms = await get(app, f"/g/{group.id}", query, token)
                cpu.append(cpu_ms() - c0)
                statuses.add(status)
                times.append(ms)
            out[name] = {
                "p50_ms": round(pct(times, 0.5), 2),
                "p99_ms": round(pct(times, 0.99), 2),
                "cpu_p50_ms": round(pct(cpu, 0.5), 2),
                "cpu_p99_ms": round(pct(cpu, 0.99), 2),
                "statuses": sorted(statuses),
            }
    return out


def browsers(sends: int) -> dict[str, Any]:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from qunzu.api import create_app
    from qunzu.domain.models import GroupCategory
    from qunzu.services.groups import do_create_group
    from qunzu.services.membership import do_accept_invitation, do_invite

    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-web-live-"))
    app = create_app(settings_for(tmp))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    loop_box: dict[str, Any] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        loop_box["loop"] = loop
        loop.run_until_complete(server.serve())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}"

    async def world() -> tuple[str, str, int]:
        ctx = app.state.qunzu.ctx
        a, token_a = await person(ctx, "alice", 2)
        b, token_b = await person(ctx, "bob", 3)
        group = await do_create_group(ctx, a, "live", GroupCategory.friends)
        invitation = await do_invite(ctx, a, group.id, "bob")
        await do_accept_invitation(ctx, b, invitation.id, None)
        return token_a, token_b, group.id

    token_a, token_b, gid = asyncio.run_coroutine_threadsafe(world(), loop_box["loop"]).result()
    latencies: list[float] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        pages = []
        for token in (token_a, token_b):
            context = browser.new_context()
            context.add_cookies([{"name": "qz_session", "value": token, "url": base}])
            page = context.new_page()
            page.goto(f"{base}/g/{gid}")
            pages.append(page)
        sender, receiver = pages
        receiver.evaluate(
            """() => {
                window.__seen = {};
                new MutationObserver(records => {
                  const at = performance.timeOrigin + performance.now();
                  for (const r of records) for (const n of r.addedNodes) {
                    const body = n.querySelector && n.querySelector('.body');
                    if (body) window.__seen[body.textContent] = at;
                  }
                }).observe(document.getElementById('timeline'), {childList: true});
            }"""
        )
        receiver.wait_for_timeout(500)  # the live stream is up
        for i in range(sends + 10):
            text = f"bench {i}"
            sent = sender.evaluate(
                """text => {
                    const area = document.getElementById('body');
                    area.value = text;
                    const at = performance.timeOrigin + performance.now();
                    document.getElementById('send-form').requestSubmit();
                    return at;
                }""",
                text,
            )
            receiver.wait_for_function("t => t in window.__seen", arg=text, timeout=10_000)
            seen = receiver.evaluate("t => window.__seen[t]", text)
            if i >= 10:  # the first few warm up the pages and the server
                latencies.append(seen - sent)
        browser.close()
    server.should_exit = True
    thread.join(timeout=10)
    return {
        "sends": len(latencies),
        "p50_ms": round(pct(latencies, 0.5), 1),
        "p99_ms": round(pct(latencies, 0.99), 1),
        "max_ms": round(max(latencies), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="messages in the group")
    parser.add_argument("--requests", type=int, default=500, help="page renders timed per row")
    parser.add_argument("--sends", type=int, default=200, help="messages between browsers")
    parser.add_argument("--skip-browsers", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(render(args.n, args.requests))
    print(f"group page with {result['messages']:,} messages (filled in {result['fill_s']} s)")
    for name in ("newest", "older"):
        r = result[name]
        print(
            f"  {name:7} wall p50 {r['p50_ms']:6.2f} ms  p99 {r['p99_ms']:6.2f} ms   "
            f"cpu p50 {r['cpu_p50_ms']:6.2f} ms  p99 {r['cpu_p99_ms']:6.2f} ms   {r['statuses']}"
        )
    if args.skip_browsers or not CHROMIUM.exists():
        print("browsers: skipped" + ("" if CHROMIUM.exists() else " (no /usr/bin/chromium)"))
        return
    live = browsers(args.sends)
    print(
        f"send to display, {live['sends']} messages: p50 {live['p50_ms']} ms, "
        f"p99 {live['p99_ms']} ms, max {live['max_ms']} ms"
    )


if __name__ == "__main__":
    main()
