"""Discover and evaluate: the catalog of published products kept in step with the specs, ODCS
contracts, ranked search, product pages, impact analysis and the breaking-change check."""

from mesh_platform.marketplace.page import ProductNotFound, ProductPage, product_page
from mesh_platform.marketplace.search import SearchHit, search
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
