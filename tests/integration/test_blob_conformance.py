"""One conformance suite for every blob store: the local file system and S3-compatible
storage (moto's server mode, started here as a subprocess on a free port unless
``QUNZU_TEST_S3_URL`` names a running S3-compatible endpoint)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qunzu.services.ports import BlobStore
from qunzu.storage.blobs import make_blob_store
from qunzu.storage.blobs.local import LocalBlobStore
from tests.s3 import s3_endpoint_fixture

s3_endpoint = s3_endpoint_fixture()


@pytest.fixture(params=["file", "s3"])
async def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[BlobStore]:
    if request.param == "file":
        yield make_blob_store("file:", tmp_path)
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = f"qunzu-{uuid.uuid4().hex[:12]}"
    store = make_blob_store(
        f"s3://{bucket}/blobs",
        tmp_path,
        endpoint_url=endpoint,
        region="us-east-1",
        access_key="testing",
        secret_key="testing",
    )
    store.client.create_bucket(Bucket=bucket)  # type: ignore[attr-defined]
    yield store


def content_file(tmp_path: Path, data: bytes) -> tuple[str, Path]:
    path = tmp_path / uuid.uuid4().hex
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest(), path


async def read_all(blobs: BlobStore, key: str) -> bytes:
    return b"".join([chunk async for chunk in blobs.read(key)])


async def test_what_is_put_is_read_back_whole(blobs: BlobStore, tmp_path: Path) -> None:
    data = os.urandom(700_000)  # more than one read chunk
    key, path = content_file(tmp_path, data)
    await blobs.put(key, path)
    assert await read_all(blobs, key) == data
    assert await blobs.size(key) == len(data)
    assert await blobs.exists(key)


async def test_an_absent_key_does_not_exist_and_has_no_size(
    blobs: BlobStore, tmp_path: Path
) -> None:
    key = hashlib.sha256(b"never stored").hexdigest()
    assert not await blobs.exists(key)
    assert await blobs.size(key) is None


async def test_putting_a_stored_key_again_keeps_one_copy(blobs: BlobStore, tmp_path: Path) -> None:
    key, path = content_file(tmp_path, b"once")
    await blobs.put(key, path)
    await blobs.put(key, path)
    assert await blobs.keys() == [key]


async def test_delete_removes_the_blob_and_is_idempotent(blobs: BlobStore, tmp_path: Path) -> None:
    key, path = content_file(tmp_path, b"to go")
    await blobs.put(key, path)
    await blobs.delete(key)
    await blobs.delete(key)
    assert not await blobs.exists(key)
    assert await blobs.keys() == []


async def test_keys_lists_every_stored_blob(blobs: BlobStore, tmp_path: Path) -> None:
    keys = []
    for i in range(3):
        key, path = content_file(tmp_path, f"blob {i}".encode())
        await blobs.put(key, path)
        keys.append(key)
    assert await blobs.keys() == sorted(keys)


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABC", "a" * 63, ""])
async def test_a_key_that_is_not_a_sha256_is_refused(
    blobs: BlobStore, tmp_path: Path, bad: str
) -> None:
    _, path = content_file(tmp_path, b"x")
    with pytest.raises(ValueError):
        await blobs.put(bad, path)
    with pytest.raises(ValueError):
        await blobs.exists(bad)


def test_the_default_store_is_the_data_directorys_blobs(tmp_path: Path) -> None:
    store = make_blob_store("file:", tmp_path)
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "blobs"


def test_an_unknown_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        make_blob_store("ftp://x", tmp_path)
