"""Attachments through the API: upload, the type from the bytes, metadata stripped,
messages carrying uploads, signed links served only to who may see the message."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from PIL import Image

from qunzu.client import QunzuClient
from tests.factories import collect, ctx_of, group_with, make_group, make_user, refused
from tests.media import image_bytes, jpeg_with_gps, ogg_opus
from tests.s3 import s3_endpoint_fixture
from tests.server import ServerThread, test_settings


async def fetch(server: ServerThread, link: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url) as http:
        return await http.get(link)


async def test_a_jpeg_is_stored_without_its_exif_and_gps_and_gets_a_thumbnail(
    server: ServerThread, alice: QunzuClient
) -> None:
    original = jpeg_with_gps(640, 480)
    up = await alice.upload("holiday.jpg", original, "image/jpeg")
    assert (up["kind"], up["mime"], up["width"], up["height"]) == ("image", "image/jpeg", 640, 480)
    assert up["thumbnail"] is True
    content = await fetch(server, up["links"]["content"])
    assert content.status_code == 200
    assert b"SecretCamera" not in content.content
    assert not Image.open(io.BytesIO(content.content)).getexif()
    assert content.headers["x-content-type-options"] == "nosniff"
    assert content.headers["content-disposition"].startswith("inline")
    thumb = await fetch(server, up["links"]["thumbnail"])
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 320


async def test_png_webp_and_gif_are_images_by_their_bytes(alice: QunzuClient) -> None:
    for fmt, mime in (("PNG", "image/png"), ("WEBP", "image/webp"), ("GIF", "image/gif")):
        # Declared as a generic download: the bytes decide.
        up = await alice.upload(f"picture.{fmt.lower()}", image_bytes(fmt))
        assert (up["kind"], up["mime"]) == ("image", mime)


async def test_a_voice_note_has_its_duration(alice: QunzuClient) -> None:
    up = await alice.upload("voice.ogg", ogg_opus(2.0), "audio/ogg")
    assert (up["kind"], up["mime"], up["duration_ms"]) == ("voice", "audio/ogg", 2000)


async def test_any_other_file_is_a_download(server: ServerThread, alice: QunzuClient) -> None:
    up = await alice.upload("notes.txt", b"<html>not rendered</html>", "text/html")
    assert (up["kind"], up["mime"]) == ("file", "application/octet-stream")
    served = await fetch(server, up["links"]["content"])
    assert served.headers["content-type"] == "application/octet-stream"
    assert served.headers["content-disposition"].startswith("attachment;")
    assert served.headers["x-content-type-options"] == "nosniff"


async def test_identical_content_is_stored_once(server: ServerThread, alice: QunzuClient) -> None:
    wired = ctx_of(server).attachments
    assert wired is not None
    before = len(await server.acall(wired.blobs.keys))
    first = await alice.upload("a.bin", b"same bytes " * 100)
    second = await alice.upload("b.bin", b"same bytes " * 100)
    assert first["id"] != second["id"]
    assert len(await server.acall(wired.blobs.keys)) == before + 1


# ---- messages carrying uploads -----------------------------------------------------------


async def attach_photo(owner: QunzuClient, group: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    up = await owner.upload("photo.png", image_bytes("PNG"), "image/png")
    sent = await owner.send(group["id"], "看照片", attachments=[up["id"]])
    return up, sent


async def test_a_message_carries_its_attachments_metadata_in_history(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    up, sent = await attach_photo(alice, group)
    (carried,) = sent["data"]["attachments"]
    assert (carried["id"], carried["kind"], carried["width"]) == (up["id"], "image", 40)
    page = await bob.history(group["id"])
    assert page["entries"][-1]["data"]["attachments"] == [carried]


async def test_a_member_gets_links_to_an_attachment_and_an_outsider_does_not(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    up, _ = await attach_photo(alice, group)
    seen = await bob.upload_info(up["id"])
    assert (await fetch(server, seen["links"]["content"])).status_code == 200
    refusal = await refused(carol.upload_info(up["id"]))
    assert (refusal.status, refusal.code) == (404, "upload_not_found")


async def test_a_link_is_bound_to_its_account_and_refused_when_altered(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    up, _ = await attach_photo(alice, group)
    link = (await bob.upload_info(up["id"]))["links"]["content"]
    query = parse_qs(urlsplit(link).query)
    forged = link.replace(f"a={query['a'][0]}", "a=1")
    answer = await fetch(server, forged)
    assert (answer.status_code, answer.json()["code"]) == (403, "bad_signature")


async def test_a_removed_messages_attachment_is_no_longer_served_to_members(
    server: ServerThread, alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    up, sent = await attach_photo(alice, group)
    link = (await bob.upload_info(up["id"]))["links"]["content"]
    await alice.remove_message(group["id"], sent["seq"], "off topic")
    assert (await fetch(server, link)).status_code == 404
    refusal = await refused(bob.upload_info(up["id"]))
    assert refusal.code == "upload_not_found"


async def test_a_member_who_joined_after_the_message_cannot_see_its_attachment(
    alice: QunzuClient, bob: QunzuClient, carol: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    up, _ = await attach_photo(alice, group)
    from tests.factories import add_member

    await add_member(alice, group, carol)
    refusal = await refused(carol.upload_info(up["id"]))
    assert refusal.code == "upload_not_found"


async def test_someone_elses_upload_cannot_be_attached(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    theirs = await alice.upload("x.bin", b"alice's")
    refusal = await refused(bob.send(group["id"], "mine now", attachments=[theirs["id"]]))
    assert (refusal.status, refusal.code) == (404, "upload_not_found")
    assert [e for e in (await bob.history(group["id"]))["entries"] if e["kind"] == "message"] == []


async def test_an_attachment_to_a_group_you_are_not_in_is_refused(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await make_group(alice)
    mine = await bob.upload("y.bin", b"bob's")
    refusal = await refused(bob.send(group["id"], "hello", attachments=[mine["id"]]))
    assert refusal.status in (403, 404)


async def test_more_attachments_than_the_rulebook_allows_are_refused(alice: QunzuClient) -> None:
    group = await make_group(alice)
    ids = [(await alice.upload(f"{i}.bin", f"file {i}".encode()))["id"] for i in range(10)]
    refusal = await refused(alice.send(group["id"], "many", attachments=ids))
    assert (refusal.status, refusal.code) == (400, "too_many_attachments")


# ---- the S3 blob store behind a server ------------------------------------------------------

s3_endpoint = s3_endpoint_fixture()


@pytest.fixture(scope="module")
def s3_server(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    import boto3

    bucket = "qunzu-e2e"
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    ).create_bucket(Bucket=bucket)
    settings = test_settings(
        tmp_path_factory.mktemp("s3-server"),
        blob_url=f"s3://{bucket}/qunzu",
        s3_endpoint_url=s3_endpoint,
        s3_access_key="testing",
        s3_secret_key="testing",
    )
    with ServerThread(settings) as running:
        yield running


async def test_with_the_s3_store_an_upload_is_stored_there_and_served(
    s3_server: ServerThread,
) -> None:
    client = await make_user(s3_server.url)
    try:
        up = await client.upload("photo.jpg", jpeg_with_gps(), "image/jpeg")
        wired = ctx_of(s3_server).attachments
        assert wired is not None and wired.blobs.name == "s3"
        assert len(await s3_server.acall(wired.blobs.keys)) == 2  # the image and its thumbnail
        served = await fetch(s3_server, up["links"]["content"])
        assert served.status_code == 200
        assert b"SecretCamera" not in served.content
    finally:
        await client.aclose()


async def test_a_live_frame_carries_the_attachments_and_a_send_frame_can_attach(
    alice: QunzuClient, bob: QunzuClient
) -> None:
    group = await group_with(alice, bob)
    up = await alice.upload("voice.ogg", ogg_opus(1.0), "audio/ogg")
    async with bob.events() as stream:
        await alice.send(group["id"], "听一下", attachments=[up["id"]])
        event = await stream.next_event(timeout=10)
    (carried,) = event["data"]["attachments"]
    assert (carried["id"], carried["kind"], carried["duration_ms"]) == (up["id"], "voice", 1000)


async def test_a_websocket_send_frame_attaches_an_upload(alice: QunzuClient) -> None:
    group = await make_group(alice)
    up = await alice.upload("a.png", image_bytes("PNG"), "image/png")
    async with alice.events() as stream:
        ref = await stream.send_frame(
            {
                "type": "send",
                "group_id": group["id"],
                "body": "by socket",
                "client_txn_id": "ws-att-1",
                "attachments": [up["id"]],
            }
        )
        frames = await collect(stream, lambda got: any(f.get("ref") == ref for f in got))
    ack = next(f for f in frames if f.get("ref") == ref)
    assert ack["type"] == "ack", ack
    entry = (await alice.history(group["id"]))["entries"][-1]
    assert entry["data"]["attachments"][0]["id"] == up["id"]
