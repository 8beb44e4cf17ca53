"""Hand-written SVG charts for the public pages, rendered on the server.

No script and no chart library: a chart is an inline ``<svg>`` of rectangles and text,
which the strict CSP allows (presentation attributes, not style attributes). Every chart
names its title for screen readers and sits beside a table of the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 180
BAR_WIDTH = 360
COLOURS = ("#1f5fa8", "#8a1c12", "#0c6b3f", "#6b3a00", "#5b2a86", "#35556b")


def bar_chart(
    title: str, rows: Sequence[tuple[str, float]], unit: str = "", mark: float | None = None
) -> Markup:
    """Horizontal bars, one per row, scaled to the largest value. ``mark`` draws a dashed
    line at that value (a deadline, say) on the same scale."""
    top = max([v for _, v in rows] + ([mark] if mark else []) + [1.0])
    height = max(1, len(rows)) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_WIDTH + 80
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(rows):
        y = GAP + i * (BAR_HEIGHT + GAP)
        length = round(BAR_WIDTH * value / top, 1)
        colour = COLOURS[i % len(COLOURS)]
        shown = f"{value:g}{unit}"
        parts.append(
            f'<text x="{LABEL_WIDTH - 6}" y="{y + 15}" text-anchor="end" font-size="13" '
            f'fill="#222">{escape(label)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length}" height="{BAR_HEIGHT}" '
            f'fill="{colour}"/>'
            f'<text x="{LABEL_WIDTH + length + 6}" y="{y + 15}" font-size="13" '
            f'fill="#222">{escape(shown)}</text>'
        )
    if mark:
        x = LABEL_WIDTH + round(BAR_WIDTH * mark / top, 1)
        parts.append(
            f'<line x1="{x}" y1="0" x2="{x}" y2="{height}" stroke="#8a1c12" '
            f'stroke-dasharray="4 3" stroke-width="2"/>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
