"""The web catalog's pictures, drawn on the server: the quality chart puts each day's pass rate
where it belongs, the lineage graph draws every neighbour as a link with an edge to the product,
and Dagster assets carry the link to their catalog page."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from mesh_platform.web.charts import BOTTOM, HEIGHT, TOP, pass_rate_chart
from mesh_platform.web.lineage import domain_colour, lineage_graph

SVG = "{http://www.w3.org/2000/svg}"


def _svg(markup: str) -> ET.Element:
    # Inline SVG in HTML has no namespace declaration; add it to parse as XML.
    return ET.fromstring(str(markup).replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))


def test_the_chart_puts_each_day_at_its_pass_rate() -> None:
    series = [("2026-11-01", 1.0), ("2026-11-02", 0.5), ("2026-11-03", 0.0), ("2026-11-04", 0.75)]
    svg = _svg(pass_rate_chart(series))
    points = svg.findall(f".//{SVG}circle")
    assert len(points) == 4
    top, bottom = TOP, HEIGHT - BOTTOM
    ys = [float(p.get("cy", "nan")) for p in points]
    for y, (_, rate) in zip(ys, series, strict=True):
        assert y == pytest.approx(bottom - (bottom - top) * rate, abs=0.1)
    xs = [float(p.get("cx", "nan")) for p in points]
    assert xs == sorted(xs) and len(set(xs)) == 4  # days left to right
    assert [p.get("class") for p in points] == [
        "point pass",
        "point fail",
        "point fail",
        "point fail",
    ]
    tips = [p.findtext(f"{SVG}title") for p in points]
    assert tips == [
        "2026-11-01: 100.0%",
        "2026-11-02: 50.0%",
        "2026-11-03: 0.0%",
        "2026-11-04: 75.0%",
    ]
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert "2026-11-01" in labels and "2026-11-04" in labels


def test_percentages_are_read_as_rates_and_an_empty_series_says_so() -> None:
    as_percent = _svg(pass_rate_chart([("d1", 100.0), ("d2", 50.0)]))
    as_rate = _svg(pass_rate_chart([("d1", 1.0), ("d2", 0.5)]))
    cy = [c.get("cy") for c in as_percent.findall(f".//{SVG}circle")]
    assert cy == [c.get("cy") for c in as_rate.findall(f".//{SVG}circle")]
    assert "No quality results yet" in pass_rate_chart([])


def test_text_in_the_chart_is_escaped() -> None:
    svg = _svg(pass_rate_chart([("<b>&", 1.0)], title="a<b"))
    assert svg.findtext(f"{SVG}title") == "a<b over time"


def test_the_lineage_graph_links_every_neighbour_with_an_edge() -> None:
    upstream = ["platform.silver_orders", "platform.silver_customer"]
    downstream = ["marketing.customer_segments", "finance.revenue_by_region", "sales.top"]
    svg = _svg(lineage_graph("sales.customer_revenue", upstream, downstream, lambda n: f"/p/{n}"))
    links = {a.get("data-product"): a for a in svg.findall(f"{SVG}a")}
    assert set(links) == {"sales.customer_revenue", *upstream, *downstream}
    assert all(a.get("href") == f"/p/{name}" for name, a in links.items())
    assert links["sales.customer_revenue"].get("class") == "node current"
    assert len(svg.findall(f"{SVG}path[@class='edge']")) == len(upstream) + len(downstream)
    # Inputs on the left of the product, consumers on its right.
    x = {n: float(a.find(f"{SVG}rect").get("x", "nan")) for n, a in links.items()}  # type: ignore[union-attr]
    centre = x["sales.customer_revenue"]
    assert all(x[n] < centre for n in upstream) and all(x[n] > centre for n in downstream)
    stroke = links["platform.silver_orders"].find(f"{SVG}rect").get("style")  # type: ignore[union-attr]
    assert domain_colour("platform") in (stroke or "")


def test_a_product_without_neighbours_is_drawn_alone() -> None:
    svg = _svg(lineage_graph("a.b", [], [], lambda n: "/x"))
    assert [a.get("data-product") for a in svg.findall(f"{SVG}a")] == ["a.b"]
    assert not svg.findall(f"{SVG}path[@class='edge']")
