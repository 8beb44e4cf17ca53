"""The platform's service agreement and user convention (用户服务协议与平台公约, Art. 5, 9).

A versioned document beside the rulebook (policies/agreement.toml). Each account
accepts a version; when a newer one comes into force it is asked again before the
account goes on, so every acceptance on record names the text that was read.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from qunzu.domain.errors import Conflict, InvalidInput
from qunzu.domain.rulebook import Text


@dataclass(frozen=True, slots=True)
class AgreementVersion:
    version: int
    effective_from: datetime
    title: Text
    text: Text


class AgreementSet:
    """Every version, oldest first; the one in force is the newest that has begun."""

    def __init__(self, versions: Sequence[AgreementVersion]) -> None:
        if not versions:
            raise InvalidInput("invalid_agreement", "An agreement file needs a version.")
        self.versions = tuple(sorted(versions, key=lambda v: v.effective_from))
        numbers = [v.version for v in self.versions]
        if numbers != sorted(set(numbers)):
            raise InvalidInput(
                "invalid_agreement", "Agreement versions rise with their effective dates."
            )

    def in_force(self, at: datetime) -> AgreementVersion:
        current = self.versions[0]
        for v in self.versions:
            if v.effective_from <= at:
                current = v
        return current


def needs_acceptance(accepted: int | None, current: AgreementVersion) -> bool:
    return accepted is None or accepted < current.version


def check_version(offered: int, current: AgreementVersion) -> None:
    """Acceptance names the version that was read: a stale page accepts nothing."""
    if offered != current.version:
        raise Conflict(
            "agreement_version_stale",
            f"The agreement in force is version {current.version}; read it and accept again.",
            version=current.version,
        )


def parse_agreements(data: str, source: str = "<agreement>") -> AgreementSet:
    try:
        doc = tomllib.loads(data)
        versions = [
            AgreementVersion(
                version=int(v["version"]),
                effective_from=v["effective_from"],
                title=Text(str(v["title"]["zh"]), str(v["title"]["en"])),
                text=Text(str(v["text"]["zh"]).strip(), str(v["text"]["en"]).strip()),
            )
            for v in doc["versions"]
        ]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("invalid_agreement", f"{source}: {exc}") from exc
    for v in versions:
        if not isinstance(v.effective_from, datetime) or v.effective_from.tzinfo is None:
            raise InvalidInput(
                "invalid_agreement", f"{source}: effective_from needs a date, time and offset."
            )
    return AgreementSet(versions)
