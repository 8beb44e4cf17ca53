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
from datetime import datetime
from typing import Any

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


class ChainVerifier:
    """Checks links one at a time, so a long chain is verified in pages."""

    def __init__(self) -> None:
        self.expected_prev = GENESIS
        self.checked = 0
        self.failure: ChainReport | None = None

    def feed(self, link: ChainLink) -> bool:
        """Check one link; False (and ``failure`` set) at the first broken one."""
        if self.failure is not None:
            return False
        if link.prev_hash != self.expected_prev:
            self.failure = ChainReport(False, self.checked, link.id, "previous hash does not match")
            return False
        if entry_hash(link.prev_hash, link.content) != link.hash:
            self.failure = ChainReport(
                False, self.checked, link.id, "content does not match its hash"
            )
            return False
        self.expected_prev = link.hash
        self.checked += 1
        return True

    def report(self) -> ChainReport:
        return self.failure or ChainReport(True, self.checked)


def verify_chain(links: Iterable[ChainLink]) -> ChainReport:
    verifier = ChainVerifier()
    for link in links:
        if not verifier.feed(link):
            break
    return verifier.report()


def audit_content(
    at: datetime, actor_id: int | None, action: str, subject: str, detail: dict[str, Any]
) -> dict[str, object]:
    """What an audit entry's hash covers. Microseconds are dropped: not every backend keeps them."""
    return {
        "at": at.replace(microsecond=0).isoformat(),
        "actor_id": actor_id,
        "action": action,
        "subject": subject,
        "detail": detail,
    }
