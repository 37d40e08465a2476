"""The builder page's time to interactive in a real headless browser (Debian's chromium through
Playwright): navigation to `/build/<domain>/<product>` until

- **graph interactive**: the page is parsed, htmx has processed it and SortableJS is attached
  to the steps (a step can be dragged, its buttons post edits), and
- **first rows**: the node panel, asked by htmx on load, shows the selected node's schema and
  sample rows (the preview of the product's last step, `preview_node`); a panel without
  rows (an error) stops the benchmark.

Each load is a new browser context (no cache, no cookies); the first load warms the server (the
engine, the inputs, the node's kept steps) and is printed apart, not counted. The catalog is
either a running one (`--url`, e.g. the one `mesh up` serves, over its MESH_HOME's lake) or
served here (`CatalogServer`) over the checkout's specs with this process's MESH_HOME. The
machine's load average is printed beside the figures: the page is computed on the same cores.

    .venv/bin/python -m bench.builder_page --url http://127.0.0.1:3001 \
        --product marketing.customer_segments
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
INTERACTIVE = """() => {
  const steps = document.querySelector('#steps');
  return !!(window.htmx && window.Sortable && steps && Sortable.get(steps));
}"""
ROWS = """() => !!document.querySelector('#panel #node-view')
  && !document.querySelector('.htmx-request')"""


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, round(len(ordered) * 0.95) - 1)]


def measure(browser: Any, url: str, loads: int = 10, timeout_ms: int = 120_000) -> dict[str, Any]:
    """Times (ms) to graph interactive and to the first rows over `loads` loads of `url` in
    `browser` (a Playwright Browser), after one uncounted warm-up load."""
    interactive: list[float] = []
    rows: list[float] = []
    cold = (0.0, 0.0)
    for attempt in range(loads + 1):
        context = browser.new_context(viewport={"width": 1500, "height": 1000})
        page = context.new_page()
        started = time.perf_counter()
        page.goto(url, wait_until="commit", timeout=timeout_ms)
        page.wait_for_function(INTERACTIVE, timeout=timeout_ms, polling="raf")
        ready = time.perf_counter()
        page.wait_for_function(ROWS, timeout=timeout_ms, polling="raf")
        shown = time.perf_counter()
        rows_shown = page.locator("#node-rows tr + tr").count()
        panel = page.locator("#panel").inner_text()
        context.close()
        if not rows_shown:  # figures of an error or an empty node are no figures of the page
            raise RuntimeError(f"the node panel of {url} shows no rows: {panel[:2000]}")
        if attempt:
            interactive.append((ready - started) * 1000)
            rows.append((shown - started) * 1000)
        else:
            cold = ((ready - started) * 1000, (shown - started) * 1000)
    i50, i95 = _percentiles(interactive)
    r50, r95 = _percentiles(rows)
    return {
        "url": url,
        "loads": loads,
        "interactive_p50_ms": i50,
        "interactive_p95_ms": i95,
        "rows_p50_ms": r50,
        "rows_p95_ms": r95,
        "first_load_ms": cold,
        "load_average": os.getloadavg(),
        "cores": os.cpu_count(),
    }


def report(figures: dict[str, Any]) -> str:
    load = ", ".join(f"{v:.2f}" for v in figures["load_average"])
    return (
        f"builder page {figures['url']} ({figures['loads']} loads, new context each)\n"
        f"  graph interactive  p50 {figures['interactive_p50_ms']:7.0f} ms  "
        f"p95 {figures['interactive_p95_ms']:7.0f} ms\n"
        f"  first rows shown   p50 {figures['rows_p50_ms']:7.0f} ms  "
        f"p95 {figures['rows_p95_ms']:7.0f} ms\n"
        f"  first load (not counted: the server computes and keeps the node's steps) "
        f"{figures['first_load_ms'][0]:.0f} ms interactive, {figures['first_load_ms'][1]:.0f} ms "
        "rows\n"
        f"  load average {load} on {figures['cores']} cores"
    )


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(prog="python -m bench.builder_page", description=__doc__)
    parser.add_argument("--url", help="a running catalog (default: one served here)")
    parser.add_argument("--product", default="marketing.customer_segments")
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--chromium", default=CHROMIUM)
    args = parser.parse_args()
    domain, name = args.product.split(".", 1)
    server = None
    base = args.url
    if base is None:
        from mesh_platform.spec.workspace import repo_root
        from mesh_platform.web import CatalogServer, WebSettings

        root = repo_root()
        catalog = f"sqlite:///{Path('/tmp') / 'mesh-bench-builder-page.db'}"
        server = CatalogServer(WebSettings(root, catalog, "http://127.0.0.1:3000"), port=0)
        base = server.start().url
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True)
            try:
                figures = measure(browser, f"{base.rstrip('/')}/build/{domain}/{name}", args.loads)
            finally:
                browser.close()
    finally:
        if server is not None:
            server.stop()
    print(report(figures))


if __name__ == "__main__":
    main()
