"""The `mesh` command line: bring the mesh up, materialize, scaffold, preview, test."""

from mesh_platform.cli import authoring, cost, operations, run
from mesh_platform.cli.app import main

__all__ = ["authoring", "cost", "main", "operations", "run"]
