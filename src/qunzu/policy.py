"""Loading and validating rulebook files (TOML, checked with pydantic).

A bad rulebook stops the start with the file, the key and the problem named,
for example ``cn-2017.toml: credit.levels[2].min_score: level 2 starts at 520
but level 1 ends at 499 (a gap)``.
"""

from __future__ import annotations

import tomllib
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from qunzu.domain import rulebook as rb
from qunzu.domain.attachments import UploadPolicy
from qunzu.domain.conversation import ConversationPolicy
from qunzu.domain.owner_tools import AttendancePolicy
from qunzu.domain.sanctions import MISUSE_MEASURES

KNOWN_SANCTIONS = frozenset(
    {
        "warning", "posting_suspension", "closure", "lower_credit", "suspend_admin_rights",
        "revoke_group_creation", "blacklist", "refer_to_authority", "takedown",
        "reporting_warning", "reporting_suspension",
    }
)  # fmt: skip
SEVERITIES = ("minor", "major", "severe")
DEFAULT_RULEBOOK = "cn-2017.toml"


class RulebookError(ValueError):
    """A rulebook file that cannot be used, with every problem found in it."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source, self.problems = source, problems
        super().__init__(f"{source}: " + "; ".join(problems))


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextM(_M):
    zh: str = Field(min_length=1)
    en: str = Field(min_length=1)


class HeaderM(_M):
    name: str = Field(min_length=1)
    jurisdiction: str = Field(min_length=1)
    version: str = Field(min_length=1)
    effective_from: datetime
    source: str = ""
    accounts_per_identity: int = Field(ge=1)
    appeal_window_days: int = Field(ge=1)
    owner_response_hours: int = Field(ge=1)
    info_page_min_members: int = Field(ge=0)

    @field_validator("effective_from")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2017-10-08T00:00:00+08:00")
        return v


class ArticleM(_M):
    id: str = Field(min_length=1, max_length=32)
    title: TextM
    text: TextM


class CategoriesM(_M):
    ids: list[str] = Field(min_length=1)


class TiersM(_M):
    family_private_max: int = Field(ge=2)
    small_max: int = Field(ge=2)


class QuotasM(_M):
    groups_owned: int = Field(ge=0)
    groups_joined: int = Field(ge=0)
    new_groups_per_day: int = Field(ge=0)
    messages_per_minute: int = Field(ge=0)
    invitations_per_day: int = Field(ge=0)
    reports_per_day: int = Field(ge=0)
    members_per_group: dict[str, int]

    @field_validator("members_per_group")
    @classmethod
    def _non_negative(cls, v: dict[str, int]) -> dict[str, int]:
        for key, value in v.items():
            if value < 0:
                raise ValueError(f"{key} is negative ({value})")
        return v


class LevelM(_M):
    level: int = Field(ge=0)
    name: TextM
    min_score: int
    max_score: int
    can_post: bool
    quotas: QuotasM


class InputsM(_M):
    base: int
    identity_verified: int = Field(ge=0)
    per_30_days_of_age: int = Field(ge=0)
    age_cap: int = Field(ge=0)
    per_active_day: int = Field(ge=0)
    active_days_window: int = Field(ge=1)
    active_cap: int = Field(ge=0)
    report_upheld: int = Field(ge=0)
    report_unfounded: int = Field(le=0)
    owner_acted_in_time: int = Field(ge=0)
    owner_liable: int = Field(le=0)
    sanction_penalty: dict[str, int]
    upheld_report_against: dict[str, int]

    @field_validator("sanction_penalty", "upheld_report_against")
    @classmethod
    def _severities(cls, v: dict[str, int]) -> dict[str, int]:
        if set(v) != set(SEVERITIES):
            raise ValueError(f"needs exactly the keys {', '.join(SEVERITIES)}")
        for key, value in v.items():
            if value > 0:
                raise ValueError(f"{key} must be a penalty (zero or negative), not {value}")
        return v


class CreditM(_M):
    score_min: int
    score_max: int
    forgiveness_days: int = Field(ge=0)
    demotion_hysteresis: float = Field(gt=0, le=1)
    inputs: InputsM
    levels: list[LevelM] = Field(min_length=2)


class ReportCategoryM(_M):
    id: str = Field(min_length=1)
    title: TextM
    severity: Literal["normal", "severe"]
    deadline_hours: int = Field(ge=1)
    articles: list[str] = Field(min_length=1)


class SanctionM(_M):
    id: str
    title: TextM
    target: Literal["group", "account", "referral"]
    articles: list[str] = Field(min_length=1)
    max_days: int | None = Field(default=None, ge=1)


class RetentionM(_M):
    access_log_days: int = Field(ge=180)  # Art. 13: at least six months
    evidence_days: int = Field(ge=180)  # evidence is a record too (Art. 13)
    audit_days: int = Field(ge=180)


class ActivityM(_M):
    dormant_after_days: int = Field(ge=1)
    busy_messages_per_day: int = Field(ge=1)


class ReportingM(_M):
    unfounded_window_days: int = Field(ge=1)
    warning_after: int = Field(ge=1)
    suspension_after: int = Field(ge=1)
    suspension_days: int = Field(ge=1)


class AttendanceM(_M):
    inactive_days: int = Field(ge=1)
    response_days: int = Field(ge=1)


class OwnerToolsM(_M):
    suspend_tools_under_posting_suspension: bool = False


class MessagesM(_M):
    # Bounded by what a request body can carry (QUNZU_MAX_REQUEST_BYTES, 64 KiB by default).
    max_chars: int = Field(default=4000, ge=1, le=60_000)


class UploadsM(_M):
    # Largest upload in bytes by credit level (the list's index); past its end, the last.
    max_bytes_by_level: list[Annotated[int, Field(ge=0)]] = Field(
        default=[0, 10_485_760, 26_214_400, 52_428_800, 104_857_600],
        min_length=1,
        max_length=20,
    )
    max_per_message: int = Field(default=9, ge=1, le=50)
    max_image_pixels: int = Field(default=40_000_000, ge=1, le=500_000_000)
    unreferenced_hours: int = Field(default=24, ge=1)
    url_ttl_seconds: int = Field(default=300, ge=10, le=86_400)


class ConversationM(_M):
    recall_window_seconds: int = Field(default=120, ge=0, le=86_400)
    recalled_retention_days: int = Field(default=180, ge=1, le=3650)
    mention_all_per_day: int = Field(default=3, ge=0, le=1000)
    max_mentions: int = Field(default=50, ge=1, le=500)
    pins_per_group: int = Field(default=10, ge=0, le=100)
    nickname_max_chars: int = Field(default=32, ge=1, le=64)
    excerpt_chars: int = Field(default=60, ge=8, le=500)


class SearchM(_M):
    min_chars: int = Field(default=2, ge=1, le=16)
    max_chars: int = Field(default=64, ge=2, le=1000)
    max_terms: int = Field(default=8, ge=1, le=64)
    per_minute: int = Field(default=30, ge=1)
    page_max: int = Field(default=50, ge=1, le=200)


class RulebookM(_M):
    rulebook: HeaderM
    articles: list[ArticleM] = Field(min_length=1)
    categories: CategoriesM
    tiers: TiersM
    credit: CreditM
    report_categories: list[ReportCategoryM] = Field(min_length=1)
    sanctions: list[SanctionM] = Field(min_length=1)
    retention: RetentionM
    activity: ActivityM
    reporting: ReportingM
    attendance: AttendanceM
    owner_tools: OwnerToolsM = Field(default_factory=OwnerToolsM)
    messages: MessagesM = Field(default_factory=MessagesM)
    uploads: UploadsM = Field(default_factory=UploadsM)
    conversation: ConversationM = Field(default_factory=ConversationM)
    search: SearchM = Field(default_factory=SearchM)


def _loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _cross_check(m: RulebookM) -> list[str]:
    problems: list[str] = []
    article_ids = [a.id for a in m.articles]
    for dup in {a for a in article_ids if article_ids.count(a) > 1}:
        problems.append(f"articles: id {dup!r} appears more than once")
    known = set(article_ids)
    categories = m.categories.ids
    if len(set(categories)) != len(categories):
        problems.append("categories.ids: a category appears more than once")
    if m.tiers.family_private_max > m.tiers.small_max:
        problems.append("tiers.family_private_max: larger than tiers.small_max")

    credit = m.credit
    if credit.score_min >= credit.score_max:
        problems.append("credit.score_min: must be below credit.score_max")
    levels = credit.levels
    numbers = [lvl.level for lvl in levels]
    if numbers != list(range(len(levels))):
        problems.append(
            f"credit.levels: levels must be 0, 1, 2... in order with none missing; got {numbers}"
        )
    if levels and levels[0].can_post:
        problems.append("credit.levels[0].can_post: level 0 reads only (Art. 6)")
    expected_start = credit.score_min
    for i, lvl in enumerate(levels):
        where = f"credit.levels[{i}]"
        if lvl.min_score > lvl.max_score:
            problems.append(f"{where}.min_score: above its max_score")
        if lvl.min_score < expected_start:
            problems.append(
                f"{where}.min_score: level {lvl.level} starts at {lvl.min_score} but the band "
                f"before it ends at {expected_start - 1} (an overlap)"
            )
        elif lvl.min_score > expected_start:
            problems.append(
                f"{where}.min_score: level {lvl.level} starts at {lvl.min_score} but the band "
                f"before it ends at {expected_start - 1} (a gap)"
            )
        expected_start = lvl.max_score + 1
        missing = set(categories) - set(lvl.quotas.members_per_group)
        extra = set(lvl.quotas.members_per_group) - set(categories)
        if missing:
            problems.append(f"{where}.quotas.members_per_group: missing {sorted(missing)}")
        if extra:
            problems.append(f"{where}.quotas.members_per_group: unknown categories {sorted(extra)}")
    if levels and levels[-1].max_score != credit.score_max:
        problems.append(
            f"credit.levels[{len(levels) - 1}].max_score: the top band must end at "
            f"credit.score_max ({credit.score_max})"
        )

    for i, cat in enumerate(m.report_categories):
        for art in cat.articles:
            if art not in known:
                problems.append(f"report_categories[{i}].articles: unknown article {art!r}")
    ids = [s.id for s in m.sanctions]
    for i, sanction in enumerate(m.sanctions):
        if sanction.id not in KNOWN_SANCTIONS:
            problems.append(
                f"sanctions[{i}].id: {sanction.id!r} is not a sanction qunzu can carry out "
                f"(known: {', '.join(sorted(KNOWN_SANCTIONS))})"
            )
        if ids.count(sanction.id) > 1:
            problems.append(f"sanctions[{i}].id: {sanction.id!r} appears more than once")
        for art in sanction.articles:
            if art not in known:
                problems.append(f"sanctions[{i}].articles: unknown article {art!r}")
    problems.extend(_check_misuse_measures(m.sanctions))
    if m.reporting.warning_after > m.reporting.suspension_after:
        problems.append("reporting.warning_after: must not exceed reporting.suspension_after")
    return problems


def _check_misuse_measures(sanctions: list[SanctionM]) -> list[str]:
    """The [reporting] rules impose these on reporters; they must be in the catalogue, fall
    on an account, and take their length from [reporting]."""
    problems = []
    by_id = {s.id: (i, s) for i, s in enumerate(sanctions)}
    for kind in sorted(MISUSE_MEASURES):
        if kind not in by_id:
            problems.append(f"sanctions: {kind!r} is missing (the [reporting] rules impose it)")
            continue
        i, sanction = by_id[kind]
        if sanction.target != "account":
            problems.append(f"sanctions[{i}].target: {kind} falls on an account")
        if sanction.max_days is not None:
            problems.append(
                f"sanctions[{i}].max_days: {kind} takes its length from [reporting]; remove it"
            )
    return problems


def _to_domain(m: RulebookM) -> rb.Rulebook:
    def text(t: TextM) -> rb.Text:
        return rb.Text(t.zh, t.en)

    c = m.credit
    i = c.inputs
    return rb.Rulebook(
        name=m.rulebook.name,
        jurisdiction=m.rulebook.jurisdiction,
        version=m.rulebook.version,
        effective_from=m.rulebook.effective_from,
        source=m.rulebook.source,
        articles={a.id: rb.Article(a.id, text(a.title), text(a.text)) for a in m.articles},
        categories=tuple(m.categories.ids),
        tiers=rb.TierThresholds(m.tiers.family_private_max, m.tiers.small_max),
        credit=rb.CreditPolicy(
            score_min=c.score_min,
            score_max=c.score_max,
            forgiveness_days=c.forgiveness_days,
            demotion_hysteresis=c.demotion_hysteresis,
            inputs=rb.CreditInputs(
                base=i.base,
                identity_verified=i.identity_verified,
                per_30_days_of_age=i.per_30_days_of_age,
                age_cap=i.age_cap,
                per_active_day=i.per_active_day,
                active_days_window=i.active_days_window,
                active_cap=i.active_cap,
                sanction_penalty=dict(i.sanction_penalty),
                upheld_report_against=dict(i.upheld_report_against),
                report_upheld=i.report_upheld,
                report_unfounded=i.report_unfounded,
                owner_acted_in_time=i.owner_acted_in_time,
                owner_liable=i.owner_liable,
            ),
            levels=tuple(
                rb.CreditLevel(
                    level=lvl.level,
                    name=text(lvl.name),
                    min_score=lvl.min_score,
                    max_score=lvl.max_score,
                    can_post=lvl.can_post,
                    quotas=rb.LevelQuotas(
                        groups_owned=lvl.quotas.groups_owned,
                        groups_joined=lvl.quotas.groups_joined,
                        new_groups_per_day=lvl.quotas.new_groups_per_day,
                        messages_per_minute=lvl.quotas.messages_per_minute,
                        invitations_per_day=lvl.quotas.invitations_per_day,
                        reports_per_day=lvl.quotas.reports_per_day,
                        members_per_group=dict(lvl.quotas.members_per_group),
                    ),
                )
                for lvl in c.levels
            ),
        ),
        accounts_per_identity=m.rulebook.accounts_per_identity,
        report_categories={
            r.id: rb.ReportCategory(
                r.id, text(r.title), r.severity, r.deadline_hours, tuple(r.articles)
            )
            for r in m.report_categories
        },
        sanctions={
            s.id: rb.SanctionKind(
                s.id, text(s.title), rb.SanctionTarget(s.target), tuple(s.articles), s.max_days
            )
            for s in m.sanctions
        },
        retention=rb.Retention(
            m.retention.access_log_days, m.retention.evidence_days, m.retention.audit_days
        ),
        appeal_window_days=m.rulebook.appeal_window_days,
        owner_response_hours=m.rulebook.owner_response_hours,
        activity=rb.ActivityPolicy(m.activity.dormant_after_days, m.activity.busy_messages_per_day),
        info_page_min_members=m.rulebook.info_page_min_members,
        attendance=AttendancePolicy(m.attendance.inactive_days, m.attendance.response_days),
        suspend_tools_under_posting_suspension=(
            m.owner_tools.suspend_tools_under_posting_suspension
        ),
        max_message_chars=m.messages.max_chars,
        uploads=UploadPolicy(
            tuple(m.uploads.max_bytes_by_level),
            m.uploads.max_per_message,
            m.uploads.max_image_pixels,
            m.uploads.unreferenced_hours,
            m.uploads.url_ttl_seconds,
        ),
        conversation=ConversationPolicy(**m.conversation.model_dump()),
        search=rb.SearchPolicy(
            m.search.min_chars,
            m.search.max_chars,
            m.search.max_terms,
            m.search.per_minute,
            m.search.page_max,
        ),
        reporting=rb.ReportingPolicy(
            m.reporting.unfounded_window_days,
            m.reporting.warning_after,
            m.reporting.suspension_after,
            m.reporting.suspension_days,
        ),
    )


def parse_rulebook(data: bytes | str, source: str = "<rulebook>") -> rb.Rulebook:
    try:
        raw = tomllib.loads(data.decode() if isinstance(data, bytes) else data)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise RulebookError(source, [f"not valid TOML: {exc}"]) from None
    try:
        model = RulebookM.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_loc(e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise RulebookError(source, problems) from None
    problems = _cross_check(model)
    if problems:
        raise RulebookError(source, problems)
    return _to_domain(model)


def load_rulebook(path: Path) -> rb.Rulebook:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RulebookError(str(path), [f"cannot read: {exc.strerror}"]) from None
    return parse_rulebook(data, path.name)


def default_rulebook_text() -> str:
    return resources.files("qunzu.policies").joinpath(DEFAULT_RULEBOOK).read_text("utf-8")


def load_rulebooks(paths: list[Path] | None = None) -> rb.RulebookSet:
    """The configured rulebook files, or the packaged default; versions must not collide."""
    if paths:
        books = [load_rulebook(p) for p in paths]
        source = ", ".join(p.name for p in paths)
    else:
        books = [parse_rulebook(default_rulebook_text(), DEFAULT_RULEBOOK)]
        source = DEFAULT_RULEBOOK
    try:
        return rb.RulebookSet(books)
    except ValueError as exc:
        raise RulebookError(source, [str(exc)]) from None
