"""The marketplace's discover-and-evaluate commands: search and show."""

from __future__ import annotations

from typing import Any

import click

from mesh_platform.cli.app import (
    dagster_home,
    emit,
    loaded_mesh,
    main,
    mesh_root,
    prepare_environment,
)

_AS_HELP = (
    "Search as this domain: its own internal products are found too (default: only published "
    "products)."
)
_NO_SYNC_HELP = (
    "Read the catalog as last synced (by the `mesh up` sensor or an earlier command) instead "
    "of bringing it in step with the specs, the lake and the Dagster instance first."
)


def _catalog(sync: bool) -> Any:
    """This environment's catalog, first brought in step with the mesh unless `sync` is off
    or nothing it reads changed since its last sync (`marketplace/freshness.py`)."""
    from mesh_platform.catalog import Catalog
    from mesh_platform.config import environment
    from mesh_platform.marketplace.freshness import is_synced, mark_synced, sync_digest

    prepare_environment()
    catalog = Catalog.open(environment.catalog_url())
    if not sync:
        return catalog
    digest = sync_digest(catalog, mesh_root(), environment.lake_root(), dagster_home())
    if not is_synced(catalog, digest):
        _sync(catalog)
        mark_synced(catalog, digest)
    return catalog


def _sync(catalog: Any) -> None:
    """The whole sync: the mesh loaded and planned, the quality history projected, the
    catalog's records brought in step (seconds: Dagster and the planner are loaded)."""
    import dagster as dg

    from mesh_platform.dagster.resources import build_notifier
    from mesh_platform.marketplace import sync_catalog
    from mesh_platform.ops.quality_history import project_checks

    mesh = loaded_mesh()
    with dg.DagsterInstance.get() as instance:
        project_checks(instance, build_notifier(), mesh, alert=False)
        sync_catalog(catalog, mesh, instance=instance)


@main.command()
@click.argument("words", nargs=-1)
@click.option("--domain", help="Only products of this domain.")
@click.option("--tag", help="Only products with this tag (a column's, e.g. pii, or the product's).")
@click.option("--column", help="Only products with a column of this name.")
@click.option("--owner", help="Only products owned by this owner (team:NAME, NAME or an email).")
@click.option("--as", "viewer", metavar="DOMAIN", help=_AS_HELP)
@click.option("--limit", default=20, show_default=True, help="At most this many products.")
@click.option("--no-sync", is_flag=True, help=_NO_SYNC_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with each score's parts).")
def search(
    words: tuple[str, ...],
    domain: str | None,
    tag: str | None,
    column: str | None,
    owner: str | None,
    viewer: str | None,
    limit: int,
    no_sync: bool,
    as_json: bool,
) -> None:
    """Find published products by WORDS (a question) in their names, descriptions, columns
    and tags: any word may match; stop words are ignored, words stemmed, the platform's
    synonyms applied (country finds nation).

    Ranked by relevance, then consumers, quality and freshness; each result shows the parts
    of its score, and the words that matched nothing are named.
    Example: mesh search revenue per customer --tag pii
    """
    from mesh_platform.marketplace import search as find
    from mesh_platform.marketplace.search import unmatched
    from mesh_platform.marketplace.text import render_hits

    catalog = _catalog(not no_sync)
    typed = " ".join(words)
    hits = find(
        catalog,
        typed,
        domain=domain,
        tag=tag,
        column=column,
        owner=owner,
        viewer=viewer,
        limit=limit,
    )
    missing = unmatched(catalog, typed, viewer=viewer) if typed and not as_json else None
    emit(as_json, [h.to_dict() for h in hits], render_hits(hits, typed, missing))


@main.command()
@click.argument("product")
@click.option("--as", "viewer", metavar="DOMAIN", help="Look as this domain (internal products).")
@click.option("--no-sync", is_flag=True, help=_NO_SYNC_HELP)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(product: str, viewer: str | None, no_sync: bool, as_json: bool) -> None:
    """PRODUCT's page (domain.product): its published contract with each column's meaning and
    formula followed upstream, freshness against its SLA, consumers and the columns they read,
    quality rules with their pass rate over time, versions and steps."""
    from mesh_platform.marketplace import product_page
    from mesh_platform.marketplace.text import render_page

    page = product_page(_catalog(not no_sync), None, product, viewer=viewer)
    emit(as_json, page.to_dict(), render_page(page))
