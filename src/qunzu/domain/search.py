"""Message search (消息搜索): what a query means, the tokens an index keeps, the exact test.

Both engines index the same tokens, made here in pure Python (docs/search.md):

- a run of CJK characters gives its overlapping character pairs (晚饭吃了 → 晚饭 饭吃 吃了),
  a lone CJK character itself; so every Chinese string of two or more characters is
  found as a substring, whatever a word segmenter would have made of it;
- a run of other letters and digits gives one word, case-folded (NFKC first, so
  full-width Ｚｏｏｍ is zoom);
- everything else (spaces, punctuation, ``%``, ``_``, quotes, ``*``) separates tokens
  and is never handed to an engine's query syntax.

A query is a list of terms that must all appear: a CJK term as a substring, a word as
the prefix of a word. ``matches`` is the exact rule; an engine finds candidates and
the service keeps those ``matches`` accepts, so an engine can never widen a result.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from qunzu.domain.errors import InvalidInput

# Hiragana and katakana, CJK extension A, unified ideographs, hangul syllables,
# compatibility ideographs, extensions B and later.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003ffff"
# A CJK run, or a run of letters and digits (``\w`` without ``_``: Unicode categories L
# and N, what SQLite's unicode61 keeps in a token, so the engine never splits a token
# made here). One regular expression: a send tokenizes its text, so this is hot.
_RUN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")


def normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    cjk: bool


def runs(text: str) -> list[Run]:
    """The CJK runs and word runs of a normalised text, in order."""
    return [Run(m.group(0), m.group(1) is not None) for m in _RUN.finditer(text)]


def run_tokens(run: Run) -> list[str]:
    if not run.cjk or len(run.text) == 1:
        return [run.text]
    return [run.text[i : i + 2] for i in range(len(run.text) - 1)]


def index_tokens(body: str) -> list[str]:
    """The tokens of a message body, in order (positions matter for phrases). Written
    out rather than through ``runs``: it runs on every send."""
    out: list[str] = []
    for m in _RUN.finditer(normalise(body)):
        text = m.group(0)
        if m.group(1) is None or len(text) == 1:
            out.append(text)
        else:
            out += map(str.__add__, text[:-1], text[1:])
    return out


@dataclass(frozen=True, slots=True)
class Query:
    """A checked query: its terms (normalised runs), all of which must appear."""

    text: str
    terms: tuple[Run, ...]

    def fts5(self) -> str:
        """The FTS5 MATCH expression: each term a quoted phrase, words as prefixes.
        Tokens hold letters and digits only, so quoting them is all the escaping needed."""
        parts = []
        for term in self.terms:
            phrase = '"' + " ".join(run_tokens(term)) + '"'
            parts.append(phrase + "*" if not term.cjk else phrase)
        return " AND ".join(parts)

    def tsquery(self) -> str:
        """The PostgreSQL tsquery text: pairs of a term followed by position, words as prefixes."""
        parts = []
        for term in self.terms:
            lexemes = [f"'{tok}'" for tok in run_tokens(term)]
            parts.append(f"'{term.text}':*" if not term.cjk else "(" + " <-> ".join(lexemes) + ")")
        return " & ".join(parts)


def parse_query(text: str, min_chars: int, max_chars: int, max_terms: int) -> Query:
    """Check a query and split it into terms (every refusal a stable code)."""
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Cf") for ch in text):
        raise InvalidInput(
            "query_control_characters", "A search may not hold control or format characters."
        )
    stripped = text.strip()
    if len(stripped) > max_chars:
        raise InvalidInput(
            "query_too_long", f"A search is at most {max_chars} characters.", max=max_chars
        )
    terms = tuple(runs(normalise(stripped)))
    if not terms:
        raise InvalidInput("query_has_no_words", "A search needs at least one letter or digit.")
    if len(terms) > max_terms:
        raise InvalidInput("query_too_many_terms", f"At most {max_terms} words.", max=max_terms)
    if sum(len(term.text) for term in terms) < min_chars:
        raise InvalidInput(
            "query_too_short", f"A search needs at least {min_chars} characters.", min=min_chars
        )
    if any(term.cjk and len(term.text) < 2 for term in terms):
        raise InvalidInput(
            "query_term_too_short",
            "Each Chinese, Japanese or Korean part of a search needs two characters or more.",
        )
    return Query(stripped, terms)


def matches(query: Query, body: str) -> bool:
    """The exact rule: every CJK term is a substring of a CJK run, every word the prefix
    of a word (after NFKC and case folding)."""
    doc = runs(normalise(body))
    for term in query.terms:
        if term.cjk:
            if not any(r.cjk and term.text in r.text for r in doc):
                return False
        elif not any(not r.cjk and r.text.startswith(term.text) for r in doc):
            return False
    return True


@dataclass(frozen=True, slots=True)
class Segment:
    text: str
    hit: bool


def snippet(query: Query, body: str, width: int = 80) -> list[Segment]:
    """Up to ``width`` characters of the body around the first hit, hits marked.

    Case folding may change a text's length (ß → ss): such a body is shown without
    marks rather than with marks in the wrong place."""
    folded = unicodedata.normalize("NFKC", body)
    lower = folded.casefold()
    if len(lower) != len(folded):
        return [Segment(folded[:width], False)]
    spans: list[tuple[int, int]] = []
    for term in query.terms:
        start = lower.find(term.text)
        while start != -1:
            spans.append((start, start + len(term.text)))
            start = lower.find(term.text, start + len(term.text))
    spans.sort()
    first = spans[0][0] if spans else 0
    begin = max(0, min(first - width // 4, len(folded) - width))
    end = min(len(folded), begin + width)
    out: list[Segment] = []
    pos = begin
    for low, high in spans:
        low, high = max(low, pos), min(high, end)
        if low >= high:
            continue
        if low > pos:
            out.append(Segment(folded[pos:low], False))
        out.append(Segment(folded[low:high], True))
        pos = high
    if pos < end:
        out.append(Segment(folded[pos:end], False))
    if begin > 0:
        out.insert(0, Segment("…", False))
    if end < len(folded):
        out.append(Segment("…", False))
    return out
