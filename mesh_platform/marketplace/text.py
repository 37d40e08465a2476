"""Search results and product pages as terminal text (`mesh search`, `mesh show`)."""

from __future__ import annotations

import textwrap

from mesh_platform.marketplace.page import ProductPage
from mesh_platform.marketplace.search import SearchHit, Unmatched


def render_hits(hits: list[SearchHit], typed: str, missing: Unmatched | None = None) -> str:
    """Ranked hits, each with its description and why it ranks there; then the words that
    matched nothing (`search.unmatched`), with the products of near names."""
    if not hits:
        return "\n".join(
            [
                (f"no product matches {typed!r}" if typed else "no product matches these filters")
                + " (published products, and your own domain's with --as DOMAIN)",
                *_unmatched(missing),
            ]
        )
    lines = []
    for rank, hit in enumerate(hits, 1):
        internal = "  [internal]" if hit.visibility != "published" else ""
        lines.append(f"{rank:>2}. {hit.product}  score {hit.score:.2f}{internal}")
        lines.append(f"    owners: {', '.join(hit.owners) or '-'}")
        for line in textwrap.wrap(" ".join(hit.description.split()), 92)[:2]:
            lines.append(f"    {line}")
        lines.append(f"    why: {hit.why()}")
    lines.extend(_unmatched(missing))
    lines.append("\n`mesh show PRODUCT` for a product's page; --json for the scores.")
    return "\n".join(lines)


def _unmatched(missing: Unmatched | None) -> list[str]:
    if missing is None or not missing.words:
        return []
    words = ", ".join(repr(w) for w in missing.words)
    lines = [f"matched nothing: {words}"]
    if missing.near:
        lines.append(f"near names: {', '.join(missing.near)}")
    return lines


def render_page(page: ProductPage) -> str:
    """The page's sections, in the order a consumer judges a product."""
    out = [
        *_overview(page),
        "",
        *_columns(page),
        "",
        *_quality(page),
        "",
        *_consumers(page),
        "",
        f"lineage: upstream {', '.join(page.upstream) or '-'}; "
        f"downstream {', '.join(page.downstream) or '-'}",
        "",
        *_versions(page),
        "",
        *_steps(page),
        f"\nspec: {page.spec_path}   Dagster asset: {'/'.join(page.dagster_asset_path)}",
    ]
    return "\n".join(out)


def _overview(page: ProductPage) -> list[str]:
    """Name, version, description, owners, freshness, popularity and quality score."""
    return [
        f"{page.product}  v{page.version}  ({page.visibility})",
        *(f"  {line}" for line in textwrap.wrap(" ".join(page.description.split()), 94)),
        f"owners: {', '.join(page.owners)}   team: {page.team}   on-call: {page.on_call or '-'}",
        f"freshness: {_freshness(page)}",
        f"popularity: {page.consumer_count} consumer(s), {page.reads} read(s) by their runs "
        "in 30 days",
        f"quality: {page.quality_score if page.quality_score is not None else '- (no runs yet)'}",
    ]


def _columns(page: ProductPage) -> list[str]:
    """The contract's columns, each with its formula and its origins upstream."""
    out = ["columns (the published contract):"]
    for c in page.columns:
        tags = f"  [{', '.join(c.tags)}]" if c.tags else ""
        out.append(f"  {c.name:<24} {c.type:<14} {c.description}{tags}")
        if c.formula:
            out.append(f"  {'':<24} = {c.formula}")
        for origin in c.upstream:
            how = f" = {origin.formula}" if origin.formula else ""
            out.append(f"  {'':<24} {'  ' * origin.depth}<- {origin.product}.{origin.column}{how}")
    return out


def _quality(page: ProductPage) -> list[str]:
    """The rules' pass rates, the pass rate by day, and the latest failing samples."""
    out = ["quality rules (pass rate over the last 30 runs):"]
    for r in page.rules:
        rate = f"{100 * r.pass_rate:5.1f}%" if r.pass_rate is not None else "  -   "
        last = {True: "passed", False: "FAILED", None: "not run"}[r.last_passed]
        out.append(
            f"  {r.name:<32} {r.severity:<6} {rate} over {r.evaluations} run(s), last {last}"
        )
    if not page.rules:
        out.append("  none yet (the platform's checks show after the first run)")
    if page.quality_series:
        series = ", ".join(f"{day} {100 * rate:.0f}%" for day, rate in page.quality_series[-7:])
        out.append(f"  by day: {series}")
    for s in page.failing_samples:
        out.append(
            f"  latest failure of {s.check} at {s.at}: {s.failing_count} row(s) "
            f"({s.failing_percent}%), sample {s.sample}"
        )
    return out


def _consumers(page: ProductPage) -> list[str]:
    """The consumers the viewer may see with the columns they read; the others counted."""
    out = ["consumers (and the columns they read):"]
    for consumer in page.consumers:
        out.append(f"  {consumer.consumer} ({consumer.kind}): {', '.join(consumer.columns) or '-'}")
    if page.hidden_consumers:
        out.append(f"  and {page.hidden_consumers} internal product(s) of other domains")
    if not page.consumers and not page.hidden_consumers:
        out.append("  none yet")
    return out


def _versions(page: ProductPage) -> list[str]:
    """The code version, and the table's latest five versions."""
    out = [f"versions: code {page.code_version}; table:"]
    for v in page.table_versions[:5]:
        rows = v.row_count if v.row_count is not None else v.rows_written
        run = f", run {v.run_id[:8]}" if v.run_id else ""
        out.append(f"  v{v.delta_version} {v.at} {v.operation} {rows} rows{run}")
    if not page.table_versions:
        out.append(f"  none yet (`mesh materialize {page.product}`)")
    return out


def _steps(page: ProductPage) -> list[str]:
    """The steps, each with the schema after it."""
    out = ["steps (and the schema after each):"]
    for step in page.steps:
        schema = ", ".join(f"{k} {t}" for k, t in (step.schema or {}).items()) or "unknown"
        out.append(f"  {step.name} ({step.kind}): {schema}")
    return out


def _freshness(page: ProductPage) -> str:
    if page.last_materialized is None:
        return "never materialized"
    sla = f"SLA {page.sla_hours:g} h" if page.sla_hours is not None else "no SLA"
    return f"{page.freshness}: updated {page.age_hours:.1f} h ago ({page.last_materialized}, {sla})"
