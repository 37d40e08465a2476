"""The web catalog's pages served over HTTP, on a generated catalog of 10,000 products.

The catalog is A1's generated one (`bench.catalog.generated_catalog`: 10,000 products of 10
columns, consumers, a week of daily checks, three table versions each), served by the real
server (`CatalogServer`: uvicorn, the Starlette app, the Jinja2 templates, the SVG chart and
graph) on a loopback port, read as it is (no sync). A client on one keep-alive connection asks
for random published products' pages; the figures are wall-clock per page, from the request to
the last byte, after a warm-up that is not counted. Beside them, in the same run: the same
products' page data alone (`product_page` in-process, what `mesh show --no-sync` pays), so the
difference is what rendering and HTTP add; and the search page for a few words beside the
same searches in-process.

Target: the product page under 100 ms p95.
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import select

from mesh_platform.marketplace.models import MarketProduct
from mesh_platform.marketplace.page import product_page
from mesh_platform.marketplace.search import search
from mesh_platform.spec.workspace import repo_root
from mesh_platform.web import CatalogServer, WebSettings
from mesh_platform.web.app import SEARCH_LIMIT

PAGE_TARGET_MS = 100.0
SEED = 9
WARM_UP = 20
WORDS = ("revenue", "customer orders", "monthly revenue", "supplier", "nation")


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[max(0, int(len(ordered) * 0.95) - 1)]


def _timed(call: Callable[[], object], times: int) -> list[float]:
    found = []
    for _ in range(times):
        started = time.perf_counter()
        call()
        found.append((time.perf_counter() - started) * 1000)
    return found


def _getter(connection: http.client.HTTPConnection) -> Callable[[str], bytes]:
    def get(path: str) -> bytes:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status, body[:300])
        return body

    return get


def measure(url: str, pages: int) -> dict[str, float]:
    """Served page, page data and search page times (ms) on the catalog at `url`."""
    from bench.catalog import generated_catalog

    catalog = generated_catalog(url)
    with catalog.session() as session:
        names = list(
            session.scalars(
                select(MarketProduct.name).where(MarketProduct.visibility == "published")
            )
        )
    rng = random.Random(SEED)
    sample = rng.sample(names, min(pages, len(names)))
    settings = WebSettings(repo_root(), url, "http://127.0.0.1:3000", sync=False)
    server = CatalogServer(settings, port=0).start()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    get = _getter(connection)
    try:
        for name in sample[:WARM_UP]:
            get("/products/" + name.replace(".", "/"))
        served: list[float] = []
        data: list[float] = []
        size = 0
        for name in sample:
            path = "/products/" + name.replace(".", "/")
            started = time.perf_counter()
            size += len(get(path))
            served.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            product_page(catalog, None, name)
            data.append((time.perf_counter() - started) * 1000)
        searches: list[float] = []
        found: list[float] = []
        for words in WORDS:
            path = "/search?" + urlencode({"q": words})
            get(path)
            searches += _timed(lambda path=path: get(path), 5)  # type: ignore[misc]
            found += _timed(lambda w=words: search(catalog, w, limit=SEARCH_LIMIT), 5)  # type: ignore[misc]
    finally:
        connection.close()
        server.stop()
    served50, served95 = _percentiles(served)
    data50, data95 = _percentiles(data)
    search50, search95 = _percentiles(searches)
    found50, found95 = _percentiles(found)
    return {
        "page_p50_ms": served50,
        "page_p95_ms": served95,
        "data_p50_ms": data50,
        "data_p95_ms": data95,
        "search_p50_ms": search50,
        "search_p95_ms": search95,
        "found_p50_ms": found50,
        "found_p95_ms": found95,
        "page_kb": size / len(sample) / 1024,
    }


def main() -> None:
    """Build (or reuse) the generated catalog, serve it, print the figures side by side."""
    parser = argparse.ArgumentParser(prog="python -m bench.web", description=__doc__)
    parser.add_argument("--url", help="catalog URL (default: a SQLite file in the temp folder)")
    parser.add_argument("--pages", type=int, default=300, help="product pages asked for")
    args = parser.parse_args()
    folder = Path(tempfile.gettempdir())
    url = args.url or f"sqlite:///{folder / 'mesh-bench-catalog-10000.db'}"
    figures = measure(url, args.pages)
    verdict = "OK" if figures["page_p95_ms"] < PAGE_TARGET_MS else "OVER"
    print(f"web catalog on {url} (10,000 products, {args.pages} random product pages)")
    print(
        f"  product page served  p50 {figures['page_p50_ms']:6.1f} ms  "
        f"p95 {figures['page_p95_ms']:6.1f} ms  target < {PAGE_TARGET_MS:.0f} ms  {verdict}  "
        f"({figures['page_kb']:.0f} KB each)"
    )
    print(
        f"  page data alone      p50 {figures['data_p50_ms']:6.1f} ms  "
        f"p95 {figures['data_p95_ms']:6.1f} ms  (served / data at p95: "
        f"x{figures['page_p95_ms'] / figures['data_p95_ms']:.2f})"
    )
    print(
        f"  search page served   p50 {figures['search_p50_ms']:6.1f} ms  "
        f"p95 {figures['search_p95_ms']:6.1f} ms"
    )
    print(
        f"  search alone         p50 {figures['found_p50_ms']:6.1f} ms  "
        f"p95 {figures['found_p95_ms']:6.1f} ms  (same words, limit {SEARCH_LIMIT}, in-process)"
    )


if __name__ == "__main__":
    main()
