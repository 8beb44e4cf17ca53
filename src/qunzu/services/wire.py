"""The JSON shape of timeline entries, shared by REST responses and WebSocket frames."""

from __future__ import annotations

from typing import Any

from qunzu.domain.models import TimelineEntry


def entry_to_wire(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "group_id": entry.group_id,
        "seq": entry.seq,
        "kind": entry.kind.value,
        "sender_id": entry.sender_id,
        "body": entry.body,
        "client_txn_id": entry.client_txn_id,
        "data": entry.data,
        "created_at": entry.created_at.isoformat(),
    }
