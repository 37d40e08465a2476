"""The builder in a real headless browser (Debian's chromium through Playwright), served by a
real `mesh up` over a COPY of the demo mesh's files (its own MESH_HOME, a copy of the
materialized demo's lake; the checkout's `domains/` is never written): issue 16's "Done when".

A new cross-domain product is built by clicks and typing only: two inputs picked from the
catalog (one needing a subscription, requested from the builder and approved at once by the
access policy), a join, a filter, a derived column, a pseudonymize block on two columns, the
sales segmentation rule and an aggregate, rows seen after each step; the contract, a quality
rule and a daily schedule; saved (the YAML checked), materialized, found in search. Then a
demo product is edited (two steps reordered by drag and drop and by the keyboard buttons, a
parameter changed) and saved as a minimal diff, compared with `git diff` of the copy. Last,
the page's time to interactive (bench/builder_page.py) over the same served mesh.
Screenshots go to a temporary folder; `pytest tests/test_builder_browser.py --docs-images`
writes them to docs/images/builder-*.png, the pictures of docs/builder.md.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable
from playwright.sync_api import Browser, Page, expect, sync_playwright

from bench.builder_page import measure, report
from mesh_platform.spec.workspace import repo_root
from tests.ui_support import VENV_BIN, free_port, graphql, stop_mesh_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
START_SECONDS = 300
PAGE_TIMEOUT_MS = 90_000
RUN_TIMEOUT_MS = 300_000
DOCS_IMAGES = repo_root() / "docs" / "images"
IMAGES = DOCS_IMAGES  # the module's screenshot folder (`screenshots` sets it)
DOMAINS = ("platform", "sales", "finance", "marketing")
NEW = "region_value"
PROCESSED = """() => [...document.querySelectorAll('#block-form [hx-post]')].every(
  (e) => e['htmx-internal-data'] && e['htmx-internal-data'].initHash)"""
SYNC_SECONDS = 180  # the catalog sensor syncs every minute
RUN_QUERY = """{ runOrError(runId: "RUN_ID") { ... on Run { status tags { key value } } } }"""


@pytest.fixture(autouse=True, scope="module")
def screenshots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """docs/images with `--docs-images`, else a temporary folder: a test run leaves the
    checkout's pictures as they are."""
    global IMAGES
    wanted = request.config.getoption("--docs-images")
    IMAGES = DOCS_IMAGES if wanted else tmp_path_factory.mktemp("screenshots")
    return IMAGES


EXPECTED = """\
name: region_value
description: Customer value and revenue per sales region and value segment.
version: 1.0.0
visibility: published
inputs: {revenue: sales.customer_revenue, nation: platform.silver_nation}
schedule: 30 6 * * *
steps:
  - sql: |
      SELECT
        l.c_custkey,
        l.c_name,
        l.c_mktsegment,
        l.nation,
        l.order_count,
        l.revenue,
        r.n_nationkey,
        r.n_name,
        r.n_regionkey,
        r.n_comment
      FROM revenue AS l
      JOIN nation AS r
        ON l.nation = r.n_name
  - sql: |
      SELECT
        c_custkey,
        c_name,
        c_mktsegment,
        nation,
        order_count,
        revenue,
        n_nationkey,
        n_name,
        n_regionkey,
        n_comment
      FROM step_1
      WHERE
        revenue > 0
  - sql: |
      SELECT
        c_custkey,
        c_name,
        c_mktsegment,
        nation,
        order_count,
        revenue,
        n_nationkey,
        n_name,
        n_regionkey,
        n_comment,
        revenue / order_count AS revenue_per_order
      FROM step_2
  - use: pseudonymize
    with: {columns: [c_mktsegment, n_comment]}
  - {use: sales_segmentation}
  - sql: |
      SELECT
        sales_region,
        value_segment,
        sum(revenue) AS total_revenue,
        count(*) AS customers
      FROM step_5
      GROUP BY
        sales_region,
        value_segment
columns:
  - {name: sales_region, type: string}
  - {name: value_segment, type: string}
  - {name: total_revenue, type: double}
  - {name: customers, type: bigint}
quality:
  - {rule: not_null, column: sales_region}
"""
LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus } } } }"""


@dataclass
class Served:
    root: Path
    home: Path
    process: subprocess.Popen[bytes]
    ui_url: str
    catalog_url: str
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_"))}
        env["MESH_HOME"] = str(self.home)
        env["DAGSTER_HOME"] = str(self.home / "dagster_home")
        return env


def _copy_mesh(root: Path) -> None:
    """The demo mesh's spec files under `root`, one code location per domain served from it,
    committed in a git repository of its own (the builder's diff is against its HEAD)."""
    source = repo_root()
    shutil.copytree(
        source / "domains", root / "domains", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(source / "subscriptions.yaml", root / "subscriptions.yaml")
    # The platform's sensors (the catalog's sync among them) watch the checkout by default
    # (`repo_root()`): here they watch the copy, so a saved product reaches the search.
    platform = root / "domains" / "platform" / "definitions.py"
    text = platform.read_text()
    assert "platform_sensors()" in text
    mine = f"platform_sensors(__import__('pathlib').Path({str(root)!r}))"
    platform.write_text(text.replace("platform_sensors()", mine))
    lines = ["load_from:"]
    for domain in DOMAINS:
        lines += [
            "  - python_file:",
            f"      relative_path: domains/{domain}/definitions.py",
            f"      location_name: {domain}",
            f"      working_directory: {root}",
        ]
    (root / "workspace.yaml").write_text("\n".join(lines) + "\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "demo mesh"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=root,
            check=True,
        )


@pytest.fixture(scope="module")
def served(materialized_mesh, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("builder_mesh")
    _copy_mesh(root)
    home = root / "var"
    shutil.copytree(materialized_mesh.home, home)
    (home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    ui_port, catalog_port = free_port(), free_port()
    output = root / "mesh-up.log"
    probe = Served(root, home, None, "", "", output)  # type: ignore[arg-type]
    command = [str(VENV_BIN / "mesh"), "up", "--no-materialize", "--workspace"]
    command += [str(root / "workspace.yaml"), "--port", str(ui_port)]
    command += ["--catalog-port", str(catalog_port)]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=probe.env(),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    ui_url = f"http://127.0.0.1:{ui_port}"
    served = Served(root, home, process, ui_url, f"http://127.0.0.1:{catalog_port}", output)
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
        yield served
    finally:
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
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    opened = context.new_page()
    yield opened
    context.close()


def shot(page: Page, name: str) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"builder-{name}.png"), full_page=True)


def shot_of(page: Page, selector: str, name: str) -> None:
    """A picture of one part of the page (the rest is in the pictures before it)."""
    page.locator(selector).screenshot(path=str(IMAGES / f"builder-{name}.png"))


def settled(page: Page) -> None:
    """htmx has nothing in flight (the workspace and the node panel have been swapped in)."""
    page.wait_for_function("() => !document.querySelector('.htmx-request')")
    expect(page.locator("#panel .meta", has_text="computing")).to_have_count(0)


def add_input(page: Page, product: str, port: str) -> None:
    form = page.locator("#add-input")
    form.locator("select[name=product]").select_option(product)
    form.locator("input[name=port]").fill(port)
    form.locator("button").click()
    expect(page.locator(f"#inputs .node[data-port={port}]")).to_be_visible()
    settled(page)


def open_block(page: Page, key: str) -> None:
    block = page.locator(f"#palette button.block[data-key='{key}']")
    block.locator("xpath=ancestor::details").evaluate("d => d.open = true")
    block.click()
    expect(page.locator(f"#block-form[data-key='{key}']")).to_be_visible()
    settled(page)
    # htmx has processed the form (its fields' triggers are on): typing is seen.
    page.wait_for_function(PROCESSED)


def add_step(page: Page, count: int) -> None:
    """Submit the block form; the step is added and its rows show in the node panel."""
    page.locator("#block-form button[type=submit]").click()
    expect(page.locator("#steps li.node.step")).to_have_count(count)
    settled(page)
    expect(page.locator("#messages .refused")).to_have_count(0)
    expect(page.locator("#node-view")).to_have_attribute("data-index", str(count - 1))
    expect(page.locator("#node-rows tr").nth(1)).to_be_visible()


def test_build_a_cross_domain_product_by_clicks_and_typing(served: Served, page: Page) -> None:
    page.goto(f"{served.catalog_url}/search")
    page.locator("#new-product-links a[data-domain=marketing]").click()
    page.locator("#new-product input[name=name]").fill(NEW)
    page.locator("#new-product input[name=description]").fill(
        "Customer value and revenue per sales region and value segment."
    )
    page.locator("#new-product button").click()
    expect(page.locator("#product-name")).to_have_text(f"marketing.{NEW}")
    add_input(page, "sales.customer_revenue", "revenue")
    add_input(page, "platform.silver_nation", "nation")
    nation = page.locator("#inputs .node[data-port=nation]")
    expect(nation).to_have_attribute("data-state", "none")
    shot(page, "1-inputs")
    nation.locator("form.request-access button").click()
    # Filed from the builder and decided at once by the access policy: the nations carry no
    # tag the policy names (docs/subscriptions.md).
    expect(page.locator("#inputs .node[data-port=nation]")).to_have_attribute(
        "data-state", "approved"
    )

    # The first step reads the first input (customer revenue): joined with the nations.
    open_block(page, "transform:join")
    form = page.locator("#block-form")
    form.locator("select[name='p.input']").select_option("nation")
    form.locator("select[name='p.left_keys']").select_option(["nation"])
    form.locator("select[name='p.right_keys']").select_option(["n_name"])
    add_step(page, 1)
    expect(page.locator("#inputs .node[data-port=nation]")).to_have_attribute(
        "data-state", "approved"
    )
    shot(page, "2-join")
    open_block(page, "transform:filter")
    page.locator("#block-form textarea[name='p.condition']").fill("revenue > 0")
    expect(page.locator("#block-form .check")).to_have_text("expression ok")
    add_step(page, 2)
    open_block(page, "transform:derived")
    page.locator("#block-form input[name='p.name']").fill("revenue_per_order")
    expression = page.locator("#block-form textarea[name='p.expression']")
    expression.fill("revenue / no_such_column")
    expect(page.locator("#block-form .check")).to_contain_text("no_such_column")
    shot(page, "3-expression-check")
    expression.fill("revenue / order_count")
    expect(page.locator("#block-form .check")).to_have_text("expression ok")
    add_step(page, 3)
    # Two columns marketing reads in clear (c_name is pii: masked for it, and a masked value is
    # refused as the input of a keyed standard).
    open_block(page, "standard:pseudonymize")
    page.locator("#block-form select[name='p.columns']").select_option(
        ["c_mktsegment", "n_comment"]
    )
    add_step(page, 4)
    for column in ("c_mktsegment", "n_comment"):  # the formula from column lineage
        row = page.locator(f"#node-schema tr[data-column={column}]")
        expect(row).to_contain_text(f"PSEUDONYMIZE({column})")
    open_block(page, "rule:sales_segmentation")
    page.locator("#block-form select[name='p.nation']").select_option("nation")
    page.locator("#block-form select[name='p.revenue']").select_option("revenue")
    add_step(page, 5)
    open_block(page, "transform:aggregate")
    form = page.locator("#block-form")
    form.locator("select[name='p.group_by']").select_option(["sales_region", "value_segment"])
    form.locator("select[name='p.measures.0.column']").select_option("revenue")
    form.locator("select[name='p.measures.0.fn']").select_option("sum")
    form.locator("input[name='p.measures.0.as']").fill("total_revenue")
    form.locator("select[name='p.measures.1.fn']").select_option("count")
    form.locator("input[name='p.measures.1.as']").fill("customers")
    shot(page, "4-aggregate-form")
    add_step(page, 6)
    shot(page, "5-pipeline")

    # Declared columns first: a published product is read through them.
    page.locator("#declare-columns").click()
    expect(page.locator("#contract-columns tr[data-column=total_revenue]")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    settled(page)
    contract = page.locator("#contract-form")
    contract.locator("select[name=visibility]").select_option("published")
    contract.locator("input[name=version]").fill("1.0.0")
    contract.locator("button").click()
    expect(page.locator("#contract-form select[name=visibility]")).to_have_value("published")
    settled(page)
    rule = page.locator("#rule-form")
    rule.locator("select[name=rule]").select_option("not_null")
    rule.locator("select[name=rule_column]").select_option("sales_region")
    rule.locator("button").click()
    expect(page.locator("#quality-rules li[data-rule=not_null]")).to_be_visible()
    settled(page)
    schedule = page.locator("#schedule-form")
    schedule.locator("input[name=kind][value=daily]").check()
    schedule.locator("input[name=time]").fill("06:30")
    schedule.locator("button").click()
    expect(page.locator("#next-runs li")).to_have_count(5)
    settled(page)
    shot(page, "6-contract")

    page.locator("#save").click()
    expect(page.locator("#saved")).to_be_visible()
    expect(page.locator("#saved")).to_contain_text("passes")
    shot(page, "7-saved")
    saved = served.root / "domains" / "marketing" / "products" / f"{NEW}.yaml"
    # The file a person would write by hand: key order, flow mappings for inputs, columns and
    # parameters, block steps with their SQL as `|` blocks; the rule's parameters are its
    # defaults (nation, revenue), so it is `use:` alone.
    assert saved.read_text() == EXPECTED, saved.read_text()
    checked = subprocess.run(
        [str(VENV_BIN / "mesh"), "validate"],
        cwd=served.root,
        env=served.env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    materialize_and_find(page, served)


def materialize_and_find(page: Page, served: Served) -> None:
    """Materialize: a run of the product's location (reloaded: the product was saved after
    `mesh up` started), its progress polled until SUCCESS, linked to its run in the Dagster
    UI; the product's page then appears in the catalog's search (its sensor syncs it)."""
    page.locator("#materialize").click()
    status = page.locator("#run-status")
    expect(status).to_be_visible(timeout=PAGE_TIMEOUT_MS)  # after the location's reload
    run_id = status.get_attribute("data-run") or ""
    assert len(run_id) == 36, run_id
    expect(page.locator("#run-link")).to_have_attribute("href", f"{served.ui_url}/runs/{run_id}")
    assert status.get_attribute("data-status") not in ("FAILURE", "CANCELED")
    shot_of(page, "#actions", "8-materialize-progress")
    expect(status).to_have_attribute("data-status", "SUCCESS", timeout=RUN_TIMEOUT_MS)
    shot_of(page, "#actions", "8-materialized")
    run = graphql(served.ui_url, RUN_QUERY.replace("RUN_ID", run_id))["runOrError"]
    assert run["status"] == "SUCCESS"
    assert {"mesh/launched_by": "builder"}.items() <= {
        t["key"]: t["value"] for t in run["tags"]
    }.items()
    table = DeltaTable(str(served.home / "lake" / "marketing" / NEW)).to_pyarrow_table()
    assert table.num_rows > 0 and set(table.column_names) >= {"sales_region", "total_revenue"}
    hit = page.locator(f"#results a.product:text-is('marketing.{NEW}')")
    deadline = time.monotonic() + SYNC_SECONDS
    while True:  # the catalog sensor syncs the specs every minute
        page.goto(f"{served.catalog_url}/search?q=region+value")
        if hit.count() or time.monotonic() > deadline:
            break
        time.sleep(5)
    expect(hit).to_be_visible()
    hit.scroll_into_view_if_needed()
    shot(page, "9-search")
    hit.click()
    expect(page.locator("h1")).to_contain_text(f"marketing.{NEW}")


def step_order(page: Page) -> list[str]:
    """The steps' kinds in the draft the page carries (what Save would write)."""
    spec = yaml.safe_load(page.locator("#draft-text").input_value())
    return [next(k for k in s if k in ("sql", "use", "python", "sequence")) for s in spec["steps"]]


def test_edit_a_demo_product_as_a_minimal_diff(served: Served, page: Page) -> None:
    path = served.root / "domains" / "marketing" / "products" / "customer_segments.yaml"
    original = path.read_text()
    page.goto(f"{served.catalog_url}/products/marketing/customer_segments")
    page.locator("#edit-product").click()
    expect(page.locator("#steps li.node.step")).to_have_count(2)
    settled(page)
    assert step_order(page) == ["sql", "use"]
    shot(page, "10-edit")
    # Drag and drop (SortableJS): the second step dropped on the first.
    page.locator("#step-1 .handle").drag_to(page.locator("#step-0"))
    expect(page.locator("#step-0")).to_have_class("node step kind-use")
    settled(page)
    assert step_order(page) == ["use", "sql"]
    # The keyboard alternative: focus a step's move button, press Enter (back, then again).
    for expected in (["sql", "use"], ["use", "sql"]):
        page.locator("#step-0 button.down").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#step-0")).to_have_class(f"node step kind-{expected[0]}")
        settled(page)
        assert step_order(page) == expected
    page.locator("#step-1 button.edit").click()
    sql = page.locator("#block-form textarea[name='p.sql']")
    sql.fill(sql.input_value().replace("FROM customer_revenue", "FROM step_1"))
    page.locator("#block-form button[type=submit]").click()
    settled(page)
    page.locator("#save").click()
    expect(page.locator("#diff")).to_be_visible()
    shot(page, "10-diff")
    new = path.read_text()
    old_lines, new_lines = original.splitlines(), new.splitlines()
    steps = slice(old_lines.index("steps:"), old_lines.index("columns:"))
    # Everything outside the steps is byte-identical; the steps are the same lines, swapped.
    assert old_lines[: steps.start] == new_lines[: steps.start]
    assert old_lines[steps.stop :] == new_lines[len(new_lines) - len(old_lines[steps.stop :]) :]
    expected = yaml.safe_load(original)
    expected["steps"].reverse()
    expected["steps"][1]["sql"] = expected["steps"][1]["sql"].replace(
        "FROM customer_revenue", "FROM step_1"
    )
    assert yaml.safe_load(new) == expected
    # The diff git gives of the copy: only the moved step's lines and the changed one.
    diff = subprocess.run(
        ["git", "diff", "-U0", "--", str(path.relative_to(served.root))],
        cwd=served.root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    removed = [ln[1:] for ln in diff.splitlines() if ln.startswith("-") and ln[:3] != "---"]
    added = [ln[1:] for ln in diff.splitlines() if ln.startswith("+") and ln[:3] != "+++"]
    # git shows one of the two swapped steps as moved: whichever, the lines removed and added
    # are the old steps' lines, and they differ by the changed parameter's line only.
    assert set(removed) <= set(old_lines[steps]), diff
    assert Counter(removed) - Counter(added) == Counter(["      FROM customer_revenue"]), diff
    assert Counter(added) - Counter(removed) == Counter(["      FROM step_1"]), diff
    # The page's diff (Python's difflib) may show the other step as the moved one: it changes
    # the same lines as git's.
    shown = _changes(page.locator("#diff").inner_text())
    assert shown == _changes(diff), page.locator("#diff").inner_text()


def _changes(diff: str) -> tuple[Counter[str], Counter[str]]:
    """The lines a diff removes and adds, net of the lines it moves."""
    lines = diff.splitlines()
    removed = Counter(ln[1:] for ln in lines if ln.startswith("-") and ln[:3] != "---")
    added = Counter(ln[1:] for ln in lines if ln.startswith("+") and ln[:3] != "+++")
    return removed - added, added - removed


def test_page_time_to_interactive(served: Served, browser: Browser) -> None:
    """The builder page of a demo gold product (one the edit above leaves alone), loaded 10
    times (bench/builder_page.py): the figures are printed and written beside the copy
    (docs/benchmarks.md, docs/builder.md)."""
    url = f"{served.catalog_url}/build/marketing/top_customers_by_nation"
    figures = measure(browser, url, 10)
    print(report(figures))
    (served.root / "page-figures.txt").write_text(report(figures) + "\n")
    assert figures["interactive_p95_ms"] < 10_000, figures
