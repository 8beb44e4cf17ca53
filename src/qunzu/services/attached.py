"""Uploads a message carries (bottom layer: the send in ``messaging`` and the serving in
``attachments`` both need it). A sender attaches only their own uploads; the message's
``data.attachments`` holds each one's metadata, so every copy of the message (history,
live frames, case evidence, the regulator export) says what it carried."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qunzu.domain.attachments import check_attachment_count
from qunzu.domain.errors import InvalidInput, NotFound, Unavailable
from qunzu.domain.rulebook import Rulebook
from qunzu.services.context import ServiceContext
from qunzu.services.ports import AttachmentWiring, UnitOfWork


def wiring(ctx: ServiceContext) -> AttachmentWiring:
    if ctx.attachments is None:
        raise Unavailable("uploads_unavailable", "Uploads are not configured on this server.")
    return ctx.attachments


async def message_data(
    uow: UnitOfWork, sender_id: int, upload_ids: Sequence[int], book: Rulebook
) -> dict[str, Any]:
    """``data`` of a message carrying ``upload_ids``, refused unless each is the sender's."""
    check_attachment_count(len(upload_ids), book.uploads.max_per_message)
    if len(set(upload_ids)) != len(upload_ids):
        raise InvalidInput("duplicate_attachment", "An upload is attached more than once.")
    found = await uow.uploads.get_many(upload_ids)
    for upload_id in upload_ids:
        upload = found.get(upload_id)
        # Someone else's upload answers as a missing one: its existence is not ours to learn.
        if upload is None or upload.owner_id != sender_id:
            raise NotFound("upload_not_found", "No such upload of yours.", upload_id=upload_id)
    return {"attachments": [found[i].wire() for i in upload_ids]}


async def link(uow: UnitOfWork, upload_ids: Sequence[int], group_id: int, seq: int) -> None:
    if upload_ids:
        await uow.uploads.attach(upload_ids, group_id, seq)


async def of_messages(
    uow: UnitOfWork, group_id: int, seqs: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """What each message carried, with each content's SHA-256, for those who keep records
    (case evidence, the regulator export): still there after the message was removed."""
    if not seqs:
        return {}
    found = await uow.uploads.for_messages(group_id, seqs)
    return {
        seq: [{**u.wire(), "sha256": u.sha256} for u in uploads] for seq, uploads in found.items()
    }
