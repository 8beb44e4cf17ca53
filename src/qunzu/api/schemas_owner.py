"""Bodies of the owner-tools endpoints (Art. 9; P7)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from qunzu.api.schemas import MAX_ID, IdInt, In, Line, Out, Prose, Text
from qunzu.api.schemas_reports import ReportTargetIn


class RightsIn(In):
    rights: list[Annotated[Line, Field(max_length=32)]] = Field(max_length=10)


class RightsOut(BaseModel):
    group_id: int
    account_id: int
    rights: list[str]


class RemoveMessageIn(In):
    reason: Text = Field(default="", max_length=500)


class MuteIn(In):
    minutes: int = Field(ge=1, le=60 * 24 * 365)
    reason: Text = Field(default="", max_length=500)


class MuteOut(BaseModel):
    account_id: int
    until: datetime


class MuteAllIn(In):
    on: bool


class SlowModeIn(In):
    seconds: int = Field(ge=0, le=3600)


class NoticeIn(In):
    text: Prose = Field(max_length=2000)


class ControlsOut(Out):
    group_id: int
    mute_all: bool
    slow_mode_seconds: int
    notice_text: str | None
    notice_by: int | None
    notice_at: datetime | None
    unattended_since: datetime | None
    read_only_since: datetime | None


class ReadIn(In):
    seq: int = Field(ge=0, le=MAX_ID)


class ReadOut(BaseModel):
    group_id: int
    seq: int


class ReportUpIn(In):
    target: ReportTargetIn
    category: Line = Field(min_length=1, max_length=32)
    statement: Text = Field(default="", max_length=1000)
    to: Literal["platform", "authorities"] = "platform"


class OwnedGroupOut(BaseModel):
    group_id: int
    name: str
    number: int
    tier: str
    rules_published: bool
    open_notices: list[dict[str, Any]]
    warnings_in_force: list[int]
    attendance: str
    controls: ControlsOut


class DutyEventOut(BaseModel):
    at: datetime
    kind: str
    account_id: int
    seq: int | None
    subject_id: int | None
    case_id: int | None
    note: str


class AssignOwnerIn(In):
    group_id: IdInt
    account_id: IdInt
    reason: Text = Field(min_length=1, max_length=500)
