"""The rulebook as users may read it (Art. 5: the rules that govern them are public)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from qunzu.domain.errors import NotFound
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


def find_version(ctx: ServiceContext, version: str) -> Rulebook:
    for book in ctx.rulebooks.versions:
        if book.version == version:
            return book
    raise NotFound("rulebook_not_found", "No such rulebook version.")


def _flat(value: Any, path: str, out: dict[str, str]) -> None:
    """A document as ``path -> text`` lines; list items of articles, categories and
    measures are keyed by their id, so a reordering is no change."""
    if isinstance(value, dict):
        for key, item in value.items():
            _flat(item, f"{path}.{key}" if path else str(key), out)
    elif isinstance(value, list) and all(isinstance(v, dict) and "id" in v for v in value):
        for item in value:
            _flat(item, f"{path}[{item['id']}]", out)
    else:
        out[path] = str(value)


def diff_versions(old: Rulebook, new: Rulebook) -> list[tuple[str, str | None, str | None]]:
    """What changed from ``old`` to ``new``: (path, before, after), None where absent."""
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    _flat(rulebook_document(old), "", before)
    _flat(rulebook_document(new), "", after)
    skip = {"version", "effective_from", "source"}
    return [
        (key, before.get(key), after.get(key))
        for key in sorted(before.keys() | after.keys())
        if key not in skip and before.get(key) != after.get(key)
    ]
