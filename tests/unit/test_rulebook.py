"""The rulebook loader: the default loads, and each kind of bad file is refused precisely."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from qunzu.domain.errors import NotFound
from qunzu.domain.rulebook import RulebookSet
from qunzu.policy import RulebookError, default_rulebook_text, load_rulebooks, parse_rulebook
from tests.rulebooks import SANCTION_KINDS

DEFAULT = default_rulebook_text()


def edited(old: str, new: str, text: str = DEFAULT) -> str:
    assert old in text, f"fixture edit target {old!r} not in the default rulebook"
    return text.replace(old, new, 1)


def refusal(text: str) -> RulebookError:
    with pytest.raises(RulebookError) as info:
        parse_rulebook(text, "test.toml")
    return info.value


def test_default_rulebook_loads_with_five_levels_and_the_closed_sanction_set() -> None:
    book = parse_rulebook(DEFAULT)
    assert [lvl.level for lvl in book.credit.levels] == [0, 1, 2, 3, 4]
    assert set(book.sanctions) == SANCTION_KINDS
    assert book.retention.access_log_days >= 180
    assert book.credit.levels[0].can_post is False


def test_missing_level_is_refused_naming_the_levels_key() -> None:
    text = re.sub(r"\[\[credit\.levels\]\]\nlevel = 2\n.*?\n\n", "", DEFAULT, count=1, flags=re.S)
    error = refusal(text)
    assert any(p.startswith("credit.levels") and "none missing" in p for p in error.problems)


def test_overlapping_score_bands_are_refused() -> None:
    error = refusal(edited("min_score = 500", "min_score = 480"))
    assert any("credit.levels[2].min_score" in p and "overlap" in p for p in error.problems)


def test_gapped_score_bands_are_refused() -> None:
    error = refusal(edited("min_score = 500", "min_score = 520"))
    assert any("credit.levels[2].min_score" in p and "gap" in p for p in error.problems)


def test_unknown_article_reference_is_refused() -> None:
    error = refusal(edited('articles = ["art-9"]', 'articles = ["art-99"]'))
    assert any("report_categories" in p and "art-99" in p for p in error.problems)


def test_negative_quota_is_refused_with_its_key() -> None:
    error = refusal(edited("groups_owned = 3,", "groups_owned = -1,"))
    assert any(p.startswith("credit.levels[1].quotas.groups_owned") for p in error.problems), (
        error.problems
    )


def test_sanction_outside_the_catalogue_is_refused() -> None:
    error = refusal(edited('id = "blacklist"', 'id = "public_shaming"'))
    assert any("public_shaming" in p and "sanctions[" in p for p in error.problems)


def test_a_catalogue_without_a_reporting_measure_is_refused() -> None:
    block = '[[sanctions]]\nid = "reporting_warning"'
    error = refusal(edited(block, '[[sanctions]]\nid = "blacklist_twin"'))
    assert any("'reporting_warning' is missing" in p for p in error.problems), error.problems


def test_a_reporting_measure_with_its_own_length_is_refused() -> None:
    block = 'id = "reporting_suspension"'
    error = refusal(edited(block, block + "\nmax_days = 7"))
    assert any(
        "reporting_suspension takes its length from [reporting]" in p for p in error.problems
    )


def test_effective_date_without_offset_is_refused() -> None:
    error = refusal(edited("2017-10-08T00:00:00+08:00", "2017-10-08T00:00:00"))
    assert any(p.startswith("rulebook.effective_from") for p in error.problems)


def test_log_retention_under_six_months_is_refused() -> None:
    error = refusal(edited("access_log_days = 180", "access_log_days = 90"))
    assert any(p.startswith("retention.access_log_days") for p in error.problems)


def test_not_toml_is_refused() -> None:
    assert "not valid TOML" in str(refusal("this is [not toml"))


def test_versions_whose_effective_dates_collide_are_refused(tmp_path: Path) -> None:
    first = tmp_path / "a.toml"
    second = tmp_path / "b.toml"
    first.write_text(DEFAULT, encoding="utf-8")
    second.write_text(edited('version = "2017.1"', 'version = "2017.2"'), encoding="utf-8")
    with pytest.raises(RulebookError, match="same moment"):
        load_rulebooks([first, second])


def test_in_force_picks_the_version_effective_at_the_moment() -> None:
    v1 = parse_rulebook(DEFAULT)
    v2 = parse_rulebook(
        edited(
            "2017-10-08T00:00:00+08:00",
            "2025-01-01T00:00:00+08:00",
            edited('version = "2017.1"', 'version = "2025.1"'),
        )
    )
    books = RulebookSet([v2, v1])
    assert books.in_force(datetime(2020, 1, 1, tzinfo=UTC)).version == "2017.1"
    assert books.in_force(datetime(2025, 6, 1, tzinfo=UTC)).version == "2025.1"
    with pytest.raises(NotFound) as info:
        books.in_force(datetime(2016, 1, 1, tzinfo=UTC))
    assert info.value.code == "no_rulebook_in_force"


def test_the_same_version_loaded_twice_is_refused(tmp_path: Path) -> None:
    first = tmp_path / "a.toml"
    second = tmp_path / "b.toml"
    first.write_text(DEFAULT, encoding="utf-8")
    second.write_text(
        edited("2017-10-08T00:00:00+08:00", "2025-01-01T00:00:00+08:00"), encoding="utf-8"
    )
    with pytest.raises(RulebookError, match="more than once"):
        load_rulebooks([first, second])


# ---- [messages] ------------------------------------------------------------------------------

MESSAGES = "[messages]\nmax_chars = 4000\n"


def test_the_longest_message_is_the_rulebooks_and_4000_when_not_given() -> None:
    assert parse_rulebook(DEFAULT).max_message_chars == 4000
    assert parse_rulebook(edited(MESSAGES, "")).max_message_chars == 4000
    assert (
        parse_rulebook(edited(MESSAGES, "[messages]\nmax_chars = 280\n")).max_message_chars == 280
    )


@pytest.mark.parametrize("value", ["0", "60001", '"long"'])
def test_a_longest_message_out_of_bounds_is_refused_with_its_key(value: str) -> None:
    err = refusal(edited(MESSAGES, f"[messages]\nmax_chars = {value}\n"))
    assert any(p.startswith("messages.max_chars:") for p in err.problems), err.problems


# ---- [uploads] -------------------------------------------------------------------------------

UPLOADS = (
    "[uploads]\nmax_bytes_by_level = [0, 10485760, 26214400, 52428800, 104857600]\n"
    "max_per_message = 9\nmax_image_pixels = 40000000\nunreferenced_hours = 24\n"
    "url_ttl_seconds = 300\n"
)


def test_upload_limits_are_the_rulebooks_and_the_defaults_when_not_given() -> None:
    assert parse_rulebook(DEFAULT).uploads.max_bytes(1) == 10_485_760
    assert parse_rulebook(edited(UPLOADS, "")).uploads == parse_rulebook(DEFAULT).uploads
    small = parse_rulebook(edited(UPLOADS, "[uploads]\nmax_bytes_by_level = [0, 1000]\n"))
    assert (small.uploads.max_bytes(4), small.uploads.max_per_message) == (1000, 9)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("max_bytes_by_level = []", "uploads.max_bytes_by_level"),
        ("max_bytes_by_level = [0, -1]", "uploads.max_bytes_by_level[1]"),
        ("max_per_message = 0", "uploads.max_per_message"),
        ("max_image_pixels = 0", "uploads.max_image_pixels"),
        ("url_ttl_seconds = 1", "uploads.url_ttl_seconds"),
    ],
)
def test_upload_limits_out_of_bounds_are_refused_with_their_key(line: str, key: str) -> None:
    err = refusal(edited(UPLOADS, f"[uploads]\n{line}\n"))
    assert any(p.startswith(f"{key}:") for p in err.problems), err.problems
