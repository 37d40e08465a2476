"""The lineage around a product as an inline SVG graph: inputs left, the product in the middle,
consumers right, each box a link to its own page and coloured by domain."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

BOX_W, BOX_H = 210, 34
COLUMN_GAP = 90
ROW_GAP = 14
PAD = 10
# Domain colours: picked by a stable hash so a domain keeps its colour on every page.
PALETTE = ("#2f6fb0", "#3b8a4f", "#a35d1c", "#7a4ea3", "#b03a5b", "#2b8a8a", "#6b6b2b")


def domain_colour(domain: str) -> str:
    """The colour of a domain's boxes (stable across pages and runs)."""
    digest = hashlib.sha1(domain.encode()).digest()
    return PALETTE[digest[0] % len(PALETTE)]


def _box(name: str, x: float, y: float, href: str, current: bool) -> str:
    domain = name.partition(".")[0]
    label = name if len(name) <= 30 else name[:29] + "…"
    css = "node current" if current else "node"
    return (
        f'<a href="{escape(href)}" class="{css}" data-product="{escape(name)}">'
        f"<title>{escape(name)}</title>"
        f'<rect class="box" x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="6" '
        f'style="stroke:{domain_colour(domain)}"/>'
        f'<rect class="stripe" x="{x:.1f}" y="{y:.1f}" width="6" height="{BOX_H}" rx="2" '
        f'style="fill:{domain_colour(domain)}"/>'
        f'<text x="{x + 14:.1f}" y="{y + BOX_H / 2 + 4:.1f}">{escape(label)}</text></a>'
    )


def _edge(x1: float, y1: float, x2: float, y2: float) -> str:
    middle = (x1 + x2) / 2
    return (
        f'<path class="edge" d="M{x1:.1f},{y1:.1f} C{middle:.1f},{y1:.1f} '
        f'{middle:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" marker-end="url(#arrow)"/>'
    )


def lineage_graph(
    product: str,
    upstream: Sequence[str],
    downstream: Sequence[str],
    href: Callable[[str], str],
) -> Markup:
    """The graph of `product` ("domain.product") between its inputs and its consumers;
    `href` gives each product's page."""
    rows = max(len(upstream), len(downstream), 1)
    height = PAD * 2 + rows * BOX_H + (rows - 1) * ROW_GAP
    width = PAD * 2 + 3 * BOX_W + 2 * COLUMN_GAP
    columns = [PAD, PAD + BOX_W + COLUMN_GAP, PAD + 2 * (BOX_W + COLUMN_GAP)]

    def top(index: int, count: int) -> float:
        block = count * BOX_H + (count - 1) * ROW_GAP
        return (height - block) / 2 + index * (BOX_H + ROW_GAP)

    centre_y = top(0, 1)
    parts = [
        f'<svg id="lineage-graph" class="graph" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(product)}: {len(upstream)} inputs, {len(downstream)} consumers">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
        "</defs>",
    ]
    for i, name in enumerate(upstream):
        y = top(i, len(upstream))
        parts.append(_edge(columns[0] + BOX_W, y + BOX_H / 2, columns[1], centre_y + BOX_H / 2))
        parts.append(_box(name, columns[0], y, href(name), False))
    for i, name in enumerate(downstream):
        y = top(i, len(downstream))
        parts.append(_edge(columns[1] + BOX_W, centre_y + BOX_H / 2, columns[2], y + BOX_H / 2))
        parts.append(_box(name, columns[2], y, href(name), False))
    parts.append(_box(product, columns[1], centre_y, href(product), True))
    parts.append("</svg>")
    return Markup("".join(parts))
