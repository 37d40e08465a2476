"""The quality pass rate over time as an inline SVG line chart, drawn on the server.

No chart library and no script: the page stays a plain document that any browser (and a test)
reads, and every point carries its day and rate as a tooltip (`<title>`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from html import escape

from markupsafe import Markup

WIDTH = 640
HEIGHT = 200
# Room for the y labels on the left and the x labels underneath.
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 12, 28
GOOD = 0.99  # at or above: the point is drawn as passing


def _day(value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _rate(value: float) -> float:
    """A pass rate in [0, 1]; a percentage (over 1) is scaled down."""
    rate = float(value)
    return max(0.0, min(1.0, rate / 100 if rate > 1 else rate))


def pass_rate_chart(series: Sequence[tuple[object, float]], title: str = "pass rate") -> Markup:
    """`series` of (day, pass rate in [0, 1] or percent) as an SVG line chart, days in order.

    An empty series is a small note instead of an empty frame.
    """
    points = [(_day(day), _rate(rate)) for day, rate in series]
    if not points:
        return Markup('<p class="empty" id="quality-chart">No quality results yet.</p>')
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if len(points) == 1 else plot_w * i / (len(points) - 1))

    def y(rate: float) -> float:
        return TOP + plot_h * (1 - rate)

    parts = [
        f'<svg id="quality-chart" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)} over {len(points)} days">',
        f"<title>{escape(title)} over time</title>",
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" '
            f'y1="{y(tick):.1f}" y2="{y(tick):.1f}"/>'
            f'<text class="axis" x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
            f'text-anchor="end">{tick:.0%}</text>'
        )
    path = " ".join(f"{x(i):.1f},{y(rate):.1f}" for i, (_, rate) in enumerate(points))
    parts.append(f'<polyline class="line" points="{path}"/>')
    for i, (day, rate) in enumerate(points):
        status = "pass" if rate >= GOOD else "fail"
        parts.append(
            f'<circle class="point {status}" cx="{x(i):.1f}" cy="{y(rate):.1f}" r="4">'
            f"<title>{escape(day)}: {rate:.1%}</title></circle>"
        )
    labels = [(0, points[0][0])]
    if len(points) > 1:
        labels.append((len(points) - 1, points[-1][0]))
    for i, day in labels:
        anchor = "start" if i == 0 and len(points) > 1 else "end" if i else "middle"
        parts.append(
            f'<text class="axis" x="{x(i):.1f}" y="{HEIGHT - 8}" '
            f'text-anchor="{anchor}">{escape(day)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
