"""The data product spec and its loaders."""

from mesh_platform.spec.model import (
    AnswersFor,
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
    "AnswersFor",
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
