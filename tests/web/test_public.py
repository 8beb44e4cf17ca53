"""The public pages, no login: the rulebook's history and a diff between versions, the
transparency report with its SVG charts beside tables of the same numbers, and the CSV."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

from tests.web.conftest import Browser
from tests.web.test_console import reported_case

NewBrowser = Callable[..., Browser]


def test_the_rulebook_history_lists_every_version_without_login(
    new_browser: NewBrowser,
) -> None:
    page = new_browser("en").get("/rulebook/history")
    assert page.status_code == 200 and "in force" in page.text
    assert re.search(r"<td>[0-9A-Za-z.-]+ <span class=\"badge badge-ok\">", page.text)


def test_a_diff_of_a_version_with_itself_shows_no_change_and_unknown_versions_are_404(
    new_browser: NewBrowser,
) -> None:
    b = new_browser("en")
    history = b.get("/rulebook/history").text
    version = re.search(r"<td>([^<\s]+) <span", history)
    assert version
    same = b.get(f"/rulebook/diff?from={version.group(1)}&to={version.group(1)}")
    assert same.status_code == 200 and "No rule differs." in same.text
    for query in ("from=nope&to=nope", "from=&to=", "from=" + "9" * 500):
        assert b.get(f"/rulebook/diff?{query}").status_code == 404


def test_the_transparency_report_has_a_chart_and_a_table_of_the_same_numbers(
    new_browser: NewBrowser,
) -> None:
    reported_case(new_browser, category="threat-to-life")
    b = new_browser("en")
    page = b.get("/transparency").text
    svgs = re.findall(r"<svg[^>]*role=\"img\"[^>]*aria-label=\"([^\"]+)\"", page)
    assert "Reports by category" in svgs
    figure = page.split("<h2>Reports by category</h2>")[1].split("</figure>")[0]
    bars = re.findall(r'font-size="13" fill="#222">([^<]+)</text>', figure)
    rows = re.findall(r'<th scope="row">([^<]+)</th><td>([^<]+)</td>', figure)
    assert rows and bars
    # Each bar's label and value appear in the table, in the same order.
    assert rows == list(zip(bars[0::2], bars[1::2], strict=True))
    assert "<script" not in figure


def test_the_transparency_csv_holds_the_months_figures(new_browser: NewBrowser) -> None:
    reported_case(new_browser, category="threat-to-life")
    b = new_browser("en")
    month = re.search(r'name="period" type="month" value="([0-9-]+)"', b.get("/transparency").text)
    assert month
    response = b.get(f"/transparency.csv?period={month.group(1)}")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["figure", "key", "value"]
    assert any(r[0] == "by_category" and r[1] == "threat-to-life" and int(r[2]) >= 1 for r in rows)


def test_a_bad_or_future_period_falls_back_to_the_current_month(new_browser: NewBrowser) -> None:
    b = new_browser("en")
    current = re.search(r'type="month" value="([0-9-]+)"', b.get("/transparency").text)
    assert current
    for period in ("2999-01", "abcd-ef", "1900-01", "2026-13", "<script>"):
        page = b.get(f"/transparency?period={period}").text
        assert f'type="month" value="{current.group(1)}"' in page, period
