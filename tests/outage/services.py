"""Private PostgreSQL, Redis and NATS servers that a test may stop and start again.

Each one runs on a free local port of its own, from a temporary directory, so the
machine's shared servers (which other people use) are never touched. A server is
restarted on the same port, so clients that keep their URL reconnect to it.

The binaries are looked up on PATH (and PostgreSQL's under /usr/lib/postgresql);
when one is missing, ``require`` skips the test and says which.
PostgreSQL refuses to run as root: as root, its commands run as the ``postgres``
user (``runuser``), in a directory that user owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.server import free_port

START_TIMEOUT = 15.0
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


def _wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server on port {port} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port} after {timeout:.0f}s")


class _Process:
    """A server run as a child process: ``stop`` kills it, ``start`` runs it again."""

    name = "server"

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.dir = Path(tempfile.mkdtemp(prefix=f"qunzu-outage-{self.name}-"))

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        assert self.proc is None, "already running"
        log = (self.dir / "server.log").open("ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=log, cwd=self.dir)
        log.close()
        _wait_for_port(self.port, self.proc, START_TIMEOUT)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.kill()  # an outage, not a shutdown: no goodbye to the clients
        proc.wait(10)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisServer(_Process):
    name = "redis"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
            "--dir",
            str(self.dir),
        ]


class NatsServer(_Process):
    name = "nats"

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        return [binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.dir)]


def _pg_bin() -> Path | None:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    candidates = sorted(glob.glob(PG_BIN_GLOB))
    return Path(candidates[-1]) if candidates else None


class PostgresServer:
    """A throw-away cluster (``initdb``), started and stopped with ``pg_ctl``."""

    def __init__(self) -> None:
        bin_dir = _pg_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="qunzu-outage-pg-"))
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.dir, user.pw_uid, user.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self.running = False

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self._as, str(self.bin / tool), *args],
            check=True,
            capture_output=True,
            cwd=self.dir,
            timeout=60,
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.dir}"
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        log = str(self.dir / "log")
        self._run("pg_ctl", "-D", str(self.data), "-l", log, "-o", options, "-w", "start")
        self.running = True
        _wait_for_port(self.port, None, START_TIMEOUT)

    def stop(self) -> None:
        """A fast shutdown: open sessions are ended, and nothing new is let in."""
        if self.running:
            self.running = False
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def cleanup(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def missing(service: str) -> str | None:
    """Why ``service`` cannot run here, or None when it can."""
    if service == "redis":
        return None if shutil.which("redis-server") else "redis-server is not installed"
    if service == "nats":
        found = shutil.which("nats-server") or os.path.exists("/usr/sbin/nats-server")
        return None if found else "nats-server is not installed"
    if service == "postgres":
        if _pg_bin() is None:
            return "PostgreSQL's initdb/pg_ctl are not installed"
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return "running as root and there is no postgres user to run PostgreSQL as"
            if shutil.which("runuser") is None:
                return "running as root and runuser is not installed"
        return None
    raise ValueError(service)


def require(service: str) -> None:
    reason = missing(service)
    if reason is not None:
        pytest.skip(f"outage test needs a private {service} server: {reason}")
