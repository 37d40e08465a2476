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


# The module defining each command: `mesh CMD` imports only its own (`mesh --help` all of
# them). A command missing here is still found: then every module is imported.
COMMAND_MODULES = {
    **dict.fromkeys(
        ["subscribe", "subscriptions", "approve", "deny", "revoke", "audit", "domains"], "access"
    ),
    **dict.fromkeys(["list", "validate", "scaffold", "standards"], "authoring"),
    "budget": "budget",
    **dict.fromkeys(["request-clearance", "grant-clearance", "clearances"], "clearances"),
    **dict.fromkeys(["contract", "impact", "diff"], "contracts"),
    "cost": "cost",
    **dict.fromkeys(["preview", "test"], "develop"),
    "grants": "grants",
    **dict.fromkeys(["search", "show"], "marketplace"),
    **dict.fromkeys(["status", "quality"], "operations"),
    **dict.fromkeys(["history", "rollback", "release"], "rollback"),
    **dict.fromkeys(["generate", "materialize"], "run"),
    "up": "serve",
}


def import_commands(name: str | None = None) -> None:
    """Define the command `name` (its module imported), or every command."""
    import importlib

    module = COMMAND_MODULES.get(name or "")
    for found in [module] if module else sorted(set(COMMAND_MODULES.values())):
        importlib.import_module(f"mesh_platform.cli.{found}")


class MeshGroup(click.Group):
    """The command group: an error Mesh raises on purpose is one clean message, no traceback.

    The one place a `MeshError` becomes the command's message and exit status 1 (a SpecError
    with its file, line and fix, a catalog outage with what to check); commands let them rise.
    Each command's module is imported when the command is asked for (`COMMAND_MODULES`).
    """

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            import_commands(cmd_name)
        if cmd_name not in self.commands:  # not where COMMAND_MODULES says: look everywhere
            import_commands()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        import_commands()
        return super().list_commands(ctx)

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
