"""Launch a qunzu server for the benchmarks (until ``qunzu serve`` exists).

One uvicorn worker, uvloop + httptools, on 127.0.0.1. Every setting comes from
the ``QUNZU_*`` environment (data dir, argon2 costs, ...), exactly as the real
service reads it, so the benchmark exercises the production code path.

    QUNZU_DATA_DIR=/tmp/x python bench/_serve.py --port 8123
"""

from __future__ import annotations

import argparse

import uvicorn

from qunzu.api import create_app
from qunzu.api.ws_protocol import uvicorn_ws_options
from qunzu.config import Settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--ws", default=None, help="uvicorn WebSocket implementation (default QUNZU_WS_PROTOCOL)"
    )
    args = parser.parse_args()
    settings = Settings()
    uvicorn.run(
        create_app(settings),
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        **uvicorn_ws_options(args.ws or settings.ws_protocol, settings.ws_deflate),
        ws_max_size=2**20,
        lifespan="on",
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
