"""The rulebook as users may read it (Art. 5: the rules that govern them are public)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from qunzu.domain.rulebook import Rulebook
from qunzu.services.context import ServiceContext


def rulebook_in_force(ctx: ServiceContext, at: datetime | None = None) -> Rulebook:
    return ctx.rulebooks.in_force(at or ctx.clock.now())


def rulebook_document(book: Rulebook) -> dict[str, Any]:
    """A JSON-ready rendering of a rulebook version."""
    doc = asdict(book)
    doc["effective_from"] = book.effective_from.isoformat()
    doc["articles"] = list(doc["articles"].values())
    doc["report_categories"] = list(doc["report_categories"].values())
    doc["sanctions"] = [
        {**s, "target": book.sanctions[s["id"]].target.value} for s in doc["sanctions"].values()
    ]
    doc.pop("extra", None)
    return doc


def list_versions(ctx: ServiceContext) -> list[dict[str, Any]]:
    now = ctx.clock.now()
    current = (
        ctx.rulebooks.in_force(now).version
        if ctx.rulebooks.versions[0].effective_from <= now
        else None
    )
    return [
        {
            "version": b.version,
            "name": b.name,
            "effective_from": b.effective_from.isoformat(),
            "in_force": b.version == current,
        }
        for b in ctx.rulebooks.versions
    ]
