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
        "takedown",
        "reporting_warning",
        "reporting_suspension",
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


# Every number a decision's consequences read, changed: the later version of the P3 tests.
_CONSEQUENCES = (
    ('version = "2017.1"', 'version = "2026.1"'),
    ("appeal_window_days = 180", "appeal_window_days = 200"),
    ("owner_response_hours = 24", "owner_response_hours = 12"),
    ("report_upheld = 5", "report_upheld = 9"),
    ("report_unfounded = -10", "report_unfounded = -30"),
    ("owner_acted_in_time = 10", "owner_acted_in_time = 20"),
    ("owner_liable = -100", "owner_liable = -300"),
    (
        "sanction_penalty = { minor = -30, major = -80, severe = -200 }",
        "sanction_penalty = { minor = -60, major = -160, severe = -400 }",
    ),
    (
        "upheld_report_against = { minor = -20, major = -60, severe = -150 }",
        "upheld_report_against = { minor = -40, major = -120, severe = -300 }",
    ),
    ('articles = ["art-11"]\nmax_days = 365', 'articles = ["art-11"]\nmax_days = 180'),
    ("unfounded_window_days = 90", "unfounded_window_days = 60"),
    ("warning_after = 3", "warning_after = 2"),
    ("suspension_after = 5", "suspension_after = 3"),
    ("suspension_days = 14", "suspension_days = 30"),
)


def consequences_version_text(effective_from: str) -> str:
    """The generous rulebook as version 2026.1, in force from ``effective_from``, with every
    number a decision's consequences read changed (penalties, credit, the blacklist's
    length, liability, the misuse thresholds) and a longer appeal window."""
    text = generous_rulebook_text().replace(
        "effective_from = 2017-10-08T00:00:00+08:00", f"effective_from = {effective_from}", 1
    )
    for old, new in _CONSEQUENCES:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def write_generous_rulebook(directory: Path) -> Path:
    return write_rulebook(directory, "generous-test.toml", generous_rulebook_text())
