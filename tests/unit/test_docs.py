"""The documentation is self-contained: every principle and article the code cites has its
section in docs/principles.md, nothing points outside the project, relative links resolve,
and docs/performance.md stays a reference."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRINCIPLES = ROOT / "docs" / "principles.md"
# Where the project's own text lives (code, tests, benchmarks, scripts, docs).
SCANNED = ("src", "tests", "bench", "scripts", "docs")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".sh", ".txt", ".ini", ".mako", ".cfg"}

PRINCIPLE = re.compile(r"\bP([0-9]+)\b")
# "Art. 9", "Arts. 11, 12", "DSA Art. 17", "EU DSA Arts. 15 and 24"
ARTICLES = re.compile(r"\b(DSA )?Arts?\. ([0-9]+(?:(?:, | and )[0-9]+)*)")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)


def project_files(*tops: str) -> Iterator[Path]:
    for top in tops:
        base = ROOT / top
        if base.is_file():
            yield base
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                yield path


def markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    found: set[str] = set()
    for line in FENCE.sub("", markdown).splitlines():
        match = re.match(r"^#{1,6} (.+)$", line)
        if match:
            base = slug(match.group(1))
            n = 0
            name = base
            while name in found:  # GitHub numbers repeated headings: x, x-1, x-2...
                n += 1
                name = f"{base}-{n}"
            found.add(name)
    return found


def cited(pattern: re.Pattern[str], *tops: str) -> dict[str, list[str]]:
    """Each match of ``pattern`` in the project's files -> where it occurs."""
    where: dict[str, list[str]] = {}
    for path in project_files(*tops):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in pattern.finditer(line):
                where.setdefault(match.group(0), []).append(f"{path.relative_to(ROOT)}:{n}")
    return where


def test_every_principle_the_project_cites_has_its_section_in_principles_md() -> None:
    text = PRINCIPLES.read_text(encoding="utf-8")
    headed = {int(n) for n in re.findall(r"^#{1,6} P([0-9]+)\b", text, re.M)}
    cites = cited(PRINCIPLE, "src", "tests", "docs", "README.md")
    numbers = {int(c[1:]) for c in cites}
    assert numbers == set(range(1, 9)), "the code cites P1 to P8 and nothing else"
    missing = {f"P{n}": cites[f"P{n}"][:3] for n in sorted(numbers - headed)}
    assert not missing, f"no heading in docs/principles.md for {missing}"


def test_every_article_the_code_cites_has_a_row_in_principles_md() -> None:
    text = PRINCIPLES.read_text(encoding="utf-8")
    missing: dict[str, list[str]] = {}
    for path in project_files("src", "tests"):
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for match in ARTICLES.finditer(line):
                prefix = "DSA Art." if match.group(1) else "Art."
                for number in re.findall(r"[0-9]+", match.group(2)):
                    row = f"| {prefix} {number} |"
                    if row not in text:
                        missing.setdefault(row, []).append(f"{path.relative_to(ROOT)}:{n}")
    assert not missing, f"docs/principles.md has no table row for {missing}"


def test_nothing_in_the_project_points_at_the_design_notes_outside_it() -> None:
    # Built from parts so that this file does not match itself.
    outside = re.compile("shared" + "/design|" + r"\.\./" + "shared")
    hits = cited(outside, "README.md", "pyproject.toml", *SCANNED)
    assert not hits, f"references outside the project: {hits}"


def test_relative_links_in_readme_and_docs_reach_existing_files_and_headings() -> None:
    broken: list[str] = []
    checked = 0
    for doc in markdown_files():
        for target in LINK.findall(FENCE.sub("", doc.read_text(encoding="utf-8"))):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:...
                continue
            path_part, _, fragment = target.partition("#")
            dest = (doc.parent / path_part).resolve() if path_part else doc
            checked += 1
            if not dest.exists():
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such file)")
            elif not dest.is_relative_to(ROOT):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (outside the project)")
            elif (
                fragment
                and dest.suffix == ".md"
                and fragment not in anchors(dest.read_text(encoding="utf-8"))
            ):
                broken.append(f"{doc.relative_to(ROOT)}: {target} (no such heading)")
    assert checked > 20, "the link pattern found almost nothing: is it still right?"
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_performance_md_is_a_reference_of_at_most_12_kib() -> None:
    size = (ROOT / "docs" / "performance.md").stat().st_size
    assert size <= 12 * 1024, f"docs/performance.md is {size} bytes; history goes to docs/log/"


def test_docs_speak_of_dates_and_commits_not_work_sessions() -> None:
    sessions = re.compile(r"\b(?:this|same|next|last) session\b|\bsessions? [0-9]\b", re.I)
    hits = {
        str(doc.relative_to(ROOT)): sessions.findall(doc.read_text(encoding="utf-8"))
        for doc in markdown_files()
    }
    assert not {k: v for k, v in hits.items() if v}


def test_the_slug_matches_githubs_for_the_headings_we_link_to() -> None:
    assert slug("P7: the owner's duty of care") == "p7-the-owners-duty-of-care"
    assert slug("Recompute: `qunzu credit recompute`") == "recompute-qunzu-credit-recompute"
    assert slug("Fast paths") == "fast-paths"
    assert anchors("# A\n## A\n```\n# not a heading\n```\n") == {"a", "a-1"}
