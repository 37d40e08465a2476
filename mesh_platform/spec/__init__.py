"""The data product spec and its loaders."""

from mesh_platform.spec.model import (
    ColumnSpec,
    DomainSpec,
    Freshness,
    LandingSource,
    Partitioning,
    ProductSpec,
    PythonStep,
    QualityRule,
    SqlStep,
    StandardStep,
    Step,
)

__all__ = [
    "ColumnSpec",
    "DomainSpec",
    "Freshness",
    "LandingSource",
    "Partitioning",
    "ProductSpec",
    "PythonStep",
    "QualityRule",
    "SqlStep",
    "StandardStep",
    "Step",
]
