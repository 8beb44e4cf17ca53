"""Account security against a real server process (``qunzu serve``): a flood of bad
log-ins, the throttles on the in-process and the Redis store, and tokens bound to their
kind (web session cookie vs API bearer token)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server import free_port

PASSWORD = "correct horse battery"
# Times GET /healthz every 20 ms until the file argv[2] exists; prints the count and the
# slowest answer in seconds.
_PROBE = """
import sys, time, pathlib, httpx
url, stop = sys.argv[1], pathlib.Path(sys.argv[2])
took = []
with httpx.Client(base_url=url, timeout=5) as c:
    while not stop.exists():
        t = time.perf_counter()
        assert c.get("/healthz").status_code == 200
        took.append(time.perf_counter() - t)
        time.sleep(0.02)
took.sort()
print(len(took), took[-1], took[len(took) // 2], sum(x > 0.1 for x in took), file=sys.stdout)
"""
_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


class ServerProcess:
    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        environ = {
            **os.environ,
            "QUNZU_ENVIRONMENT": "test",
            "QUNZU_DATA_DIR": str(data_dir),
            "QUNZU_JOBS": "false",
            "QUNZU_LOG_LEVEL": "warning",
            **env,
        }
        self.log = (data_dir / "server.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "qunzu.cli", "serve", "--port", str(self.port)],
            env=environ,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("the server did not start")

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


@pytest.fixture
def flood_server(tmp_path: Path) -> Iterator[ServerProcess]:
    # Real argon2 costs (64 MiB a hash): the point is what a flood of them does.
    server = ServerProcess(
        tmp_path,
        QUNZU_THROTTLE_LOGIN_ADDRESS="100000",
    )
    yield server
    server.stop()


def _register(url: str, handle: str) -> None:
    r = httpx.post(f"{url}/v1/accounts", json={"handle": handle, "password": PASSWORD})
    assert r.status_code == 201, r.text


async def test_200_concurrent_bad_log_ins_bound_memory_keep_healthz_fast_and_let_others_in(
    flood_server: ServerProcess, tmp_path: Path
) -> None:
    url = flood_server.url
    _register(url, "good_user")
    httpx.post(f"{url}/v1/sessions", json={"handle": "good_user", "password": PASSWORD})
    idle = flood_server.rss_bytes()
    peak = idle
    done = threading.Event()

    def watch_memory() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, flood_server.rss_bytes())
            time.sleep(0.02)

    limits = httpx.Limits(max_connections=300)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:

        async def bad(i: int) -> int:
            body = {"handle": f"nobody_{i}", "password": "wrong password"}
            return (await client.post("/v1/sessions", json=body)).status_code

        async def good() -> int:
            await asyncio.sleep(0.2)  # into the flood
            for _ in range(100):
                body = {"handle": "good_user", "password": PASSWORD}
                r = await client.post("/v1/sessions", json=body)
                if r.status_code != 503:
                    return r.status_code
                await asyncio.sleep(float(r.headers["retry-after"]) / 4)
            return 503

        # /healthz is timed from a process of its own: in this one the flood's client holds
        # the GIL and would add its own delays to what is measured.
        stop = tmp_path / "stop"
        quiet = _probe(url, tmp_path / "quiet", seconds=1.0)
        prober = subprocess.Popen(
            [sys.executable, "-c", _PROBE, url, str(stop)], stdout=subprocess.PIPE, text=True
        )
        time.sleep(0.5)  # the prober is up and probing
        watcher = threading.Thread(target=watch_memory)
        watcher.start()
        try:
            statuses, good_status = await asyncio.gather(
                asyncio.gather(*(bad(i) for i in range(200))), good()
            )
        finally:
            done.set()
            watcher.join()
            stop.touch()
            out, _ = prober.communicate(timeout=30)
    probes, slowest, median, over = (float(x) for x in out.split())

    print(
        f"\nflood: idle RSS {idle / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB; "
        f"{probes:.0f} /healthz: slowest {slowest * 1000:.1f} ms, median {median * 1000:.1f} ms, "
        f"{over:.0f} over 100 ms (without the flood: slowest "
        f"{quiet * 1000:.1f} ms); answers {sorted(set(statuses))}"
    )
    assert set(statuses) <= {401, 503}
    assert good_status == 201
    assert peak - idle < 300 * 2**20
    assert slowest < 0.1


def _probe(url: str, stop: Path, seconds: float) -> float:
    prober = subprocess.Popen(
        [sys.executable, "-c", _PROBE, url, str(stop)], stdout=subprocess.PIPE, text=True
    )
    time.sleep(0.5 + seconds)
    stop.touch()
    out, _ = prober.communicate(timeout=30)
    return float(out.split()[1])


@pytest.mark.parametrize("bus", ["memory", "redis"])
def test_repeated_bad_log_ins_get_429_with_retry_after_on_either_store(
    tmp_path: Path, bus: str
) -> None:
    env = {"QUNZU_ARGON2_TIME_COST": "1", "QUNZU_ARGON2_MEMORY_KIB": "64"}
    if bus == "redis":
        redis_url = os.environ.get("QUNZU_TEST_REDIS_URL")
        if not redis_url:
            pytest.skip("QUNZU_TEST_REDIS_URL is not set")
        env |= {"QUNZU_BUS_URL": redis_url, "QUNZU_BUS_NAMESPACE": f"t{uuid.uuid4().hex[:8]}"}
    server = ServerProcess(tmp_path, **env)
    try:
        _register(server.url, "alice")
        body = {"handle": "alice", "password": "wrong password"}
        codes = [httpx.post(f"{server.url}/v1/sessions", json=body) for _ in range(7)]
        assert [r.status_code for r in codes] == [401] * 6 + [429]
        assert codes[-1].json()["code"] == "login_throttled"
        assert int(codes[-1].headers["retry-after"]) >= 1
        if bus == "redis":
            import redis

            client = redis.Redis.from_url(env["QUNZU_BUS_URL"])
            keys = client.keys(env["QUNZU_BUS_NAMESPACE"] + ":throttle:*")
            assert keys, "the counters live in Redis"
            client.close()
    finally:
        server.stop()


def _web_login(url: str, handle: str) -> httpx.Client:
    browser = httpx.Client(base_url=url, follow_redirects=False)
    page = browser.get("/login")
    csrf = _CSRF.search(page.text)
    assert csrf is not None
    r = browser.post("/login", data={"handle": handle, "password": PASSWORD, "csrf": csrf.group(1)})
    assert r.status_code in (302, 303), r.text
    return browser


def test_a_web_cookie_is_not_a_bearer_token_and_a_bearer_token_is_not_a_cookie(
    tmp_path: Path,
) -> None:
    env = {"QUNZU_ARGON2_TIME_COST": "1", "QUNZU_ARGON2_MEMORY_KIB": "64"}
    server = ServerProcess(tmp_path, **env)
    try:
        _register(server.url, "alice")
        browser = _web_login(server.url, "alice")
        cookie = next(c.value for c in browser.cookies.jar if c.name == "qz_session")
        as_bearer = httpx.get(f"{server.url}/v1/me", headers={"Authorization": f"Bearer {cookie}"})
        assert as_bearer.status_code == 401
        assert as_bearer.json()["code"] == "token_invalid"
        page = browser.get("/me/devices")  # the cookie works as a cookie: no way to /login
        assert page.status_code == 200 or "/login" not in page.headers["location"]

        bearer = httpx.post(
            f"{server.url}/v1/sessions", json={"handle": "alice", "password": PASSWORD}
        ).json()["token"]
        assert (
            httpx.get(
                f"{server.url}/v1/me", headers={"Authorization": f"Bearer {bearer}"}
            ).status_code
            == 200
        )
        stranger = httpx.Client(base_url=server.url, cookies={"qz_session": bearer})
        page = stranger.get("/me/devices", follow_redirects=False)
        assert page.status_code in (302, 303) and "/login" in page.headers["location"]
        browser.close()
        stranger.close()
    finally:
        server.stop()
