"""The web catalog in a real headless browser (Debian's chromium through Playwright), served by
a real `mesh up` over the materialized demo mesh: search, open a product page, see the quality
chart and the lineage graph, follow the link to the asset in the Dagster UI, and come back
through the asset's catalog link; request access from the product page and approve it. Ctrl-C
stops the catalog with the UI.

The tests share one `mesh up` and one browser and run in order; the last one stops mesh up.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from mesh_platform.spec.workspace import repo_root
from tests.ui_support import VENV_BIN, free_port, graphql, stop_mesh_up

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
START_SECONDS = 300
# The Dagster UI is a large single-page app and the machine is small and shared.
UI_TIMEOUT_MS = 90_000
PAGE_TIMEOUT_MS = 60_000
PRODUCT = "sales.customer_revenue"

LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus } } } }"""

CATALOG_LINK_QUERY = """{ assetNodeOrError(assetKey: {path: ["sales", "customer_revenue"]}) {
  ... on AssetNode { metadataEntries { label ... on UrlMetadataEntry { url } } } } }"""


@dataclass
class Served:
    """`mesh up` serving the UI and the web catalog over the materialized demo mesh."""

    process: subprocess.Popen[bytes]
    ui_url: str
    catalog_url: str
    catalog_port: int
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture(scope="module")
def served(materialized_mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    ui_port, catalog_port = free_port(), free_port()
    output = tmp_path_factory.mktemp("web") / "mesh-up.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_"))}
    env["MESH_HOME"] = str(materialized_mesh.home)
    env["DAGSTER_HOME"] = str(materialized_mesh.home / "dagster_home")
    # The quality history as the daemon's sensor would project it, and the catalog synced:
    # what `mesh show` does first (so the chart has the demo's checks without waiting).
    shown = subprocess.run(
        [str(VENV_BIN / "mesh"), "show", PRODUCT],
        cwd=repo_root(),
        env=env,
        capture_output=True,
        text=True,
        timeout=START_SECONDS,
    )
    assert shown.returncode == 0, shown.stderr
    command = [str(VENV_BIN / "mesh"), "up", "--no-materialize"]
    command += ["--port", str(ui_port), "--catalog-port", str(catalog_port)]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=repo_root(),
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ui_url = f"http://127.0.0.1:{ui_port}"
    catalog_url = f"http://127.0.0.1:{catalog_port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while f"serving at {ui_url}" not in output.read_text():
            assert process.poll() is None, f"mesh up exited:\n{output.read_text()}"
            assert time.monotonic() < deadline, f"not serving after {START_SECONDS} s"
            time.sleep(0.5)
        while True:
            entries = graphql(ui_url, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                break
            assert time.monotonic() < deadline, f"locations not loaded: {entries}"
            time.sleep(1)
        yield Served(process, ui_url, catalog_url, catalog_port, output)
    finally:
        if process.poll() is None:  # the last test stops it; else SIGTERM, then a forced kill
            stop_mesh_up(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert Path(CHROMIUM).exists(), f"no chromium at {CHROMIUM}: run `make install`"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def test_mesh_up_announces_the_web_catalog(served: Served) -> None:
    assert f"the web catalog at {served.catalog_url}" in served.text()


def test_search_then_open_the_product_page_with_its_chart_and_graph(
    served: Served, page: Page
) -> None:
    page.goto(f"{served.catalog_url}/search")
    page.locator("#search-form input[name=q]").fill("customer revenue")
    page.locator("#search-form button").click()
    results = page.locator("#results li.hit")
    expect(results.first).to_be_visible()
    hit = results.filter(has=page.locator(f"a.product:text-is('{PRODUCT}')"))
    expect(hit).to_have_count(1)
    expect(hit.locator("table.parts th")).to_contain_text(["relevance", "consumers"])
    hit.locator("a.product").click()
    expect(page).to_have_url(f"{served.catalog_url}/products/sales/customer_revenue")
    expect(page.locator("h1")).to_contain_text(PRODUCT)
    chart = page.locator("#quality-chart")
    expect(chart).to_be_visible()
    assert chart.locator("circle").count() >= 1, "the chart has no point"
    graph = page.locator("#lineage-graph")
    expect(graph).to_be_visible()
    expect(graph.locator("a.node.current")).to_have_attribute("data-product", PRODUCT)
    # The demo's customer_revenue reads silver orders and customers from the platform domain.
    upstream = graph.locator("a.node:not(.current)").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('data-product'))"
    )
    assert any(name.startswith("platform.") for name in upstream), upstream


def test_a_neighbour_in_the_graph_opens_its_own_page(served: Served, page: Page) -> None:
    page.goto(f"{served.catalog_url}/products/sales/customer_revenue")
    neighbour = page.locator("#lineage-graph a.node:not(.current)").first
    name = neighbour.get_attribute("data-product")
    assert name
    neighbour.click()
    expect(page.locator("h1")).to_contain_text(name)


def test_the_product_page_links_to_the_asset_in_the_dagster_ui(served: Served, page: Page) -> None:
    page.goto(f"{served.catalog_url}/products/sales/customer_revenue")
    link = page.locator("#dagster-link")
    expect(link).to_have_attribute("href", f"{served.ui_url}/assets/sales/customer_revenue")
    link.click()
    expect(page).to_have_url(
        re.compile(re.escape(f"{served.ui_url}/assets/sales/customer_revenue"))
    )
    # The UI renders the asset (its key and its metadata, including the link back).
    expect(page.get_by_text("customer_revenue").first).to_be_visible(timeout=UI_TIMEOUT_MS)
    back = page.locator(f"a[href='{served.catalog_url}/products/sales/customer_revenue']")
    expect(back.first).to_be_attached(timeout=UI_TIMEOUT_MS)


def test_the_asset_metadata_links_back_to_the_catalog_page(served: Served, page: Page) -> None:
    data = graphql(served.ui_url, CATALOG_LINK_QUERY)["assetNodeOrError"]
    links = {e["label"]: e.get("url") for e in data["metadataEntries"]}
    url = links["mesh/catalog_page"]
    assert url == f"{served.catalog_url}/products/sales/customer_revenue"
    page.goto(url)
    expect(page.locator("h1")).to_contain_text(PRODUCT)


def test_impact_and_contract_pages_from_the_product_page(served: Served, page: Page) -> None:
    page.goto(f"{served.catalog_url}/products/sales/customer_revenue")
    page.locator("nav.product-nav a", has_text="ODCS contract").click()
    expect(page.locator("#odcs")).to_contain_text("apiVersion")
    page.locator("nav.product-nav a", has_text="Impact").click()
    expect(page.locator("#impact-summary")).to_be_visible()


def test_request_access_from_the_product_page_and_approve_it(served: Served, page: Page) -> None:
    page.goto(f"{served.catalog_url}/products/sales/customer_revenue")
    details = page.locator("#request-access")
    if details.get_attribute("open") is None:  # folded when the product has subscriptions
        details.locator("summary").click()
    form = details.locator("form")
    form.locator("input[name=consumer]").fill("finance")
    form.locator("input[name=by]").fill("fay@example.com")
    form.locator("input[name=purpose]").fill("revenue by region")
    form.locator("input[name=columns][value=revenue]").check()
    form.locator("button").click()
    expect(page.locator("#state")).to_have_text("requested")
    decision = page.locator("#approve-form")
    decision.locator("input[name=by]").fill("ana@example.com")  # of the platform team
    decision.locator("input[name=reason]").fill("regional reporting is fine")
    decision.locator("button").click()
    expect(page.locator("#state")).to_have_text("approved")
    expect(page.locator("#history")).to_contain_text("approved by ana@example.com")
    page.goto(f"{served.catalog_url}/products/sales/customer_revenue")
    row = page.locator("#subscriptions tr[data-subscription]", has_text="finance")
    expect(row).to_have_attribute("data-state", "approved")


def test_ctrl_c_stops_the_catalog_with_the_ui(served: Served) -> None:
    stop_mesh_up(served.process, signal.SIGINT)  # every process it started is gone
    assert served.process.returncode == 0, served.text()
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", served.catalog_port)) != 0, "catalog still serving"
