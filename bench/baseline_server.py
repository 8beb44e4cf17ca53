"""The floor to compare qunzu against: a bare WebSocket broadcast server.

No storage, no authentication, no checks, no per-connection queues. Receivers
connect to ``/recv`` and only listen. Senders connect to ``/send``; each text
frame a sender sends is broadcast as-is to every receiver, then the sender gets
a tiny ack frame, so a sender can post "as fast as acknowledgements come back",
exactly like the qunzu workload. Runs on uvloop, like qunzu under uvicorn.

    python bench/baseline_server.py --port 8124
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve

ACK = '{"type": "ack"}'


async def main(host: str, port: int) -> None:
    receivers: set[ServerConnection] = set()

    async def handler(ws: ServerConnection) -> None:
        path = ws.request.path if ws.request else "/"
        if path.startswith("/recv"):
            receivers.add(ws)
            try:
                await ws.wait_closed()
            finally:
                receivers.discard(ws)
        elif path.startswith("/send"):
            async for message in ws:
                broadcast(receivers, message)
                await ws.send(ACK)
        else:
            await ws.close(code=4004, reason="use /recv or /send")

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(handler, host, port, max_size=2**20, compression=None):
        print(f"baseline listening on ws://{host}:{port}", flush=True)
        await stop


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvloop.run(main(args.host, args.port))
