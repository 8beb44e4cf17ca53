"""moto's S3 server for the tests: started as a subprocess on a free port, unless
``QUNZU_TEST_S3_URL`` names a running S3-compatible endpoint."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server import free_port


def s3_endpoint_fixture(scope: Any = "module") -> Any:
    @pytest.fixture(scope=scope)
    def s3_endpoint() -> Iterator[str]:
        given = os.environ.get("QUNZU_TEST_S3_URL")
        if given:
            yield given
            return
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(url + "/moto-api/", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        pytest.fail("moto's S3 server did not start")
                    time.sleep(0.2)
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    return s3_endpoint
