"""The `mesh` command line: bring the mesh up, materialize, scaffold, preview, test.

Each command's module is imported when the command is asked for (`app.COMMAND_MODULES`):
`mesh search` does not import what `mesh up` needs. `from mesh_platform.cli import run`
imports that module as before.
"""

from mesh_platform.cli.app import main

__all__ = ["main"]
