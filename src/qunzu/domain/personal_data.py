"""A person's copy of their own data (PIPL article 45: the right to a copy): requested,
built in the background, downloadable once within a limited time, then gone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.errors import Conflict, Gone, QuotaExceeded

EXPORT_TTL = timedelta(hours=24)  # a ready export can be downloaded this long
EXPORTS_PER_DAY = 3
STALE_BUILD = timedelta(minutes=10)  # a pending export this old is built again


class ExportState(StrEnum):
    pending = "pending"
    ready = "ready"
    downloaded = "downloaded"
    expired = "expired"


@dataclass(frozen=True, slots=True)
class DataExport:
    id: int
    account_id: int
    state: ExportState
    requested_at: datetime
    ready_at: datetime | None = None
    expires_at: datetime | None = None
    downloaded_at: datetime | None = None
    size: int = 0

    def state_at(self, now: datetime) -> ExportState:
        """A ready export past its time reads as expired."""
        if self.state is ExportState.ready and self.expires_at and now >= self.expires_at:
            return ExportState.expired
        return self.state


def check_may_request(latest: DataExport | None, requested_today: int, now: datetime) -> None:
    """One export in the making or waiting at a time; a few a day."""
    if latest is not None and latest.state_at(now) in (ExportState.pending, ExportState.ready):
        raise Conflict(
            "export_in_progress",
            "Your previous export is still being built or waiting to be downloaded.",
            export_id=latest.id,
        )
    if requested_today >= EXPORTS_PER_DAY:
        raise QuotaExceeded(
            "export_quota", f"At most {EXPORTS_PER_DAY} exports a day.", retry_after=3600
        )


def check_downloadable(export: DataExport, now: datetime) -> None:
    state = export.state_at(now)
    if state is ExportState.pending:
        raise Conflict("export_not_ready", "The export is still being built.", retry_after=5)
    if state is not ExportState.ready:
        raise Gone("export_gone", f"The export is {state.value}; request a new one.")
