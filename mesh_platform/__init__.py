"""Mesh: a self-serve data mesh platform on Dagster."""

from mesh_platform.component import DataProduct
from mesh_platform.domain import load_domain
from mesh_platform.errors import BusinessLogicError, MeshError, PlatformError, SpecError, SpecErrors
from mesh_platform.lakehouse import Lakehouse
from mesh_platform.mesh import Mesh
from mesh_platform.spec import (
    ColumnSpec,
    DomainSpec,
    Partitioning,
    ProductSpec,
    PythonStep,
    QualityRule,
    SqlStep,
    StandardStep,
)

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
