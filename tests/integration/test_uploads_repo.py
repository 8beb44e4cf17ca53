"""The uploads repository on SQLite (both modes) and PostgreSQL: rows, references, what
the collection finds, and the evidence look-up."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from qunzu.domain.attachments import AttachmentKind, Upload
from qunzu.storage.uow import SqlUnitOfWorkFactory
from tests.integration.test_storage import T0, new_account, new_group


def draft(owner_id: int, content: bytes, **kw: object) -> Upload:
    values: dict[str, object] = {
        "id": 0,
        "owner_id": owner_id,
        "created_at": T0,
        "name": "photo.jpg",
        "kind": AttachmentKind.image,
        "mime": "image/jpeg",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "thumb_sha256": hashlib.sha256(content + b"thumb").hexdigest(),
        "width": 4000,
        "height": 3000,
    }
    values.update(kw)
    return Upload(**values)  # type: ignore[arg-type]


async def test_an_upload_reads_back_as_added(uow: SqlUnitOfWorkFactory) -> None:
    async with uow() as u:
        owner = await new_account(u)
        added = await u.uploads.add(draft(owner.id, b"a", duration_ms=None))
        voice = await u.uploads.add(
            draft(owner.id, b"v", kind=AttachmentKind.voice, mime="audio/ogg", duration_ms=2**40)
        )
        await u.commit()
    async with uow(write=False) as u:
        assert await u.uploads.get(added.id) == added
        assert (await u.uploads.get_many([added.id, voice.id]))[voice.id].duration_ms == 2**40
        assert await u.uploads.get(added.id + 1000) is None


async def test_references_and_the_collection_see_only_unreferenced_old_uploads(
    uow: SqlUnitOfWorkFactory,
) -> None:
    async with uow() as u:
        owner = await new_account(u)
        group = await new_group(u, owner)
        carried = await u.uploads.add(draft(owner.id, b"carried"))
        loose = await u.uploads.add(draft(owner.id, b"loose"))
        fresh = await u.uploads.add(draft(owner.id, b"fresh", created_at=T0 + timedelta(days=1)))
        await u.uploads.attach([carried.id], group.id, 7)
        await u.uploads.attach([carried.id], group.id, 9)
        await u.commit()
    async with uow(write=False) as u:
        assert sorted(await u.uploads.references(carried.id)) == [(group.id, 7), (group.id, 9)]
        assert await u.uploads.referenced([carried.id, loose.id]) == {carried.id}
        due = await u.uploads.unreferenced_before(T0 + timedelta(hours=1), 100)
        assert [x.id for x in due if x.owner_id == owner.id] == [loose.id]
        assert fresh.id not in [x.id for x in due]
        assert (await u.uploads.for_messages(group.id, [7, 8]))[7] == [carried]
        assert await u.uploads.uses_of(carried.sha256) == 1
        assert await u.uploads.uses_of(carried.thumb_sha256 or "") == 1
    async with uow() as u:
        await u.uploads.delete(loose.id)
        await u.commit()
    async with uow(write=False) as u:
        assert await u.uploads.get(loose.id) is None


async def test_no_case_holds_a_message_until_one_is_filed(uow: SqlUnitOfWorkFactory) -> None:
    async with uow(write=False) as u:
        assert await u.uploads.in_evidence(10**9, 1) is False
