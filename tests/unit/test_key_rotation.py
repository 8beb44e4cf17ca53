"""Online rotation of the identity field keys: every key on the ring decrypts, new
ciphertexts and blind indexes use the newest, lookups find an identity under any key,
and the rekey job moves every identity to the newest key without a failed read."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest

from qunzu.crypto.fields import FieldCipher, KeyMaterialError, key_id
from qunzu.domain.errors import Conflict
from qunzu.domain.models import PlatformRole
from qunzu.services import identity
from qunzu.services.context import ServiceContext
from tests.fakes import fake_uow, make_ctx
from tests.unit.world import register, unique_resident_id

MASTER = os.urandom(32)
K1, K2 = os.urandom(32), os.urandom(32)


def on_ring(ctx: ServiceContext, *keys: bytes) -> ServiceContext:
    """The same store, with the key ring a restart with these field keys would have."""
    return replace(ctx, cipher=FieldCipher(MASTER, keys))


def test_a_ciphertext_under_an_older_key_still_decrypts_and_new_ones_use_the_newest() -> None:
    old = FieldCipher(MASTER)
    token = old.encrypt("张三", "identity:1:legal_name")
    rotated = FieldCipher(MASTER, [K1])
    assert rotated.decrypt(token, "identity:1:legal_name") == "张三"
    fresh = rotated.encrypt("张三", "identity:1:legal_name")
    assert fresh.startswith(key_id(K1) + ":") and not rotated.is_current(token)
    assert rotated.blind_indexes("x") == (rotated.blind_index("x"), old.blind_index("x"))


def test_a_key_taken_off_the_ring_no_longer_decrypts() -> None:
    token = FieldCipher(MASTER, [K1]).encrypt("张三", "c")
    with pytest.raises(KeyMaterialError):
        FieldCipher(MASTER, [K2]).decrypt(token, "c")


def test_short_field_keys_are_refused() -> None:
    with pytest.raises(KeyMaterialError):
        FieldCipher(MASTER, [b"short"])


async def test_lookups_find_an_identity_under_an_older_key() -> None:
    ctx = on_ring(make_ctx())
    person = unique_resident_id()
    first = await register(ctx, "first", resident_id=person)
    rotated = on_ring(ctx, K1)
    again = identity.do_submit_identity(rotated, first, "张三", person, "13800138000")
    with pytest.raises(Conflict) as caught:
        await again
    assert caught.value.code == "identity_already_verified"
    second = await register(rotated, "second", resident_id=person)
    state = fake_uow(rotated).state.identities
    assert state[first.id].blind_index != state[second.id].blind_index  # two keys, one person


async def test_the_rekey_job_moves_every_identity_to_the_newest_key() -> None:
    ctx = on_ring(make_ctx())
    people = [await register(ctx, f"user{i}") for i in range(5)]
    rotated = on_ring(ctx, K1)
    assert await identity.rekey_identities(rotated, batch=2) == {"checked": 5, "rekeyed": 5}
    assert await identity.rekey_identities(rotated, batch=2) == {"checked": 5, "rekeyed": 0}
    current = key_id(K1) + ":"
    for rec in fake_uow(rotated).state.identities.values():
        assert all(v.startswith(current) for v in (rec.legal_name_enc, rec.phone_enc))
    # A second rotation, then the first rotated key retired: every read still works.
    twice = on_ring(ctx, K1, K2)
    await identity.rekey_identities(twice)
    retired = on_ring(ctx, K2)
    officer = await register(retired, "officer", verified=False, role=PlatformRole.admin)
    full = await identity.do_read_identity(retired, officer, people[0].id, "case 12 needs it")
    assert full.legal_name == "张三"
