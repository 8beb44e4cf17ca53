"""Summarise a py-spy "raw" (collapsed stacks) profile: where does the server's time go?

    py-spy record -p PID -d 15 -f raw -o ingest.txt     # or: bench/fanout.py --py-spy DIR
    python bench/profile_top.py ingest.txt

Prints the top functions by self time, the top functions by inclusive time,
and the share of samples that pass through a few layers (SQLAlchemy, aiosqlite,
JSON, pydantic, argon2, the WebSocket stack...). Line numbers are dropped so
that one function is one row.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r":\d+\)$")

LAYERS = {
    "SQLAlchemy (all of it, incl. waiting on aiosqlite)": ("sqlalchemy/",),
    "aiosqlite / sqlite3 worker thread": ("aiosqlite/",),
    "argon2 / password hashing": ("argon2",),
    "json encode/decode": ("json/",),
    "pydantic validation/serialisation": ("pydantic", "fastapi/_compat", "serialize_response"),
    "FastAPI/Starlette routing + middleware": ("fastapi/", "starlette/"),
    "qunzu middleware (metrics, body limit)": ("qunzu/api/metrics.py", "qunzu/api/middleware.py"),
    "authentication (token lookup)": ("authenticate (qunzu",),
    "qunzu services": ("qunzu/services/",),
    "qunzu storage (repositories, uow)": ("qunzu/storage/",),
    "WebSocket send path (uvicorn ws + websockets)": (
        "uvicorn/protocols/websockets",
        "websockets/",
    ),
    "event fan-out (Hub / LiveStream)": ("qunzu/api/realtime.py",),
    "uvicorn http (httptools)": ("uvicorn/protocols/http",),
}


# Exclusive attribution: each sample goes to the first bucket matching its frames,
# walking from the leaf (where the time is spent) towards the root.
BUCKETS = (
    ("argon2", ("argon2",)),
    ("prometheus_client (metrics)", ("prometheus_client/",)),
    ("json", ("json/",)),
    ("pydantic", ("pydantic/", "pydantic_core")),
    ("SQLAlchemy Core (compile, execute, results)", ("sqlalchemy/",)),
    ("aiosqlite / sqlite3", ("aiosqlite/", "sqlite3/")),
    ("qunzu storage", ("qunzu/storage/",)),
    ("qunzu domain", ("qunzu/domain/",)),
    ("qunzu services", ("qunzu/services/",)),
    ("qunzu realtime (Hub, LiveStream)", ("qunzu/api/realtime.py", "qunzu/bus/")),
    ("qunzu api (routes, deps, middleware)", ("qunzu/api/",)),
    ("uvicorn websocket protocol (incl. socket writes)", ("uvicorn/protocols/websockets",)),
    ("websockets library (frames)", ("websockets/",)),
    ("uvicorn http protocol (httptools, incl. socket writes)", ("uvicorn/protocols/http",)),
    ("FastAPI / Starlette", ("fastapi/", "starlette/")),
    ("thread pool hand-offs (anyio / to_thread)", ("anyio/", "threading.py", "concurrent/")),
    ("asyncio / uvloop machinery", ("asyncio/",)),
)


def bucket_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in BUCKETS:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def frames_of(stack: str) -> list[str]:
    return [_LINE.sub(")", f) for f in stack.split(";")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()

    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    layers: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    total = 0
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = frames_of(stack)
        self_time[frames[-1]] += n
        buckets[bucket_of(frames)] += n
        for f in set(frames):
            inclusive[f] += n
        for name, needles in LAYERS.items():
            if any(needle in stack for needle in needles):
                layers[name] += n

    def share(n: int) -> str:
        return f"{100 * n / max(1, total):5.1f}%"

    print(f"{args.profile}: {total} samples (all threads, idle excluded)\n")
    print("where the time is spent (exclusive, by the innermost recognised layer):")
    for name, n in buckets.most_common():
        print(f"  {share(n)}  {name}")
    print("\nshare of samples passing through (overlapping):")
    for name, n in layers.most_common():
        print(f"  {share(n)}  {name}")
    print(f"\ntop {args.top} by self time:")
    for f, n in self_time.most_common(args.top):
        print(f"  {share(n)}  {f}")
    print(f"\ntop {args.top} qunzu functions by inclusive time:")
    shown = 0
    for f, n in inclusive.most_common():
        if "qunzu/" in f:
            print(f"  {share(n)}  {f}")
            shown += 1
            if shown >= args.top:
                break


if __name__ == "__main__":
    main()
