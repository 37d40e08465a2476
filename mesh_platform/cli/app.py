"""The `mesh` command group and what its commands share.

Nothing here imports Dagster, an engine or the planner at import time: `mesh --help` and the
quick commands (list, validate, scaffold, standards, test) never pay for them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from mesh_platform.errors import MeshError


def mesh_root() -> Path:
    """The mesh the commands work on: the checkout holding `domains/` and `workspace.yaml`.

    `spec.workspace.repo_root()` once that module is loaded (a test may point it elsewhere);
    before, the same folder without loading it (it brings the spec model and the sandbox:
    0.3 s a command answered from its kept answer would pay for nothing).
    """
    workspace = sys.modules.get("mesh_platform.spec.workspace")
    if workspace is not None:
        return workspace.repo_root()  # type: ignore[no-any-return]
    return Path(__file__).resolve().parents[2]


def loaded_mesh():
    """The mesh without what spec errors break (warned on stderr); `mesh validate` lists all."""
    from mesh_platform.cli.isolation import healthy_mesh

    return healthy_mesh()


def emit(as_json: bool, data: Any, human: str) -> None:
    click.echo(json.dumps(data, indent=2, default=str) if as_json else human)


def prepare_environment() -> None:
    """Point this process (and what it starts) at the mesh home and Dagster home."""
    from mesh_platform.config.environment import export_for_children

    os.environ.update(export_for_children())


def dagster_home() -> Path:
    """The Dagster instance's folder, its files created first when missing (opening the
    instance creates them): a digest of them taken before that first open would never match
    the ones after it, and the next command would read everything again."""
    from mesh_platform.config import environment
    from mesh_platform.marketplace.freshness import INSTANCE_FILES

    home = environment.dagster_home()
    if not (home / INSTANCE_FILES[0]).exists():
        import dagster as dg

        with dg.DagsterInstance.get():
            pass
    return home


class MeshGroup(click.Group):
    """The command group: an error Mesh raises on purpose is one clean message, no traceback.

    The one place a `MeshError` becomes the command's message and exit status 1 (a SpecError
    with its file, line and fix, a catalog outage with what to check); commands let them rise.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MeshError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=MeshGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mesh", prog_name="mesh", message="%(prog)s %(version)s")
def main() -> None:
    """Mesh: self-serve data products on Dagster.

    State lives in MESH_HOME (default: var/ in the checkout): landing files, the Delta lake
    and the Dagster instance (DAGSTER_HOME, default MESH_HOME/dagster_home).
    """
    import warnings

    # Beta/preview notices about Dagster APIs the platform chose are not the user's concern.
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")
