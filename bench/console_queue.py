"""The console's review queue page with 100,000 open cases: server time. A benchmark, not
a test.

Generates the review benchmark's data set (bench/review_queue.py: C cases, about R
reports each, SQLite in a temporary data dir; the generation is not measured), builds the
app as ``qunzu serve`` does, logs a reviewer in, and hands ``GET /console/queue`` (the first
page, 50 cases, with its countdowns and claim forms) and two filtered pages straight to
the ASGI app: server time, no socket. The baseline, in the same run, is the service call
the page makes (``review.list_queue``, audited), so the ratio is the page's own cost.

    python bench/console_queue.py                 # 100,000 cases, 10 reports each
    python bench/console_queue.py --cases 10000 --requests 200
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import review_queue as rq  # noqa: E402 - the data set of the review benchmark
from web_pages import get  # noqa: E402 - an ASGI GET with the session cookie

PASSWORD = "bench password 1"
PAGES = {
    "queue": "",
    "queue_severe": "route=severe",
    "queue_category": f"category={rq.FILTER_CATEGORY}",
}


async def measure(settings: Any, requests: int) -> dict[str, Any]:
    from qunzu.api import create_app
    from qunzu.domain.models import PlatformRole
    from qunzu.domain.reports import QueueFilter
    from qunzu.services import review
    from qunzu.services.accounts import authenticate, do_create_platform_user, do_login
    from qunzu.services.actor import SYSTEM

    app = create_app(settings)
    out: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        ctx = app.state.qunzu.ctx
        await do_create_platform_user(
            ctx, SYSTEM, "benchreviewer", PASSWORD, PlatformRole.reviewer, "Bench reviewer"
        )
        token = (await do_login(ctx, "benchreviewer", PASSWORD)).token
        actor = await authenticate(ctx, token)

        async def service() -> list[Any]:
            return await review.list_queue(ctx, actor, QueueFilter(), limit=51)

        stats, _ = await rq.timed(service, requests, warmup=20)
        out["service"] = stats
        print(f"    {'list_queue':<16} {rq.fmt(stats)}", flush=True)
        for name, query in PAGES.items():
            statuses: set[int] = set()

            async def page(query: str = query, seen: set[int] = statuses) -> int:
                status, _ = await get(app, "/console/queue", query, token)
                seen.add(status)
                return status

            stats, _ = await rq.timed(page, requests, warmup=20)
            stats["statuses"] = sorted(statuses)
            out[name] = stats
            print(f"    {name:<16} {rq.fmt(stats)}  statuses {sorted(statuses)}", flush=True)
    return out


async def main_async(cases: int, per_case: int, requests: int) -> dict[str, Any]:
    from qunzu.bootstrap import migrate_database

    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-console-"))
    try:
        data_dir = tmp / "data"
        await migrate_database(rq.bench_settings(data_dir))
        shape = rq.Shape(cases, per_case, int(time.time()))
        print(f"generating {cases:,} cases ...", flush=True)
        t0 = time.perf_counter()
        rq.generate_sqlite(data_dir / "qunzu.db", shape)
        print(f"generated in {time.perf_counter() - t0:.1f}s", flush=True)
        return await measure(rq.bench_settings(data_dir), requests)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--reports", type=int, default=10)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", flush=True)
    out = asyncio.run(main_async(args.cases, args.reports, args.requests))
    base = out["service"]["p99"]
    for name in PAGES:
        st = out[name]
        verdict = "ok" if st["p99"] < 50 else "OVER the 50 ms goal"
        print(
            f"{name}: p50 {st['p50']:.2f} ms, p99 {st['p99']:.2f} ms "
            f"({st['p99'] / base:.1f}x the service call's p99 {base:.2f} ms): {verdict}"
        )


if __name__ == "__main__":
    main()
