"""The bad-upload corpus: each refused with a 4xx problem and a stable code, and nothing
half-stored (no blob, no row, no scratch file left behind)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import func, select

from qunzu.client import QunzuClient
from qunzu.storage import tables as t
from tests.factories import ctx_of, refused
from tests.media import image_bytes, jpeg_with_gps, png_bomb, polyglot
from tests.server import ServerThread

MIB = 1024 * 1024

OCTETS = "application/octet-stream"
JPEG, PNG = jpeg_with_gps(400, 300), image_bytes("PNG", 300, 300)
CORPUS = {
    "png declared, jpeg bytes": ("a.png", jpeg_with_gps(), "image/png", 415, "type_mismatch"),
    "jpeg declared, text bytes": (
        "a.jpg",
        b"plain text, no image",
        "image/jpeg",
        415,
        "type_mismatch",
    ),
    "audio declared, png bytes": ("a.ogg", image_bytes("PNG"), "audio/ogg", 415, "type_mismatch"),
    "truncated jpeg": (
        "cut.jpg",
        jpeg_with_gps(400, 300)[:700],
        "image/jpeg",
        400,
        "image_unreadable",
    ),
    "truncated png": (
        "cut.png",
        image_bytes("PNG", 300, 300)[:60],
        "image/png",
        400,
        "image_unreadable",
    ),
    "decompression bomb": ("bomb.png", png_bomb(), "image/png", 400, "image_too_many_pixels"),
    "polyglot gif and html": ("poly.gif", polyglot(), "image/gif", 400, "polyglot_image"),
    "zero bytes": ("empty.bin", b"", OCTETS, 400, "empty_upload"),
    "dot dot slash name": (
        "../../etc/passwd",
        b"x",
        "application/octet-stream",
        400,
        "bad_file_name",
    ),
    "rtl override name": (
        "photo\u202egpj.exe",
        b"x",
        "application/octet-stream",
        400,
        "bad_file_name",
    ),
    "backslash name": ("..\\boot.ini", b"x", OCTETS, 400, "bad_file_name"),
}


async def stored(server: ServerThread) -> tuple[int, int, int]:
    """(blobs, upload rows, scratch files) on the server."""
    wired = ctx_of(server).attachments
    assert wired is not None
    blobs = len(await server.acall(wired.blobs.keys))

    async def rows() -> int:
        async with server.app.state.qunzu.engine.connect() as conn:
            return int((await conn.execute(select(func.count()).select_from(t.uploads))).scalar())

    scratch = len(list(wired.scratch.glob("*"))) if wired.scratch.exists() else 0
    return blobs, await server.acall(rows), scratch


@pytest.mark.parametrize("case", sorted(CORPUS))
async def test_a_bad_upload_is_refused_and_leaves_nothing(
    server: ServerThread, alice: QunzuClient, case: str
) -> None:
    name, content, declared, status, code = CORPUS[case]
    before = await stored(server)
    refusal = await refused(alice.upload(name, content, declared))
    assert (refusal.status, refusal.code) == (status, code)
    assert await stored(server) == before


async def test_a_declared_length_past_the_cap_is_refused_before_the_body_is_read(
    server: ServerThread, alice: QunzuClient
) -> None:
    before = await stored(server)
    # A raw socket: HTTP clients refuse to declare more than they send.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(
        b"POST /v1/uploads?name=big.bin HTTP/1.1\r\nHost: test\r\n"
        + f"Authorization: Bearer {alice.token}\r\nContent-Length: {200 * MIB}\r\n\r\n".encode()
        + b"x" * 1024
    )
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    assert status_line.split()[1] == b"413"
    assert b"problem+json" in head
    assert await stored(server) == before


async def test_a_stream_past_the_cap_is_refused_once_the_cap_is_passed(
    server: ServerThread, alice: QunzuClient
) -> None:
    """No Content-Length (chunked): counted as it arrives, refused past the level's cap."""
    before = await stored(server)

    async def body() -> AsyncIterator[bytes]:
        for _ in range(110):  # 110 MiB offered: past the highest level's cap
            yield b"\0" * MIB

    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        try:
            answer = await http.post(
                "/v1/uploads",
                params={"name": "big.bin"},
                content=body(),
                headers={"authorization": f"Bearer {alice.token}"},
            )
        except httpx.HTTPError:
            answer = None  # the server may close the connection while we still send
    if answer is not None:
        assert (answer.status_code, answer.json()["code"]) == (413, "upload_too_large")
    assert await stored(server) == before


async def test_an_upload_without_a_name_is_a_validation_error(alice: QunzuClient) -> None:
    refusal = await refused(alice.request("POST", "/v1/uploads", content=b"x"))
    assert (refusal.status, refusal.code) == (422, "validation_error")


async def test_an_upload_without_a_token_is_refused(anon: QunzuClient) -> None:
    refusal = await refused(anon.upload("a.bin", b"x"))
    assert refusal.status == 401


async def test_a_forged_or_expired_link_is_refused(
    server: ServerThread, alice: QunzuClient
) -> None:
    up = await alice.upload("a.bin", b"content")
    link = up["links"]["content"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        forged = await http.get(link[:-4] + "0000")
        wrong_variant = await http.get(link.replace("/content?", "/thumbnail?"))
        unknown = await http.get(link.replace("/content?", "/secret?"))
    assert (forged.status_code, forged.json()["code"]) == (403, "bad_signature")
    assert wrong_variant.status_code == 403
    assert unknown.status_code == 403
