"""The rulebook: the platform's rules as data (Arts. 5, 7, 8, 11; P3, P6).

Numbers the law leaves to the platform (tiers, credit bands, quotas, deadlines,
the sanction catalogue, retention) live in a versioned rulebook file, never in
code. This module holds the validated, immutable form; ``qunzu.policy`` parses
and checks the TOML. Several versions may be loaded at once, and conduct is
judged by the version in force when it happened (P3: rules never apply
backwards).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from qunzu.domain.attachments import UploadPolicy
from qunzu.domain.conversation import ConversationPolicy
from qunzu.domain.errors import InvalidInput, NotFound
from qunzu.domain.owner_tools import AttendancePolicy


class Tier(StrEnum):
    """Privacy and management tiers (Art. 7, P1/P2)."""

    private = "private"  # one-to-one, or a family group of at most N
    small = "small"
    large = "large"
    public = "public"  # open to join and discoverable, any size


class SanctionTarget(StrEnum):
    group = "group"
    account = "account"
    referral = "referral"


@dataclass(frozen=True, slots=True)
class Text:
    """User-facing text in both languages, kept together."""

    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    title: Text
    text: Text


@dataclass(frozen=True, slots=True)
class TierThresholds:
    family_private_max: int  # a family group up to this size is a private space
    small_max: int  # up to this is small, above is large


@dataclass(frozen=True, slots=True)
class LevelQuotas:
    """What a credit level allows (Art. 8 caps, Art. 7 services by credit level)."""

    groups_owned: int
    groups_joined: int
    new_groups_per_day: int
    messages_per_minute: int
    invitations_per_day: int
    reports_per_day: int
    members_per_group: Mapping[str, int]  # by group category

    def member_cap(self, category: str | None) -> int:
        if category is None:
            return 2
        return self.members_per_group[category]


@dataclass(frozen=True, slots=True)
class CreditLevel:
    level: int
    name: Text
    min_score: int  # inclusive
    max_score: int  # inclusive
    can_post: bool
    quotas: LevelQuotas


@dataclass(frozen=True, slots=True)
class CreditInputs:
    """How events move the score. Negative inputs fade over the forgiveness window."""

    base: int
    identity_verified: int
    per_30_days_of_age: int
    age_cap: int
    per_active_day: int
    active_days_window: int
    active_cap: int
    sanction_penalty: Mapping[str, int]  # by severity: minor, major, severe
    upheld_report_against: Mapping[str, int]  # by severity
    report_upheld: int  # a report the reporter filed was upheld
    report_unfounded: int  # manifestly unfounded
    owner_acted_in_time: int
    owner_liable: int


@dataclass(frozen=True, slots=True)
class CreditPolicy:
    score_min: int
    score_max: int
    forgiveness_days: int
    demotion_hysteresis: float  # demote only below this fraction of the level's floor
    inputs: CreditInputs
    levels: Sequence[CreditLevel]

    def level(self, number: int) -> CreditLevel:
        for lvl in self.levels:
            if lvl.level == number:
                return lvl
        raise NotFound("unknown_level", f"No credit level {number}.")


@dataclass(frozen=True, slots=True)
class ReportCategory:
    id: str
    title: Text
    severity: str  # normal | severe
    deadline_hours: int
    articles: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SanctionKind:
    id: str
    title: Text
    target: SanctionTarget
    articles: tuple[str, ...]  # the articles a decision imposing it may cite
    max_days: int | None  # None: not time-limited (or permanent until lifted)


@dataclass(frozen=True, slots=True)
class Retention:
    access_log_days: int
    evidence_days: int
    audit_days: int


@dataclass(frozen=True, slots=True)
class ActivityPolicy:
    dormant_after_days: int
    busy_messages_per_day: int


@dataclass(frozen=True, slots=True)
class ReportingPolicy:
    """Misuse of reporting (DSA Art. 23): warn, then suspend, frequent unfounded reporters."""

    unfounded_window_days: int = 90
    warning_after: int = 3
    suspension_after: int = 5
    suspension_days: int = 14

    def since(self, now: datetime) -> datetime:
        """Where the window of unfounded reports that count against a reporter begins."""
        return now - timedelta(days=self.unfounded_window_days)


@dataclass(frozen=True, slots=True)
class SearchPolicy:
    """[search]: message search limits (docs/search.md)."""

    min_chars: int = 2
    max_chars: int = 64
    max_terms: int = 8
    per_minute: int = 30  # searches per account and node, as messages_per_minute
    page_max: int = 50


@dataclass(frozen=True, slots=True)
class Rulebook:
    name: str
    jurisdiction: str
    version: str
    effective_from: datetime
    source: str
    articles: Mapping[str, Article]
    categories: tuple[str, ...]
    tiers: TierThresholds
    credit: CreditPolicy
    accounts_per_identity: int
    report_categories: Mapping[str, ReportCategory]
    sanctions: Mapping[str, SanctionKind]
    retention: Retention
    appeal_window_days: int
    owner_response_hours: int
    activity: ActivityPolicy
    info_page_min_members: int  # groups above this show the Art. 8 information page
    reporting: ReportingPolicy = field(default_factory=ReportingPolicy)
    attendance: AttendancePolicy = field(default_factory=AttendancePolicy)
    # [owner_tools]: while the platform suspends posting in a group, its owner and admins
    # lose their tools too (they may still post messages and report).
    suspend_tools_under_posting_suspension: bool = False
    # [messages]: the longest message, in characters (HTTP and WebSocket sends alike).
    max_message_chars: int = 4000
    # [uploads]: size caps by credit level, attachments per message, pixels, retention.
    uploads: UploadPolicy = field(default_factory=UploadPolicy)
    # [conversation]: recall window, @all per day, pins per group, nickname length.
    conversation: ConversationPolicy = field(default_factory=ConversationPolicy)
    search: SearchPolicy = field(default_factory=SearchPolicy)
    extra: Mapping[str, object] = field(default_factory=dict)

    def article(self, article_id: str) -> Article:
        try:
            return self.articles[article_id]
        except KeyError:
            raise InvalidInput(
                "unknown_article",
                f"Article {article_id!r} is not in rulebook {self.version}.",
            ) from None


class RulebookSet:
    """All loaded versions, ordered by ``effective_from``."""

    def __init__(self, versions: Sequence[Rulebook]) -> None:
        if not versions:
            raise ValueError("at least one rulebook version is needed")
        ordered = sorted(versions, key=lambda r: r.effective_from)
        versions_seen = [b.version for b in ordered]
        for version in versions_seen:
            if versions_seen.count(version) > 1:
                raise ValueError(f"rulebook version {version!r} is loaded more than once")
        for earlier, later in itertools.pairwise(ordered):
            if earlier.effective_from == later.effective_from:
                raise ValueError(
                    f"rulebook versions {earlier.version!r} and {later.version!r} take effect "
                    f"at the same moment ({later.effective_from.isoformat()})"
                )
        self.versions: tuple[Rulebook, ...] = tuple(ordered)

    def in_force(self, at: datetime) -> Rulebook:
        """The version in force at ``at``; before the first one, nothing was in force."""
        current: Rulebook | None = None
        for book in self.versions:
            if book.effective_from <= at:
                current = book
            else:
                break
        if current is None:
            raise NotFound(
                "no_rulebook_in_force",
                f"No rulebook was in force at {at.isoformat()} (P3: rules never apply backwards).",
            )
        return current

    @property
    def latest(self) -> Rulebook:
        return self.versions[-1]
