"""Search and product pages on a generated catalog of 10,000 products with 100,000 columns.

The catalog is written as the sync writes it (`write_products`), with consumers, quality
history, versions and ranking facts, in a SQLite file (or `--url`, e.g. PostgreSQL). Measured
side by side in one run:

- `search()` in-process, over a mix of searches (rare and common words, two words, filters):
  p50 and p95 (target: p95 under 25 ms);
- the whole `mesh search ... --no-sync --json` command in a fresh process, beside it;
- `product_page()` in-process for random products: p50 and p95 (the web page is served from
  it; target for the served page: p95 under 100 ms).

`generated_catalog(url)` builds (or reuses) the catalog; the web benchmark serves it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, func, insert, make_url, select, text, update

from mesh_platform.catalog import Catalog, QualityResult
from mesh_platform.marketplace import product_page, search
from mesh_platform.marketplace.models import (
    MarketConsumer,
    MarketMaterialization,
    MarketProduct,
)
from mesh_platform.marketplace.records import ColumnRecord, ProductRecord, RuleRecord, StepRecord
from mesh_platform.marketplace.sync import remove_products, write_products

MESH = str(Path(sys.executable).parent / "mesh")
SEARCH_TARGET_MS = 25.0
PAGE_TARGET_MS = 100.0
DOMAINS = 100
SEED = 20261126
SUBJECTS = tuple(
    [
        "customer",
        "order",
        "invoice",
        "payment",
        "shipment",
        "parcel",
        "supplier",
        "product",
        "price",
        "discount",
        "revenue",
        "margin",
        "forecast",
        "budget",
        "ledger",
        "account",
        "campaign",
        "click",
        "session",
        "visit",
        "return",
        "refund",
        "stock",
        "warehouse",
        "carrier",
        "region",
        "nation",
        "segment",
        "contract",
        "claim",
        "policy",
        "premium",
        "risk",
        "loan",
        "rate",
    ]
)
QUALIFIERS = tuple(
    [
        "daily",
        "monthly",
        "yearly",
        "net",
        "gross",
        "average",
        "total",
        "active",
        "churned",
        "late",
        "open",
        "closed",
        "top",
        "new",
        "regional",
        "global",
        "weekly",
    ]
)
TYPES = ("bigint", "double", "string", "date", "decimal(15,2)", "boolean")
QUERIES = (
    "revenue",
    "customer",
    "monthly revenue",
    "late shipment",
    "churned customer segment",
    "refund",
    "warehouse stock",
    "premium",
    "invoic",
    "net margin forecast",
)


def _record(index: int, rng: random.Random, columns: int) -> ProductRecord:
    domain = f"d{index % DOMAINS:03d}"
    subject, other = rng.sample(SUBJECTS, 2)
    qualifier = rng.choice(QUALIFIERS)
    name = f"{qualifier}_{subject}_{index:05d}"
    inputs: dict[str, str] = {}
    if index >= DOMAINS:  # read one or two earlier products, often of other domains
        for port in range(rng.randint(1, 2)):
            upstream = rng.randrange(index)
            inputs[f"in{port}"] = _name(upstream, rng_for(upstream))
    cols = tuple(
        ColumnRecord(
            name=f"{rng.choice(SUBJECTS)}_{rng.choice(QUALIFIERS)}_{c}",
            type=rng.choice(TYPES),
            description=f"The {rng.choice(QUALIFIERS)} {rng.choice(SUBJECTS)} of the {other}",
            formula=f"sum(c{c} * 2)" if c % 3 == 0 else "",
            tags=("pii",) if c == 1 and rng.random() < 0.2 else (),
            sources=tuple((ref, f"c{c}") for ref in inputs.values()),
        )
        for c in range(columns)
    )
    return ProductRecord(
        name=f"{domain}.{name}",
        domain=domain,
        product=name,
        visibility="internal" if rng.random() < 0.2 else "published",
        description=f"{qualifier.capitalize()} {subject} by {other}, for the {domain} team.",
        version="1.0.0",
        team=f"{domain}-team",
        owners=(f"team:{domain}-team",),
        on_call=f"{domain}-oncall@example.com",
        tags={"tier": rng.choice(("gold", "silver", "bronze"))},
        freshness_hours=rng.choice((None, 24.0, 26.0, 168.0)),
        schedule=None,
        automation="eager",
        inputs=inputs,
        steps=(StepRecord("step_1", "sql", "SELECT ...", "", {c.name: c.type for c in cols}),),
        rules=(RuleRecord(f"not_null_{cols[0].name}", "not_null", (cols[0].name,), "error", ""),),
        columns=cols,
    )


def rng_for(index: int) -> random.Random:
    """The generator of product `index` (its name is derived from it alone)."""
    return random.Random(SEED + index)


def _name(index: int, rng: random.Random) -> str:
    subject, _ = rng.sample(SUBJECTS, 2)
    return f"d{index % DOMAINS:03d}.{rng.choice(QUALIFIERS)}_{subject}_{index:05d}"


def generated_catalog(url: str, products: int = 10_000, columns_per_product: int = 10) -> Catalog:
    """A catalog at `url` holding `products` generated products (reused when it already does).

    Each has `columns_per_product` columns, reads one or two earlier products, and has
    consumers, two checks evaluated daily for a week, three table versions and ranking facts.
    """
    _create_database(url)
    catalog = Catalog(url)
    with catalog.session() as session:
        held = session.scalar(select(func.count()).select_from(MarketProduct)) or 0
        if held == products:
            return catalog
        # A fresh fill: the statistics below are taken of it.
        remove_products(session, list(session.scalars(select(MarketProduct.id))))
    records = [_record(i, rng_for(i), columns_per_product) for i in range(products)]
    now = datetime.now(UTC)
    rng = random.Random(SEED)
    for start in range(0, products, 1000):
        with catalog.session() as session:
            write_products(session, records[start : start + 1000])
    with catalog.session() as session:
        ids = dict(session.execute(select(MarketProduct.name, MarketProduct.id)).all())
        consumers = [
            {
                "product_id": ids[ref],
                "consumer": r.name,
                "consumer_domain": r.domain,
                "kind": "product",
                "visibility": r.visibility,
                "columns": '["c0", "c1"]',
            }
            for r in records
            for ref in r.inputs.values()
            if ref.split(".")[0] != r.domain
        ]
        session.execute(insert(MarketConsumer), consumers)
        counts: dict[int, int] = {}
        for row in consumers:
            counts[row["product_id"]] = counts.get(row["product_id"], 0) + 1
        facts = [
            {
                "id": ident,
                "consumer_count": counts.get(ident, 0),
                "quality_score": round(rng.uniform(60, 100), 1),
                "last_materialized_epoch": (now - timedelta(hours=rng.uniform(0, 300))).timestamp(),
                "last_row_count": rng.randint(10, 10**7),
                "delta_version": 2,
            }
            for ident in ids.values()
        ]
        session.execute(update(MarketProduct), facts)  # by primary key
        versions = [
            {
                "product_id": ident,
                "delta_version": v,
                "at": now - timedelta(days=3 - v),
                "operation": "WRITE",
                "rows_written": 1000 + v,
                "row_count": 1000 + v,
                "duration_seconds": 1.5,
                "run_id": f"run-{ident}-{v}",
            }
            for ident in ids.values()
            for v in range(3)
        ]
        session.execute(insert(MarketMaterialization), versions)
    _quality_history(catalog, records, now, rng)
    # Statistics and PostgreSQL's visibility map, as a live database has them (autovacuum).
    statement = "VACUUM ANALYZE" if catalog.engine.dialect.name == "postgresql" else "ANALYZE"
    with catalog.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(statement))
    return catalog


def _create_database(url: str) -> None:
    """A PostgreSQL URL's database, created when missing (SQLite creates its file)."""
    target = make_url(url)
    if target.get_backend_name() != "postgresql" or not target.database:
        return
    server = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
        ).first()
        if exists is None:
            connection.execute(text(f'CREATE DATABASE "{target.database}"'))
    server.dispose()


def _quality_history(
    catalog: Catalog, records: list[ProductRecord], now: datetime, rng: random.Random
) -> None:
    event = 0
    rows = []
    for record in records:
        for check in ("contract", record.rules[0].name):
            for day in range(7):
                event += 1
                rows.append(
                    {
                        "event_id": event,
                        "product": record.name,
                        "check_name": check,
                        "passed": rng.random() < 0.9,
                        "severity": "ERROR",
                        "evaluated_at": now - timedelta(days=day),
                    }
                )
    for start in range(0, len(rows), 20_000):
        with catalog.session() as session:
            session.execute(insert(QualityResult), rows[start : start + 20_000])


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def _searches() -> list[dict[str, object]]:
    plain: list[dict[str, object]] = [{"words": q} for q in QUERIES]
    filtered: list[dict[str, object]] = [
        {"words": "revenue", "domain": "d007"},
        {"words": "customer", "tag": "pii"},
        {"words": "", "tag": "tier:gold", "limit": 20},
        {"words": "order", "owner": "d042-team"},
        {"words": "margin", "viewer": "d013"},
    ]
    return plain + filtered


def measure(catalog: Catalog, url: str, repeat: int = 5, pages: int = 200) -> dict[str, float]:
    """The figures, as printed by `main`."""
    searches = _searches()
    for s in searches:  # warm the caches once: steady state is what users meet
        search(catalog, **s)  # type: ignore[arg-type]
    timings, cpu = [], []
    for _ in range(repeat):
        for s in searches:
            started, cpu_started = time.perf_counter(), time.process_time()
            search(catalog, **s)  # type: ignore[arg-type]
            timings.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    s50, s95 = _percentiles(timings)
    _, cpu95 = _percentiles(cpu)
    with catalog.session() as session:
        names = list(
            session.scalars(
                select(MarketProduct.name).where(MarketProduct.visibility == "published")
            )
        )
    rng = random.Random(SEED)
    page_times, page_cpu = [], []
    for name in rng.sample(names, min(pages, len(names))):
        started, cpu_started = time.perf_counter(), time.process_time()
        product_page(catalog, None, name)
        page_times.append((time.perf_counter() - started) * 1000)
        page_cpu.append((time.process_time() - cpu_started) * 1000)
    p50, p95 = _percentiles(page_times)
    _, page_cpu95 = _percentiles(page_cpu)
    env = {**os.environ, "MESH_CATALOG_URL": url}
    command, command_cpu = [], []
    for _ in range(3):
        started = time.perf_counter()
        children = os.times()
        subprocess.run(
            [MESH, "search", "monthly", "revenue", "--no-sync", "--json"],
            env=env,
            check=True,
            capture_output=True,
        )
        command.append((time.perf_counter() - started) * 1000)
        done = os.times()
        spent = done.children_user + done.children_system
        command_cpu.append((spent - children.children_user - children.children_system) * 1000)
    return {
        "search_p50_ms": s50,
        "search_p95_ms": s95,
        "search_cpu_p95_ms": cpu95,
        "command_ms": statistics.median(command),
        "command_cpu_ms": statistics.median(command_cpu),
        "page_p50_ms": p50,
        "page_p95_ms": p95,
        "page_cpu_p95_ms": page_cpu95,
    }


def main() -> None:
    """Build (or reuse) the generated catalog, then print the figures side by side."""
    parser = argparse.ArgumentParser(prog="python -m bench.catalog", description=__doc__)
    parser.add_argument("--url", help="catalog URL (default: a SQLite file in the temp folder)")
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--columns", type=int, default=10, help="columns per product")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of the search mix")
    args = parser.parse_args()
    folder = Path(tempfile.gettempdir())
    url = args.url or f"sqlite:///{folder / f'mesh-bench-catalog-{args.products}.db'}"
    started = time.perf_counter()
    catalog = generated_catalog(url, args.products, args.columns)
    built = time.perf_counter() - started
    figures = measure(catalog, url, args.repeat)
    print(
        f"catalog: {args.products:,} products, {args.products * args.columns:,} columns "
        f"({catalog.engine.dialect.name}; built or reused in {built:.1f} s)"
    )
    load = os.getloadavg()[0]
    print(f"load average {load:.1f} on {os.cpu_count()} cores (wall times grow with it)")
    print(
        f"search in-process   p50 {figures['search_p50_ms']:7.2f} ms  p95 "
        f"{figures['search_p95_ms']:7.2f} ms  CPU p95 {figures['search_cpu_p95_ms']:6.2f} ms  "
        f"(target {SEARCH_TARGET_MS:.0f} ms: x{figures['search_p95_ms'] / SEARCH_TARGET_MS:.2f}"
        f", CPU x{figures['search_cpu_p95_ms'] / SEARCH_TARGET_MS:.2f})"
    )
    print(
        f"mesh search command  {figures['command_ms']:8.0f} ms  CPU {figures['command_cpu_ms']:.0f}"
        f" ms  (whole process, --no-sync; x{figures['command_ms'] / figures['search_p95_ms']:.0f}"
        " the in-process p95)"
    )
    print(
        f"product page data   p50 {figures['page_p50_ms']:7.2f} ms  p95 "
        f"{figures['page_p95_ms']:7.2f} ms  CPU p95 {figures['page_cpu_p95_ms']:6.2f} ms  "
        f"(served-page target {PAGE_TARGET_MS:.0f} ms: "
        f"x{figures['page_p95_ms'] / PAGE_TARGET_MS:.2f})"
    )


if __name__ == "__main__":
    main()
