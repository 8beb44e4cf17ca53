"""Public pages, no login (Art. 5: the rules are public; the transparency report): the
rulebook's history and the difference between two versions, and the transparency report
for a month with server-rendered SVG charts, each beside a table of the same numbers, and
the month's figures as CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from qunzu.domain.errors import DomainError
from qunzu.services import records, rulebook
from qunzu.web.charts import bar_chart
from qunzu.web.page import Page, load, render
from qunzu.web.pages_console import status_of

router = APIRouter(include_in_schema=False)

EARLIEST_YEAR = 2017


@router.get("/rulebook/history")
async def history(request: Request) -> Response:
    page = await load(request, login=False)
    versions = rulebook.list_versions(page.ctx)
    return render(page, "rulebook_history.html", title=page.tr("public.history.title"),
                  versions=versions)  # fmt: skip


@router.get("/rulebook/diff")
async def diff(request: Request) -> Response:
    page = await load(request, login=False)
    q = request.query_params
    try:
        old = rulebook.find_version(page.ctx, q.get("from", "")[:32])
        new = rulebook.find_version(page.ctx, q.get("to", "")[:32])
    except DomainError as exc:
        return render(page, "error.html", status=status_of(exc), title=page.tr("public.diff.title"),
                      message=page.tr.error(exc))  # fmt: skip
    return render(
        page,
        "rulebook_diff.html",
        title=page.tr("public.diff.title"),
        old=old,
        new=new,
        changes=rulebook.diff_versions(old, new),
    )


def _month(page: Page, raw: str | None) -> tuple[datetime, datetime, str]:
    """The month asked for (``YYYY-MM``), else the current one; never one before the
    rulebook's first year nor after this month."""
    now = page.now()
    year, month = now.year, now.month
    if raw and len(raw) == 7 and raw[4] == "-" and raw[:4].isdigit() and raw[5:].isdigit():
        y, m = int(raw[:4]), int(raw[5:])
        if y >= EARLIEST_YEAR and 1 <= m <= 12 and (y, m) <= (now.year, now.month):
            year, month = y, m
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end, f"{year:04d}-{month:02d}"


def _label(page: Page, group: str, key: str) -> str:
    book = page.ctx.rulebooks.in_force(page.now())
    if group == "by_category" and key in book.report_categories:
        t = book.report_categories[key].title
        return page.tr.pick(t.zh, t.en)
    if group == "sanctions" and key in book.sanctions:
        t = book.sanctions[key].title
        return page.tr.pick(t.zh, t.en)
    name = f"public.value.{key}"
    return page.tr(name) if page.tr.has(name) else key


def _charts(page: Page, figures: dict[str, Any]) -> list[dict[str, Any]]:
    """One chart per figure group: its title, the SVG and the rows of its table."""
    charts = []
    for group in ("by_category", "by_route", "by_decision", "sanctions"):
        rows = sorted(
            ((_label(page, group, k), float(v)) for k, v in figures[group].items()),
            key=lambda r: -r[1],
        )
        title = page.tr(f"public.chart.{group}")
        charts.append({"title": title, "svg": bar_chart(title, rows), "rows": rows})
    categories = page.ctx.rulebooks.in_force(page.now()).report_categories.values()
    deadline = float(
        min((c.deadline_hours for c in categories if c.severity != "severe"), default=24)
    )
    timing = [
        (page.tr("public.value.median"), float(figures["median_hours_to_decision"] or 0)),
        (page.tr("public.value.p90"), float(figures["p90_hours_to_decision"] or 0)),
    ]
    title = page.tr("public.chart.time", hours=int(deadline))
    charts.append({"title": title, "svg": bar_chart(title, timing, " h", mark=deadline),
                   "rows": timing})  # fmt: skip
    appeals = [
        (page.tr("public.value.appeals"), float(figures["appeals"])),
        (page.tr("public.value.appeals_decided"), float(figures["appeals_decided"])),
        (page.tr("public.value.appeals_overturned"), float(figures["appeals_overturned"])),
    ]
    title = page.tr("public.chart.appeals")
    charts.append({"title": title, "svg": bar_chart(title, appeals), "rows": appeals})
    return charts


@router.get("/transparency")
async def transparency(request: Request) -> Response:
    page = await load(request, login=False)
    start, end, month = _month(page, request.query_params.get("period"))
    figures = await records.published_transparency(page.ctx, start, end)
    return render(
        page,
        "transparency.html",
        title=page.tr("public.transparency.title"),
        month=month,
        figures=figures,
        charts=_charts(page, figures),
    )


@router.get("/transparency.csv")
async def transparency_csv(request: Request) -> Response:
    """The month's figures, one ``figure,key,value`` line each."""
    page = await load(request, login=False)
    start, end, month = _month(page, request.query_params.get("period"))
    figures = await records.published_transparency(page.ctx, start, end)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["figure", "key", "value"])
    for name, value in figures.items():
        if name == "period":
            continue
        if isinstance(value, dict):
            for key, count in sorted(value.items()):
                writer.writerow([name, key, count])
        else:
            writer.writerow([name, "", "" if value is None else value])
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="transparency-{month}.csv"'},
    )
