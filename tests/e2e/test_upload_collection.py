"""Uploads no message references are collected once the rulebook's hours have passed
(the ``uploads_collect`` job), with their content unless another upload shares it."""

from __future__ import annotations

from datetime import timedelta

import httpx

from qunzu.bootstrap import UPLOADS_COLLECT
from qunzu.services import attachments, jobs
from qunzu.services.jobs import LocalJobLocks
from tests.factories import People, clock_of, ctx_of, make_group, refused
from tests.media import image_bytes
from tests.server import ServerThread


async def test_an_unreferenced_upload_goes_after_a_day_and_a_referenced_one_stays(
    clocked_server: ServerThread, people: People
) -> None:
    alice = await people.user("gc")
    group = await make_group(alice)
    kept = await alice.upload("kept.png", image_bytes("PNG", 51, 51), "image/png")
    await alice.send(group["id"], "kept", attachments=[kept["id"]])
    dropped = await alice.upload("dropped.png", image_bytes("PNG", 52, 52), "image/png")
    ctx = ctx_of(clocked_server)
    wired = ctx.attachments
    assert wired is not None
    blobs_before = set(await clocked_server.acall(wired.blobs.keys))

    clock_of(clocked_server).advance(timedelta(hours=23))
    assert (await clocked_server.acall(lambda: attachments.collect_unreferenced(ctx)))[
        "uploads"
    ] == 0

    clock_of(clocked_server).advance(timedelta(hours=2))
    job = clocked_server.app.state.qunzu.jobs.job(UPLOADS_COLLECT)
    run = await clocked_server.acall(lambda: jobs.run_now(ctx, job, LocalJobLocks(), "test"))
    assert run is not None and run.detail["uploads"] >= 1
    assert (await alice.upload_info(kept["id"]))["id"] == kept["id"]
    refusal = await refused(alice.upload_info(dropped["id"]))
    assert refusal.code == "upload_not_found"
    blobs_after = set(await clocked_server.acall(wired.blobs.keys))
    assert len(blobs_before - blobs_after) == 2  # the dropped image and its thumbnail


async def test_content_shared_with_a_kept_upload_is_not_deleted(
    clocked_server: ServerThread, people: People
) -> None:
    alice = await people.user("gc")
    group = await make_group(alice)
    same = b"the same bytes twice"
    kept = await alice.upload("one.bin", same)
    await alice.send(group["id"], "kept", attachments=[kept["id"]])
    await alice.upload("two.bin", same)
    ctx = ctx_of(clocked_server)
    clock_of(clocked_server).advance(timedelta(hours=25))
    await clocked_server.acall(lambda: attachments.collect_unreferenced(ctx))
    info = await alice.upload_info(kept["id"])
    async with httpx.AsyncClient(base_url=clocked_server.url) as http:
        served = await http.get(info["links"]["content"])
    assert served.content == same
