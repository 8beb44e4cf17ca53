"""Bodies of the governance endpoints: the rulebook and credit (Arts. 5, 7; P6)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from qunzu.api.schemas import IdInt, In, Out, Text

# ---- governance: rulebook and credit ------------------------------------------------------


class RulebookVersionOut(BaseModel):
    version: str
    name: str
    effective_from: str
    in_force: bool


class CreditLockIn(In):
    account_id: IdInt
    level: int | None = Field(ge=0, le=100)
    reason: Text = Field(max_length=500)


class CreditStateOut(Out):
    account_id: int
    score: int
    level: int
    locked_level: int | None
    computed_at: datetime


class LevelOut(BaseModel):
    level: int
    name_zh: str
    name_en: str
    min_score: int
    max_score: int
    can_post: bool
    quotas: dict[str, Any]


class CreditEntryOut(BaseModel):
    delta: int
    reason: str
    reason_zh: str
    reason_en: str
    article: str | None
    source: str | None
    at: datetime


class CreditOut(BaseModel):
    score: int
    level: int
    level_name_zh: str
    level_name_en: str
    locked: bool
    rulebook_version: str
    levels: list[LevelOut]
    entries: list[CreditEntryOut]

    @classmethod
    def of(cls, view: Any) -> CreditOut:
        from dataclasses import asdict

        return cls(
            score=view.state.score,
            level=view.state.level,
            level_name_zh=view.current.name.zh,
            level_name_en=view.current.name.en,
            locked=view.state.locked_level is not None,
            rulebook_version=view.rulebook.version,
            levels=[
                LevelOut(
                    level=lvl.level,
                    name_zh=lvl.name.zh,
                    name_en=lvl.name.en,
                    min_score=lvl.min_score,
                    max_score=lvl.max_score,
                    can_post=lvl.can_post,
                    quotas=asdict(lvl.quotas),
                )
                for lvl in view.rulebook.credit.levels
            ],
            entries=[
                CreditEntryOut(
                    delta=e.entry.delta,
                    reason=e.entry.reason.value,
                    reason_zh=e.text_zh,
                    reason_en=e.text_en,
                    article=e.entry.article,
                    source=e.entry.source,
                    at=e.entry.at,
                )
                for e in view.entries
            ],
        )
