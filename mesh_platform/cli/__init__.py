"""The `mesh` command line: bring the mesh up, materialize, scaffold, preview, test."""

from mesh_platform.cli import authoring, budget, cost, develop, operations, run, serve
from mesh_platform.cli.app import main

__all__ = ["authoring", "budget", "cost", "develop", "main", "operations", "run", "serve"]
