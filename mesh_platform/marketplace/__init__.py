"""Discover and evaluate: the catalog of published products kept in step with the specs, ODCS
contracts, ranked search, product pages, impact analysis and the breaking-change check.

Only search and the product page load with the package: they read the catalog alone. What
needs the planner (syncing, ODCS, impact, the diff) loads on first use, so that the platform
location's catalog sensor and `mesh search` do not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mesh_platform.marketplace.page import ProductNotFound, ProductPage, product_page
from mesh_platform.marketplace.search import SearchHit, search

if TYPE_CHECKING:
    from mesh_platform.marketplace.diff import Consumer, DiffReport, ProductDiff, diff_contracts
    from mesh_platform.marketplace.diff_changes import Change
    from mesh_platform.marketplace.diff_git import GitRefError, load_at_ref
    from mesh_platform.marketplace.impact import (
        ColumnUse,
        ImpactedProduct,
        ImpactError,
        ImpactReport,
        impact,
    )
    from mesh_platform.marketplace.impact_load import mesh_for_impact, mesh_for_product
    from mesh_platform.marketplace.odcs import ContractError, odcs_document, odcs_yaml
    from mesh_platform.marketplace.sync import SyncReport, sync_catalog

_LAZY = {
    "SyncReport": "sync",
    "sync_catalog": "sync",
    "ContractError": "odcs",
    "odcs_document": "odcs",
    "odcs_yaml": "odcs",
    "ColumnUse": "impact",
    "ImpactError": "impact",
    "ImpactReport": "impact",
    "ImpactedProduct": "impact",
    "impact": "impact",
    "mesh_for_impact": "impact_load",
    "mesh_for_product": "impact_load",
    "Consumer": "diff",
    "DiffReport": "diff",
    "ProductDiff": "diff",
    "diff_contracts": "diff",
    "Change": "diff_changes",
    "GitRefError": "diff_git",
    "load_at_ref": "diff_git",
}

__all__ = [
    "Change",
    "ColumnUse",
    "Consumer",
    "ContractError",
    "DiffReport",
    "GitRefError",
    "ImpactError",
    "ImpactReport",
    "ImpactedProduct",
    "ProductDiff",
    "ProductNotFound",
    "ProductPage",
    "SearchHit",
    "SyncReport",
    "diff_contracts",
    "impact",
    "load_at_ref",
    "mesh_for_impact",
    "mesh_for_product",
    "odcs_document",
    "odcs_yaml",
    "product_page",
    "search",
    "sync_catalog",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"mesh_platform.marketplace.{module}"), name)
