"""Discover and evaluate: the catalog of published products kept in step with the specs, ODCS
contracts, ranked search, product pages, impact analysis and the breaking-change check.

`sync_catalog` loads on first use: searching and showing a page read only the catalog, and
must not pay for the planner that syncing needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mesh_platform.marketplace.page import ProductNotFound, ProductPage, product_page
from mesh_platform.marketplace.search import SearchHit, search

if TYPE_CHECKING:
    from mesh_platform.marketplace.sync import SyncReport, sync_catalog

__all__ = [
    "ProductNotFound",
    "ProductPage",
    "SearchHit",
    "SyncReport",
    "product_page",
    "search",
    "sync_catalog",
]


def __getattr__(name: str) -> Any:
    if name in ("SyncReport", "sync_catalog"):
        from mesh_platform.marketplace import sync

        return getattr(sync, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
