"""The `mesh` command line: bring the mesh up, materialize, scaffold, preview, test."""

from mesh_platform.cli import (
    access,
    authoring,
    budget,
    clearances,
    contracts,
    cost,
    develop,
    grants,
    marketplace,
    operations,
    rollback,
    run,
    serve,
)
from mesh_platform.cli.app import main

__all__ = [
    "access",
    "authoring",
    "budget",
    "clearances",
    "contracts",
    "cost",
    "develop",
    "grants",
    "main",
    "marketplace",
    "operations",
    "rollback",
    "run",
    "serve",
]
