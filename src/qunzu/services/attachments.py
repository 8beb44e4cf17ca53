"""Attachments (附件): uploading, serving through signed links, and collecting uploads
no message took up.

An upload streams to a scratch file while it is hashed and counted: the body is never
held whole in memory, and the rulebook's cap for the uploader's credit level refuses it
(413) as soon as the declared length or the bytes received pass it. The type comes from
the first bytes (``domain.attachments.sniff``); images are re-encoded without metadata
(EXIF, GPS) before anything is stored, and get a thumbnail. Content is stored once by
its SHA-256, whoever uploads it again.

Content is served only through short-lived links signed with the settings' key; each
request is checked again against who may see it now (a member within their visible
window of a message not removed, a reviewer whose case holds the message, the uploader),
so a removed message's attachment stops at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

from qunzu.domain import permissions as perm
from qunzu.domain.attachments import (
    SNIFF_BYTES,
    AttachmentKind,
    Upload,
    check_declared,
    check_name,
    check_size,
    looks_like_markup,
    sniff,
)
from qunzu.domain.errors import Forbidden, InvalidInput, NotFound
from qunzu.domain.models import EntryKind
from qunzu.services.actor import Actor
from qunzu.services.attached import wiring
from qunzu.services.context import ServiceContext, transaction
from qunzu.services.ports import AttachmentWiring, UnitOfWork

VARIANTS = ("content", "thumbnail")


@dataclass(frozen=True, slots=True)
class Spooled:
    path: Path
    size: int
    sha256: str
    head: bytes
    markup: bool  # some chunk held HTML or SVG markup


@dataclass(frozen=True, slots=True)
class Served:
    upload: Upload
    variant: str
    chunks: AsyncIterator[bytes]
    mime: str
    inline: bool  # images shown in the page; everything else a download


# ---- upload ------------------------------------------------------------------------------


async def do_upload(
    ctx: ServiceContext,
    actor: Actor,
    name: str,
    declared_type: str | None,
    declared_length: int | None,
    chunks: AsyncIterator[bytes],
) -> Upload:
    """Store an upload streamed in ``chunks``; nothing is kept when any check refuses it."""
    wired = wiring(ctx)
    book = ctx.rulebooks.in_force(ctx.clock.now())
    name = check_name(name)
    cap = book.uploads.max_bytes(actor.level)
    check_size(declared_length, 0, cap)
    spooled = await _spool(wired.scratch, chunks, cap)
    made: list[Path] = [spooled.path]
    try:
        if spooled.size == 0:
            raise InvalidInput("empty_upload", "The upload is empty.")
        kind = sniff(spooled.head)
        check_declared(declared_type, kind)
        draft = Upload(0, actor.id, ctx.clock.now(), name, kind.kind, kind.mime, 0, "")
        return await _store(ctx, wired, draft, spooled, book.uploads.max_image_pixels, made)
    finally:
        for path in made:
            path.unlink(missing_ok=True)


async def _spool(scratch: Path, chunks: AsyncIterator[bytes], cap: int) -> Spooled:
    """Write the stream to a scratch file, hashing and counting; refuse past ``cap``."""
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / f"upload-{uuid.uuid4().hex}"
    digest, size, head, markup, tail = hashlib.sha256(), 0, b"", False, b""
    try:
        with path.open("wb") as out:
            async for chunk in chunks:
                size += len(chunk)
                check_size(None, size, cap)
                digest.update(chunk)
                if len(head) < SNIFF_BYTES:
                    head = (head + chunk)[:SNIFF_BYTES]
                # The tail of the previous chunk too: a tag may straddle two chunks.
                markup = markup or looks_like_markup(tail + chunk)
                tail = chunk[-16:]
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Spooled(path, size, digest.hexdigest(), head, markup)


async def _store(
    ctx: ServiceContext,
    wired: AttachmentWiring,
    draft: Upload,
    spooled: Spooled,
    max_pixels: int,
    made: list[Path],
) -> Upload:
    content, sha, size, thumb_sha = spooled.path, spooled.sha256, spooled.size, None
    if draft.kind is AttachmentKind.image:
        if spooled.markup:
            raise InvalidInput("polyglot_image", "The image also holds HTML or SVG markup.")
        async with wired.image_slots:
            image = await ctx.run_blocking(wired.media.image, spooled.path, draft.mime, max_pixels)
        made += [image.clean, image.thumbnail]
        content, sha, size = image.clean, _sha256_of(image.clean), image.clean.stat().st_size
        thumb_sha = _sha256_of(image.thumbnail)
        await wired.blobs.put(thumb_sha, image.thumbnail)
        draft = replace(draft, width=image.width, height=image.height, thumb_sha256=thumb_sha)
    elif draft.kind is AttachmentKind.voice:
        ms = await ctx.run_blocking(wired.media.voice_duration_ms, spooled.path, draft.mime)
        draft = replace(draft, duration_ms=ms)
    draft = replace(draft, size=size, sha256=sha)
    await wired.blobs.put(sha, content)
    try:
        async with transaction(ctx) as uow:
            return await uow.uploads.add(draft)
    except BaseException:
        await _drop_unused_blobs(ctx, wired, [sha, thumb_sha])
        raise


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


async def _drop_unused_blobs(
    ctx: ServiceContext, wired: AttachmentWiring, keys: list[str | None]
) -> None:
    async with transaction(ctx, write=False) as uow:
        unused = [k for k in keys if k is not None and await uow.uploads.uses_of(k) == 0]
    for key in unused:
        await wired.blobs.delete(key)


# ---- serving -----------------------------------------------------------------------------


def sign(key: bytes, upload_id: int, variant: str, account_id: int, expires: int) -> str:
    message = f"{upload_id}:{variant}:{account_id}:{expires}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class UploadView:
    upload: Upload
    links: dict[str, str]  # variant -> signed path and query


async def view_upload(ctx: ServiceContext, actor: Actor, upload_id: int) -> UploadView:
    """An upload the actor may see, with signed links to its content (and thumbnail)."""
    wired = wiring(ctx)
    async with transaction(ctx, write=False) as uow:
        upload = await _visible_upload(uow, actor, upload_id)
    ttl = ctx.rulebooks.in_force(ctx.clock.now()).uploads.url_ttl_seconds
    expires = int((ctx.clock.now() + timedelta(seconds=ttl)).timestamp())
    variants = ["content", "thumbnail"] if upload.thumb_sha256 else ["content"]
    links = {}
    for variant in variants:
        sig = sign(wired.url_key, upload.id, variant, actor.id, expires)
        links[variant] = f"/v1/uploads/{upload.id}/{variant}?a={actor.id}&exp={expires}&sig={sig}"
    return UploadView(upload, links)


async def open_signed(
    ctx: ServiceContext, upload_id: int, variant: str, account_id: int, expires: int, sig: str
) -> Served:
    """The content behind a signed link, if the link is genuine, unexpired, and its
    account may still see the upload."""
    wired = wiring(ctx)
    good = sign(wired.url_key, upload_id, variant, account_id, expires)
    if variant not in VARIANTS or not hmac.compare_digest(good, sig):
        raise Forbidden("bad_signature", "This link is not valid.")
    if ctx.clock.now().timestamp() > expires:
        raise Forbidden("link_expired", "This link has expired; ask for a new one.")
    async with transaction(ctx, write=False) as uow:
        account = await uow.accounts.get(account_id)
        if account is None or account.disabled:
            raise Forbidden("bad_signature", "This link is not valid.")
        actor = Actor(account, token_id=0)
        upload = await _visible_upload(uow, actor, upload_id)
    key = upload.sha256 if variant == "content" else upload.thumb_sha256
    if key is None:
        raise NotFound("upload_not_found", "No such upload.")
    mime = upload.mime if variant == "content" else "image/jpeg"
    inline = upload.kind is AttachmentKind.image
    return Served(upload, variant, wired.blobs.read(key), mime, inline)


async def _visible_upload(uow: UnitOfWork, actor: Actor, upload_id: int) -> Upload:
    upload = await uow.uploads.get(upload_id)
    if upload is None:
        raise NotFound("upload_not_found", "No such upload.")
    if upload.owner_id == actor.id:
        return upload
    for group_id, seq in await uow.uploads.references(upload_id):
        if await _may_see_message(uow, actor, group_id, seq):
            return upload
    raise NotFound("upload_not_found", "No such upload.")


async def _may_see_message(uow: UnitOfWork, actor: Actor, group_id: int, seq: int) -> bool:
    """A member within their visible window of a message not removed; or a reviewer
    whose case holds the message as evidence (removed or not)."""
    if actor.account.platform_role is not None and await uow.uploads.in_evidence(group_id, seq):
        return True
    entry = await uow.timeline.get(group_id, seq)
    if entry is None or entry.kind is not EntryKind.message or "removed" in entry.data:
        return False
    group = await uow.groups.get(group_id)
    membership = await uow.memberships.get(group_id, actor.id)
    if group is None or membership is None:
        return False
    first, last = perm.visible_window(membership, group)
    return first <= seq <= last


# ---- collection --------------------------------------------------------------------------


async def collect_unreferenced(ctx: ServiceContext) -> dict[str, int]:
    """Delete uploads no message references once the rulebook's hours have passed, and
    their content when no other upload shares it (the ``uploads_collect`` job)."""
    wired = wiring(ctx)
    hours = ctx.rulebooks.in_force(ctx.clock.now()).uploads.unreferenced_hours
    before = ctx.clock.now() - timedelta(hours=hours)
    deleted = blobs = 0
    while True:
        async with transaction(ctx) as uow:
            batch = await uow.uploads.unreferenced_before(before, 200)
            for upload in batch:
                await uow.uploads.delete(upload.id)
        for upload in batch:
            keys = [upload.sha256, upload.thumb_sha256]
            async with transaction(ctx, write=False) as uow:
                unused = [k for k in keys if k and await uow.uploads.uses_of(k) == 0]
            for key in unused:
                await wired.blobs.delete(key)
                blobs += 1
        deleted += len(batch)
        if len(batch) < 200:
            return {"uploads": deleted, "blobs": blobs}


def scratch_cleanup(scratch: Path) -> None:
    """Scratch files left by a process that died mid-upload (called at start-up)."""
    if scratch.exists():
        for path in scratch.glob("upload-*"):
            with contextlib.suppress(OSError):
                os.unlink(path)
