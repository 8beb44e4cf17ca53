"""Upload benchmark: 100 concurrent uploads of 5 MB images against a qunzu server
process, and text-message ingest before and after (the baseline, same run).

A benchmark, not a test. It starts ``qunzu serve`` (SQLite and the local blob store in a
temporary data directory; bench/fanout.py's launcher, rulebook with quotas out of reach,
cheap argon2) and measures:

idle      the server's resident memory (VmRSS) once its world is built;
ingest    K senders posting text messages over HTTP for a few seconds, as fast as acks
          come back (bench/fanout.py's ``drive``): the baseline, before any upload;
uploads   N uploads of ~5 MB JPEG photos, all started at once (each body streamed by
          httpx): throughput (uploads/s, MB/s), latency per upload, and the server's
          peak VmRSS sampled every 20 ms, against idle (the goal: under 100 MB growth,
          which only holds if bodies stream to disk);
thumbnail the server's image step (Pillow re-encode without metadata + thumbnail,
          qunzu.media.PillowMedia) timed per image in this process on the same file;
ingest    the same text ingest again after the uploads: the ratio to the baseline.

    python bench/uploads.py               # 100 uploads of 5 MB, ingest 5 s each side
    python bench/uploads.py --quick       # 20 uploads, ingest 2 s
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fanout import (
    Child,
    bench_rulebook,
    drive,
    free_port,
    http_post,
    make_user,
    pct,
    wait_http,
)

from qunzu.media import PillowMedia

MB = 1_000_000
GOAL_RSS_GROWTH_MB = 100.0


def photo(seed: int, target: int = 5 * MB) -> bytes:
    """A JPEG of noise of about ``target`` bytes (noise does not compress: a worst case)."""
    rnd = random.Random(seed)
    side = 1400
    while True:
        image = Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=92)
        if out.tell() >= target:
            return out.getvalue()
        side = int(side * (target / out.tell()) ** 0.5) + 16


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class RssSampler:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._task = pid, 0.0, None  # type: ignore[var-annotated]

    async def _run(self) -> None:
        while True:
            self.peak = max(self.peak, rss_mb(self.pid))
            await asyncio.sleep(0.02)

    def __enter__(self) -> RssSampler:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def ingest(url: str, group_id: int, senders: list[Any], seconds: float) -> dict[str, Any]:
    out = await drive(senders, "ingest", seconds, None, await http_post(group_id))
    lat = [s * 1000 for s in out.ack_latencies]
    return {
        "msgs_per_s": out.rate,
        "acks": out.acks,
        "errors": dict(out.errors),
        "p50_ms": pct(lat, 0.5),
        "p99_ms": pct(lat, 0.99),
    }


async def upload_all(url: str, tokens: list[str], images: list[bytes], n: int) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as http:

        async def one(i: int) -> float:
            # Trailing bytes make each body distinct on the wire; the decoder ignores them.
            body = images[i % len(images)] + i.to_bytes(4, "big")
            began = time.perf_counter()
            answer = await http.post(
                "/v1/uploads",
                params={"name": f"photo-{i}.jpg"},
                content=body,
                headers={
                    "authorization": f"Bearer {tokens[i % len(tokens)]}",
                    "content-type": "application/octet-stream",
                },
            )
            if answer.status_code != 201:
                raise RuntimeError(f"upload {i}: {answer.status_code} {answer.text[:200]}")
            return time.perf_counter() - began

        began = time.perf_counter()
        latencies = await asyncio.gather(*(one(i) for i in range(n)))
        wall = time.perf_counter() - began
    sent = sum(len(images[i % len(images)]) + 4 for i in range(n))
    return {
        "uploads": n,
        "wall_s": wall,
        "uploads_per_s": n / wall,
        "mb_per_s": sent / MB / wall,
        "p50_s": pct(list(latencies), 0.5),
        "p99_s": pct(list(latencies), 0.99),
    }


def thumbnail_times(image: bytes, reps: int) -> dict[str, float]:
    media = PillowMedia()
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo"
        path.write_bytes(image)
        for _ in range(reps):
            began = time.perf_counter()
            done = media.image(path, "image/jpeg", 40_000_000)
            times.append(time.perf_counter() - began)
            done.clean.unlink()
            done.thumbnail.unlink()
    times.sort()
    return {"p50_ms": times[len(times) // 2] * 1000, "max_ms": times[-1] * 1000}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="qunzu-bench-uploads-"))
    rulebook = tmp / "rulebook.toml"
    note = bench_rulebook(rulebook)
    port = free_port()
    env = {
        **os.environ,
        "QUNZU_ENVIRONMENT": "test",
        "QUNZU_DATA_DIR": str(tmp / "data"),
        "QUNZU_ARGON2_TIME_COST": "1",
        "QUNZU_ARGON2_MEMORY_KIB": "64",
        "QUNZU_ARGON2_PARALLELISM": "1",
        "QUNZU_LOG_LEVEL": "warning",
        "QUNZU_JOBS": "false",
        "QUNZU_RULEBOOK_FILES": json.dumps([str(rulebook)]),
    }
    # bench/_serve.py: one uvicorn worker, uvloop + httptools, as ``qunzu serve``; its pid
    # is the server's own (no launcher in between), so VmRSS is the server's.
    serve = str(Path(__file__).resolve().parent / "_serve.py")
    server = Child("qunzu", [sys.executable, serve, "--port", str(port)], env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/healthz", server)
        owner = await make_user(url, "owner")
        group = await owner.create_group("bench uploads", "interest", join_policy="open")
        senders = []
        for _ in range(args.senders):
            member = await make_user(url, "snd")
            await member.join(group["id"], group.get("rules_version") or None)
            senders.append(member)
        uploaders = [await make_user(url, "up") for _ in range(10)]
        tokens = [u.token for u in uploaders if u.token]
        photos = images = [photo(seed) for seed in range(4)]
        if args.files:  # the same bytes as a download: streaming alone, no image step
            images = [b"PK\x03\x04" + image[4:] for image in images]
        before = await ingest(url, group["id"], senders, args.seconds)
        await asyncio.sleep(1)
        idle = rss_mb(server.pid)
        with RssSampler(server.pid) as sampler:
            uploaded = await upload_all(url, tokens, images, args.uploads)
        after_uploads = rss_mb(server.pid)
        after = await ingest(url, group["id"], senders, args.seconds)
        for client in [owner, *senders, *uploaders]:
            await client.aclose()
    finally:
        server.stop()
    thumbs = thumbnail_times(photos[0], args.thumb_reps)
    return {
        "rulebook": note,
        "image_bytes": len(images[0]),
        "ingest_before": before,
        "uploads": uploaded,
        "thumbnail": thumbs,
        "rss_idle_mb": idle,
        "rss_peak_mb": sampler.peak,
        "rss_after_mb": after_uploads,
        "rss_growth_mb": sampler.peak - idle,
        "ingest_after": after,
        "ingest_ratio": after["msgs_per_s"] / max(before["msgs_per_s"], 1e-9),
    }


def report(r: dict[str, Any]) -> None:
    up, b, a, t = r["uploads"], r["ingest_before"], r["ingest_after"], r["thumbnail"]
    print(f"rulebook: {r['rulebook']}")
    print(f"image: {r['image_bytes'] / MB:.2f} MB JPEG (noise)")
    print(
        f"uploads: {up['uploads']} concurrent in {up['wall_s']:.1f} s: "
        f"{up['uploads_per_s']:.2f} uploads/s, {up['mb_per_s']:.1f} MB/s; "
        f"latency p50 {up['p50_s']:.1f} s, p99 {up['p99_s']:.1f} s"
    )
    print(
        "image step (re-encode + thumbnail) per image: "
        f"p50 {t['p50_ms']:.0f} ms, max {t['max_ms']:.0f} ms"
    )
    verdict = "ok" if r["rss_growth_mb"] < GOAL_RSS_GROWTH_MB else "OVER GOAL"
    print(
        f"server RSS: idle {r['rss_idle_mb']:.0f} MB, peak {r['rss_peak_mb']:.0f} MB, "
        f"growth {r['rss_growth_mb']:.0f} MB (goal < {GOAL_RSS_GROWTH_MB:.0f}: {verdict}); "
        f"after {r['rss_after_mb']:.0f} MB"
    )
    print(
        f"text ingest: before {b['msgs_per_s']:.0f} msg/s (p99 {b['p99_ms']:.1f} ms), "
        f"after {a['msgs_per_s']:.0f} msg/s (p99 {a['p99_ms']:.1f} ms): "
        f"ratio {r['ingest_ratio']:.2f}; errors {b['errors'] or 'none'} / {a['errors'] or 'none'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=100)
    parser.add_argument("--senders", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--thumb-reps", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--files", action="store_true", help="upload the bytes as plain files (no image step)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.uploads, args.seconds, args.thumb_reps = 20, 2.0, 2
    results = asyncio.run(run(args))
    report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
