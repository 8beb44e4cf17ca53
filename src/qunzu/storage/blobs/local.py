"""Blobs as files under one directory, two levels of fan-out by key (``ab/cd/abcd...``)."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

CHUNK = 256 * 1024
_KEY = re.compile(r"^[0-9a-f]{64}$")


def check_key(key: str) -> str:
    # Keys are SHA-256 hex digests: nothing a path could be built from.
    if not _KEY.match(key):
        raise ValueError(f"not a blob key: {key!r}")
    return key


class LocalBlobStore:
    name = "file"

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        check_key(key)
        return self.root / key[:2] / key[2:4] / key

    async def put(self, key: str, path: Path) -> None:
        await asyncio.to_thread(self._put, key, path)

    def _put(self, key: str, path: Path) -> None:
        target = self._path(key)
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        # Copy to a temporary name then rename: a reader never sees half a blob.
        partial = target.with_name(f"{key}.{os.getpid()}.partial")
        shutil.copyfile(path, partial)
        os.replace(partial, target)

    async def exists(self, key: str) -> bool:
        return self._path(key).exists()

    async def size(self, key: str) -> int | None:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            return None

    async def read(self, key: str) -> AsyncIterator[bytes]:
        path = self._path(key)
        handle = await asyncio.to_thread(path.open, "rb")
        try:
            while chunk := await asyncio.to_thread(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    async def keys(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.glob("??/??/*") if _KEY.match(p.name))
