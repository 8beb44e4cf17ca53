"""The search rules in the domain: tokens, query checks with their codes, the exact
match and the snippet (domain/search.py)."""

from __future__ import annotations

import pytest

from qunzu.domain.errors import InvalidInput
from qunzu.domain.search import Query, index_tokens, matches, parse_query, snippet


def q(text: str) -> Query:
    return parse_query(text, 2, 64, 8)


def test_cjk_runs_become_overlapping_pairs_and_words_are_folded() -> None:
    assert index_tokens("晚饭吃了, Zoom会议 ＡＢＣ") == [
        "晚饭",
        "饭吃",
        "吃了",
        "zoom",
        "会议",
        "abc",
    ]


def test_punctuation_and_query_syntax_are_separators_never_tokens() -> None:
    assert index_tokens('"hi" OR near(a*b) 100% a_b') == [
        "hi",
        "or",
        "near",
        "a",
        "b",
        "100",
        "a",
        "b",
    ]


def test_a_chinese_term_matches_as_a_substring_never_across_punctuation() -> None:
    assert matches(q("美国人"), "美国人民的友谊")
    assert not matches(q("美国人"), "美国，国人")
    assert not matches(q("晚饭"), "晚，饭")


def test_a_latin_term_matches_the_start_of_a_word_in_any_case() -> None:
    assert matches(q("MEET"), "Zoom meeting")
    assert not matches(q("eting"), "Zoom meeting")
    assert matches(q("zoom 会议"), "ＺＯＯＭ会议")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("晚", "query_too_short"),
        ("x" * 65, "query_too_long"),
        ("晚饭\x07", "query_control_characters"),
        ("晚饭\u202e", "query_control_characters"),
        ("%_*\"'", "query_has_no_words"),
        ("ab 晚", "query_term_too_short"),
        ("a b c d e f g h i", "query_too_many_terms"),
    ],
)
def test_bad_queries_are_refused_with_a_stable_code(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        q(text)
    assert refused.value.code == code


def test_engine_queries_quote_every_token() -> None:
    query = q('美国人民 "zoom"')
    assert query.fts5() == '"美国 国人 人民" AND "zoom"*'
    assert query.tsquery() == "('美国' <-> '国人' <-> '人民') & 'zoom':*"


def test_the_snippet_marks_each_hit_in_the_original_text() -> None:
    parts = snippet(q("zoom"), "Our ZOOM call, then zoom again")
    assert [p.text for p in parts if p.hit] == ["ZOOM", "zoom"]
    assert "".join(p.text for p in parts) == "Our ZOOM call, then zoom again"


def test_a_long_body_is_cut_around_the_first_hit() -> None:
    parts = snippet(q("晚饭"), "前" * 200 + "晚饭" + "后" * 200, width=40)
    text = "".join(p.text for p in parts)
    assert text.startswith("…") and text.endswith("…") and "晚饭" in text
    assert len(text) == 42
