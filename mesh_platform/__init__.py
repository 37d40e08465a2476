"""Mesh: a self-serve data mesh platform on Dagster.

`import mesh_platform` imports nothing heavy: each public name loads its module on first use
(the spec types need pydantic; `DataProduct` and `load_domain` need Dagster), so `mesh --help`
and the quick commands pay only for what they use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mesh_platform.errors import BusinessLogicError, MeshError, PlatformError, SpecError, SpecErrors

if TYPE_CHECKING:
    from mesh_platform.dagster.component import DataProduct
    from mesh_platform.dagster.location import load_domain
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.spec.model import (
        ColumnSpec,
        DomainSpec,
        Partitioning,
        ProductSpec,
        PythonStep,
        QualityRule,
        SqlStep,
        StandardStep,
    )

_SPEC = "mesh_platform.spec.model"
_LAZY = {
    "ColumnSpec": _SPEC,
    "DomainSpec": _SPEC,
    "Partitioning": _SPEC,
    "ProductSpec": _SPEC,
    "PythonStep": _SPEC,
    "QualityRule": _SPEC,
    "SqlStep": _SPEC,
    "StandardStep": _SPEC,
    "DataProduct": "mesh_platform.dagster.component",
    "load_domain": "mesh_platform.dagster.location",
    "Lakehouse": "mesh_platform.lake.lakehouse",
    "Mesh": "mesh_platform.loader.mesh",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mesh_platform' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "BusinessLogicError",
    "ColumnSpec",
    "DataProduct",
    "DomainSpec",
    "Lakehouse",
    "Mesh",
    "MeshError",
    "Partitioning",
    "PlatformError",
    "ProductSpec",
    "PythonStep",
    "QualityRule",
    "SpecError",
    "SpecErrors",
    "SqlStep",
    "StandardStep",
    "load_domain",
]
