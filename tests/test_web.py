"""The web catalog, served over real HTTP over the checkout's demo mesh and a catalog of its
own: search with the score's parts, the product page (its published contract, the quality chart
against the day-by-day pass rates, the lineage graph against the specs), impact, the ODCS
document, links to the Dagster UI and back from its assets, and `mesh up`'s port choice. The
SVG renderers are checked on their own first.
"""

from __future__ import annotations

import os
import socket
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
import httpx
import pyarrow as pa
import pytest
import yaml

from mesh_platform.catalog import Catalog, QualityResult
from mesh_platform.cli.serve import start_catalog
from mesh_platform.dagster.metadata import (
    CATALOG_PAGE_KEY,
    definition_metadata,
    materialization_metadata,
)
from mesh_platform.errors import MeshError
from mesh_platform.loader.mesh import Mesh
from mesh_platform.spec.workspace import repo_root
from mesh_platform.web import CatalogServer, WebSettings
from mesh_platform.web.charts import BOTTOM, HEIGHT, TOP, pass_rate_chart
from mesh_platform.web.lineage import domain_colour, lineage_graph
from tests.ui_support import free_port

Response = httpx.Response

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


# --- The pages, over the checkout's demo mesh and a catalog of its own --------------------------

UI = "http://ui.example:3000"
PRODUCT = "sales.customer_revenue"
# Quality results of three days (passed flags per day): the chart must show these rates.
DAYS = {
    datetime(2026, 11, 1, 9, tzinfo=UTC): [True, True, True, True],
    datetime(2026, 11, 2, 9, tzinfo=UTC): [True, False, True, False],
    datetime(2026, 11, 3, 9, tzinfo=UTC): [True, True, True, False],
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'catalog.db'}"
    catalog = Catalog.open(url)
    with catalog.session() as session:
        event = 0
        for at, flags in DAYS.items():
            for i, passed in enumerate(flags):
                event += 1
                session.add(
                    QualityResult(
                        event_id=event,
                        product=PRODUCT,
                        check_name=f"check_{i}",
                        passed=passed,
                        severity="ERROR",
                        evaluated_at=at,
                    )
                )
    settings = WebSettings(mesh_root=repo_root(), catalog_url=url, ui_url=UI)
    server = CatalogServer(settings, port=0).start()
    try:
        # The catalog's URL rides along for the tests that check the database behind the pages.
        headers = {"x-catalog-url": url}
        with httpx.Client(base_url=server.url, timeout=60, headers=headers) as client:
            yield client
    finally:
        server.stop()


VOID = {"meta", "link", "input", "br", "img", "hr"}  # HTML elements without an end tag


class _Tree(HTMLParser):
    """An HTML page as an ElementTree (stdlib only): void elements closed, end tags matched."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.builder = ET.TreeBuilder()
        self.open: list[str] = []
        self.builder.start("document", {})

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.builder.start(tag, {k: v or "" for k, v in attrs})
        if tag in VOID:
            self.builder.end(tag)
        else:
            self.open.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.builder.start(tag, {k: v or "" for k, v in attrs})
        self.builder.end(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert tag in self.open, f"</{tag}> closes nothing"
        while self.open:
            self.builder.end(closing := self.open.pop())
            if closing == tag:
                break

    def handle_data(self, data: str) -> None:
        self.builder.data(data)

    def root(self) -> ET.Element:
        self.close()
        while self.open:
            self.builder.end(self.open.pop())
        self.builder.end("document")
        return self.builder.close()


def _html(response: Response) -> ET.Element:
    assert response.status_code == 200, response.text
    tree = _Tree()
    tree.feed(response.text)
    return tree.root()


def test_search_ranks_products_and_shows_the_score_parts(site: httpx.Client) -> None:
    page = _html(site.get("/search", params={"q": "customer revenue"}))
    hits = page.findall(".//ol[@id='results']/li[@class='hit']")
    names = [hit.findtext(".//a[@class='product']") for hit in hits]
    assert PRODUCT in names
    assert all(
        hit.find(".//a").get("href") == f"/products/{n.replace('.', '/')}"  # type: ignore[union-attr]
        for hit, n in zip(hits, names, strict=True)
    )
    parts = [th.text for th in hits[0].findall(".//table[@class='parts']//th")]
    assert parts == ["relevance", "consumers", "quality", "freshness"]
    scores = [float(hit.findtext(".//strong[@class='score']") or "nan") for hit in hits]
    assert scores == sorted(scores, reverse=True)


def test_search_filters_and_an_empty_result(site: httpx.Client) -> None:
    page = _html(site.get("/search", params={"q": "revenue", "domain": "finance"}))
    names = [a.text for a in page.findall(".//a[@class='product']")]
    assert names and all(name.startswith("finance.") for name in names), names  # type: ignore[union-attr]
    page = _html(site.get("/search", params={"q": "zzzunknownword"}))
    assert "No published product matches" in ET.tostring(page, encoding="unicode")


def test_internal_products_have_no_page_and_are_not_found(site: httpx.Client, mesh: Mesh) -> None:
    internal = [k for k, s in mesh.products.items() if s.spec.visibility != "published"]
    assert internal, "the demo mesh has internal products"
    domain, name = internal[0]
    response = site.get(f"/products/{domain}/{name}")
    assert response.status_code == 404
    assert f"{domain}.{name}" in response.text and "mesh search" in response.text
    page = _html(site.get("/search", params={"q": name.replace("_", " ")}))
    assert f"{domain}.{name}" not in [a.text for a in page.findall(".//a[@class='product']")]


def test_the_product_page_shows_the_published_contract(site: httpx.Client, mesh: Mesh) -> None:
    page = _html(site.get("/products/sales/customer_revenue"))
    spec = mesh.product(PRODUCT).spec
    rows = page.findall(".//table[@id='columns']/tr[@data-column]")
    assert [r.get("data-column") for r in rows] == [c.name for c in spec.columns]
    for row, column in zip(rows, spec.columns, strict=True):
        cells = row.findall("td")
        assert cells[1].findtext("code") == column.type
        assert (cells[2].text or "").strip() == column.description
    assert page.findtext(".//strong[@id='version']") == spec.version
    assert (page.findtext(".//h1/a") or "") == PRODUCT


def test_the_chart_shows_each_days_pass_rate(site: httpx.Client) -> None:
    page = _html(site.get("/products/sales/customer_revenue"))
    svg = page.find(".//svg[@id='quality-chart']")
    assert svg is not None
    tips = [c.findtext("title") for c in svg.findall(".//circle")]
    expected = [f"{at.date()}: {sum(f) / len(f):.1%}" for at, f in DAYS.items()]
    assert tips == expected


def test_the_lineage_graph_shows_inputs_and_consumers(site: httpx.Client, mesh: Mesh) -> None:
    page = _html(site.get("/products/sales/customer_revenue"))
    nodes = {a.get("data-product") for a in page.findall(".//svg[@id='lineage-graph']//a")}
    spec = mesh.product(PRODUCT).spec
    inputs = {".".join(ref) for ref in spec.input_refs().values()}
    readers = {
        ".".join(key)
        for key, source in mesh.products.items()
        if ("sales", "customer_revenue") in source.spec.input_refs().values()
        and source.spec.visibility == "published"
    }
    assert nodes == {PRODUCT} | inputs | readers


def test_every_page_links_to_the_asset_in_the_dagster_ui(site: httpx.Client) -> None:
    for path in ("", "/impact", "/contract"):
        page = _html(site.get(f"/products/sales/customer_revenue{path}"))
        link = page.find(".//a[@id='dagster-link']")
        assert link is not None and link.get("href") == f"{UI}/assets/sales/customer_revenue"


def test_impact_names_downstream_products_and_how(site: httpx.Client) -> None:
    page = _html(site.get("/products/platform/silver_orders/impact"))
    rows = {
        r.get("data-product"): r for r in page.findall(".//table[@id='impact']//tr[@data-product]")
    }
    assert PRODUCT in rows
    formulas = [c.text or "" for c in rows[PRODUCT].findall(".//code")]
    assert any("order_count" in f and "o_orderkey" in f for f in formulas), formulas
    page = _html(
        site.get("/products/platform/silver_orders/impact", params={"column": "o_orderkey"})
    )
    assert page.find(".//table[@id='impact']") is not None


def test_the_odcs_document_is_served_as_yaml(site: httpx.Client) -> None:
    response = site.get("/products/sales/customer_revenue/odcs.yaml")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    document = yaml.safe_load(response.text)
    assert document["id"] == PRODUCT and document["kind"] == "DataContract"
    page = _html(site.get("/products/sales/customer_revenue/contract"))
    assert yaml.safe_load(page.findtext(".//pre[@id='odcs']") or "") == document


def test_pages_load_nothing_from_elsewhere(site: httpx.Client) -> None:
    for path in ("/search?q=revenue", "/products/sales/customer_revenue"):
        page = _html(site.get(path))
        refs = [
            e.get("src") or e.get("href") or ""
            for e in page.iter()
            if e.tag in ("script", "link", "img")
        ]
        assert refs and all(r.startswith("/") for r in refs), refs
    assert site.get("/static/catalog.css").status_code == 200


@pytest.fixture(scope="module")
def mesh() -> Mesh:
    return Mesh.load_healthy(repo_root())


# --- Served: a real HTTP server, the link from Dagster assets, mesh up's port choice ------------


def test_the_server_answers_over_http_and_stops(tmp_path: Path) -> None:
    settings = WebSettings(repo_root(), f"sqlite:///{tmp_path / 'c.db'}", UI)
    server = CatalogServer(settings, port=0).start()
    try:
        with urllib.request.urlopen(f"{server.url}/healthz", timeout=10) as response:
            assert response.read() == b"ok"
        port = server.port
    finally:
        server.stop()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def test_assets_link_to_their_catalog_page(monkeypatch: pytest.MonkeyPatch, mesh: Mesh) -> None:
    monkeypatch.setenv("MESH_CATALOG_WEB_URL", "http://127.0.0.1:4555/")
    source = mesh.product(PRODUCT)
    metadata = definition_metadata(source.spec, mesh.plans[("sales", "customer_revenue")])
    link = metadata[CATALOG_PAGE_KEY]
    assert isinstance(link, dg.UrlMetadataValue)
    assert link.url == "http://127.0.0.1:4555/products/sales/customer_revenue"
    # A materialization does not record it: the definition's link follows the catalog's port.
    recorded = materialization_metadata(
        source.spec, mesh.plans[("sales", "customer_revenue")], pa.table({"x": [1]}), "uri", 0, 0.1
    )
    assert CATALOG_PAGE_KEY not in recorded


def test_mesh_up_takes_the_next_port_or_a_free_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    ui_port = free_port()
    server = start_catalog(repo_root(), UI, ui_port, None)
    try:
        taken = server.port
        assert taken in (ui_port + 1, server.port)
        assert os.environ["MESH_CATALOG_WEB_URL"] == server.url
        # Its port is taken now: the default moves to a free one, an explicit one is refused.
        other = start_catalog(repo_root(), UI, taken - 1, None)
        assert other.port != taken
        other.stop()
        with pytest.raises(MeshError, match="--catalog-port"):
            start_catalog(repo_root(), UI, ui_port, taken)
    finally:
        server.stop()


def test_an_unavailable_catalog_database_is_a_page_saying_so() -> None:
    # A PostgreSQL catalog on a port nothing listens on: the database is down.
    down = f"postgresql+psycopg2://postgres@127.0.0.1:{free_port()}/test"
    settings = WebSettings(repo_root(), down, UI, sync=False)
    server = CatalogServer(settings, port=0).start()
    try:
        # Every page that reads the catalog: the search, a product page, the requests.
        responses = [
            httpx.get(f"{server.url}/search", params={"q": "revenue"}, timeout=30),
            httpx.get(f"{server.url}/products/sales/customer_revenue", timeout=30),
            httpx.get(f"{server.url}/subscriptions", timeout=30),
        ]
    finally:
        server.stop()
    for response in responses:
        assert response.status_code == 503, (response.url, response.text[-500:])
        assert "unavailable" in response.text and "MESH_CATALOG_URL" in response.text


# --- Access: request from the product page, decide on the web (runs last: it adds a consumer) ---


PLATFORM = "ana@example.com"  # a member of the platform team (governance/people.yaml)


def test_request_access_then_approve_on_the_web(site: httpx.Client) -> None:
    from mesh_platform.access import access_state
    from mesh_platform.catalog import audit_entries

    form = {"consumer": "finance", "by": "fay@example.com", "purpose": "regional revenue"}
    asked = site.post(
        "/products/sales/customer_revenue/subscribe",
        data={**form, "columns": ["revenue", "nation"]},
    )
    assert asked.status_code == 303, asked.text
    ident = int(asked.headers["location"].rsplit("/", 1)[1])
    page = _html(site.get(f"/subscriptions/{ident}"))
    assert page.findtext(".//strong[@id='state']") == "requested"
    assert page.find(".//form[@id='approve-form']") is not None
    product = _html(site.get("/products/sales/customer_revenue"))
    rows = product.findall(".//table[@id='subscriptions']/tr[@data-subscription]")
    assert [(r.get("data-subscription"), r.get("data-state")) for r in rows] == [
        (str(ident), "requested")
    ]

    decided = site.post(
        f"/subscriptions/{ident}/approve", data={"by": "ana@example.com", "reason": "fine"}
    )  # ana is of the platform team (governance/people.yaml), which decides PII requests
    assert decided.status_code == 303, decided.text
    catalog = Catalog.open(str(site.headers["x-catalog-url"]))
    state = access_state(catalog, "finance", PRODUCT)
    assert state is not None and state.state == "approved" and state.decided_by == "ana@example.com"
    with catalog.session() as session:
        actions = [
            (e.action, e.actor) for e in audit_entries(session, subject=f"subscription:{ident}")
        ]
    assert ("requested", "fay@example.com") in actions and (
        "approved",
        "ana@example.com",
    ) in actions
    page = _html(site.get(f"/subscriptions/{ident}"))
    assert page.findtext(".//strong[@id='state']") == "approved"
    assert page.find(".//form[@id='revoke-form']") is not None

    # Once only: a second approval changes nothing and says so; a denial now is refused.
    again = site.post(f"/subscriptions/{ident}/approve", data={"by": PLATFORM, "reason": "y"})
    assert again.headers["location"] == f"/subscriptions/{ident}?unchanged=1"
    page = _html(site.get(again.headers["location"]))
    assert "nothing changed" in (page.findtext(".//p[@id='unchanged']") or "")
    state = access_state(catalog, "finance", PRODUCT)
    assert state is not None and state.decided_by == "ana@example.com"
    late = site.post(f"/subscriptions/{ident}/deny", data={"by": PLATFORM, "reason": "y"})
    assert late.status_code == 400 and "is approved" in late.text


def test_forms_from_another_site_or_half_filled_are_refused(site: httpx.Client) -> None:
    from mesh_platform.access import access_state

    forged = site.post(
        "/products/sales/monthly_sales/subscribe",
        data={"consumer": "marketing", "purpose": "x"},
        headers={"origin": "http://evil.example", "sec-fetch-site": "cross-site"},
    )
    assert forged.status_code == 403
    catalog = Catalog.open(str(site.headers["x-catalog-url"]))
    assert access_state(catalog, "marketing", "sales.monthly_sales") is None
    half = site.post("/products/sales/monthly_sales/subscribe", data={"consumer": "marketing"})
    assert half.status_code == 400 and "purpose" in half.text
