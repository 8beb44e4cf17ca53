"""The tamper-evident audit chain: each entry stores the hash of the one before.

The hash covers the previous hash and a canonical JSON of the entry's content,
so changing, removing or reordering any entry breaks every hash after it, and
``verify_chain`` names the first entry that no longer fits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64


def entry_hash(prev_hash: str, content: dict[str, object]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{prev_hash}|{canonical}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainLink:
    id: int
    prev_hash: str
    hash: str
    content: dict[str, object]


@dataclass(frozen=True, slots=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""


def verify_chain(links: Iterable[ChainLink]) -> ChainReport:
    expected_prev = GENESIS
    checked = 0
    for link in links:
        if link.prev_hash != expected_prev:
            return ChainReport(False, checked, link.id, "previous hash does not match")
        if entry_hash(link.prev_hash, link.content) != link.hash:
            return ChainReport(False, checked, link.id, "content does not match its hash")
        expected_prev = link.hash
        checked += 1
    return ChainReport(True, checked)
