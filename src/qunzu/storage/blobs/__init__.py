"""Blob stores behind ``services.ports.BlobStore``: the local file system (the default)
and S3-compatible object storage (for several nodes), chosen by URL scheme."""

from __future__ import annotations

from pathlib import Path

from qunzu.services.ports import BlobStore
from qunzu.storage.blobs.local import LocalBlobStore


def make_blob_store(url: str, data_dir: Path, **s3: str | None) -> BlobStore:
    """``file:`` (or empty: ``<data_dir>/blobs``), ``file:///abs/path`` or
    ``s3://bucket/prefix`` (``s3``: endpoint_url, region, access_key, secret_key)."""
    if not url or url == "file:":
        return LocalBlobStore(data_dir / "blobs")
    if url.startswith("file://"):
        return LocalBlobStore(Path(url.removeprefix("file://")))
    if url.startswith("s3://"):
        from qunzu.storage.blobs.s3 import S3BlobStore

        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return S3BlobStore(bucket, prefix, **s3)
    raise ValueError(f"unknown blob store URL {url!r} (file: or s3://bucket/prefix)")
