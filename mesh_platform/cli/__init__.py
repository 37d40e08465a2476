"""The `mesh` command line: bring the mesh up, materialize, scaffold, preview, test."""

from mesh_platform.cli import authoring, budget, cost, operations, run
from mesh_platform.cli.app import main

__all__ = ["authoring", "budget", "cost", "main", "operations", "run"]
