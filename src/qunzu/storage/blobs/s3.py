"""Blobs in S3-compatible object storage (AWS S3, MinIO, Ceph, moto in the tests), through
boto3 on worker threads: boto3 blocks, and uploads are few beside messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from qunzu.storage.blobs.local import check_key

CHUNK = 256 * 1024


class S3BlobStore:
    name = "s3"

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        client: Any = None,
    ) -> None:
        import boto3

        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = client or boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region or "us-east-1",
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
        )

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    async def put(self, key: str, path: Path) -> None:
        if await self.exists(key):
            return
        await asyncio.to_thread(self.client.upload_file, str(path), self.bucket, self._key(key))

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = await asyncio.to_thread(
                self.client.head_object, Bucket=self.bucket, Key=self._key(key)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"])

    async def read(self, key: str) -> AsyncIterator[bytes]:
        answer = await asyncio.to_thread(
            self.client.get_object, Bucket=self.bucket, Key=self._key(key)
        )
        body = answer["Body"]
        try:
            while chunk := await asyncio.to_thread(body.read, CHUNK):
                yield chunk
        finally:
            body.close()

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self.client.delete_object, Bucket=self.bucket, Key=self._key(key))

    async def keys(self) -> list[str]:
        def listing() -> list[str]:
            out: list[str] = []
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self.prefix
            )
            for page in pages:
                out.extend(o["Key"][len(self.prefix) :] for o in page.get("Contents", ()))
            return sorted(out)

        return await asyncio.to_thread(listing)
