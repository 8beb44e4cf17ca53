"""The tamper-evident audit chain: each entry stores the hash of the one before.

The hash covers the previous hash and a canonical JSON of the entry's content,
so changing, removing or reordering any entry breaks every hash after it, and
the verifier names the first entry that no longer fits.

A chain alone cannot show that entries were cut from its end: what remains is
still a sound chain. So every append also writes the chain's *head* (how many
entries, the last one's id and hash) in a row apart from the entries, in the
same transaction, and seals it with a keyed MAC (``head_message``) whose key
lives with the application, not in the database. Verification walks the chain
and then holds its end against the head: deleting the last entry, or all of
them, leaves a head that names entries the chain no longer has; rewriting the
entries and the head together needs the key.

Entries older than the rulebook's audit retention are purged (services.retention). Before
a range is dropped, a *checkpoint* is written in a row apart and sealed with the same key
(``checkpoint_message``): how many entries were dropped in all, and the last dropped
entry's id and hash. Verification then starts from the checkpoint instead of the
genesis hash: the first remaining entry must point at the checkpoint's hash, and the
entries verified plus those dropped must make the head's count. Dropping more entries
than the checkpoint says, or moving the checkpoint without the key, is caught.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS = "0" * 64


def canonical_json(content: dict[str, object]) -> str:
    """One text per content: keys sorted, no optional whitespace, characters as they are.
    Whitespace inside a value is part of the value, so any change to it changes the hash."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, content: dict[str, object]) -> str:
    return hashlib.sha256(f"{prev_hash}|{canonical_json(content)}".encode()).hexdigest()


def head_message(count: int, last_id: int, last_hash: str) -> str:
    """What the head's seal covers."""
    return f"qunzu audit head v1|{count}|{last_id}|{last_hash}"


def checkpoint_message(dropped: int, last_id: int, last_hash: str) -> str:
    """What a purge checkpoint's seal covers."""
    return f"qunzu audit checkpoint v1|{dropped}|{last_id}|{last_hash}"


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
    expected: int | None = None  # entries the head says the chain holds, when it was read


class ChainVerifier:
    """Checks links one at a time, so a long chain is verified in pages."""

    def __init__(self, start_hash: str = GENESIS, dropped: int = 0, start_id: int = 0) -> None:
        """``start_hash``, ``dropped`` and ``start_id``: where a purge checkpoint left the
        chain (the genesis hash, none and 0 for a chain never purged)."""
        self.expected_prev = start_hash
        self.dropped = dropped
        self.checked = 0
        self.last_id = start_id
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
        self.last_id = link.id
        self.checked += 1
        return True

    def report(self) -> ChainReport:
        return self.failure or ChainReport(True, self.checked)

    def against_head(self, count: int, last_id: int, last_hash: str) -> ChainReport:
        """The report once every link is fed, holding the chain's end against its head."""

        def broken(first: int | None, reason: str) -> ChainReport:
            return ChainReport(False, self.checked, first, reason, count)

        if self.failure is not None:
            return ChainReport(
                False,
                self.failure.checked,
                self.failure.first_broken_id,
                self.failure.reason,
                count,
            )
        if self.last_id < last_id:
            return broken(
                last_id,
                f"entries missing at the end: the head counts {count} entries up to entry "
                f"{last_id}; the chain holds {self.checked}, up to entry {self.last_id}",
            )
        if self.last_id > last_id:
            return broken(None, f"entries after the head's last entry {last_id}")
        if self.checked + self.dropped != count:
            purged = f" and {self.dropped} purged" if self.dropped else ""
            return broken(None, f"the chain holds {self.checked} entries{purged}, its head {count}")
        if self.expected_prev != last_hash:
            return broken(last_id or None, "the last entry's hash does not match the head")
        return ChainReport(True, self.checked, expected=count)


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
