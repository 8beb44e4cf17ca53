"""Rulebooks for tests: the default one, and a generous copy for tests that are not about quotas.

Tests of quotas use the default (the numbers users meet); everything else uses
the generous copy so that building a test world does not trip a daily cap.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from qunzu.domain.rulebook import RulebookSet
from qunzu.policy import default_rulebook_text, parse_rulebook

# The closed set of sanctions the regulation allows (Art. 11), as the rulebook lists them.
SANCTION_KINDS = frozenset(
    {
        "warning",
        "posting_suspension",
        "closure",
        "lower_credit",
        "suspend_admin_rights",
        "revoke_group_creation",
        "blacklist",
        "refer_to_authority",
    }
)

_GENEROUS = {
    "groups_owned": 10_000,
    "groups_joined": 10_000,
    "new_groups_per_day": 10_000,
    "messages_per_minute": 100_000,
    "invitations_per_day": 10_000,
    "reports_per_day": 10_000,
}


def generous_rulebook_text() -> str:
    text = default_rulebook_text()
    for key, value in _GENEROUS.items():
        # Level 0 stays read-only: only raise quotas that are already above zero.
        text = re.sub(rf"\b{key} = ([1-9]\d*)", f"{key} = {value}", text)
    return re.sub(
        r"(members_per_group = \{)([^}]*)(\})",
        lambda m: m.group(1) + re.sub(r"= ([1-9]\d*)", "= 5000", m.group(2)) + m.group(3),
        text,
    )


def default_with_quotas(lines_by_level: dict[int, str]) -> str:
    """The default rulebook with the ``quotas = {...}`` line of the given levels replaced."""
    lines = default_rulebook_text().splitlines()
    quota_lines = [i for i, line in enumerate(lines) if line.startswith("quotas = {")]
    assert len(quota_lines) == 5, "one quotas line per level in the default rulebook"
    for level, line in lines_by_level.items():
        lines[quota_lines[level]] = line
    return "\n".join(lines) + "\n"


@cache
def generous_rulebooks() -> RulebookSet:
    return RulebookSet([parse_rulebook(generous_rulebook_text(), "generous-test.toml")])


def write_rulebook(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def write_generous_rulebook(directory: Path) -> Path:
    return write_rulebook(directory, "generous-test.toml", generous_rulebook_text())
