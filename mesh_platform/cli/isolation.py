"""The mesh as commands other than `mesh validate` load it: what spec errors break is left out,
with one warning line per broken domain or product on stderr, and the rest goes on."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from mesh_platform.loader.mesh import Mesh


def healthy_mesh() -> Mesh:
    """The mesh without what spec errors break; warns about what was left out."""
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.spec.workspace import repo_root

    mesh = Mesh.load_healthy(repo_root())
    warn_left_out(mesh)
    return mesh


def warn_left_out(mesh: Mesh) -> None:
    """One stderr line per domain that does not load and per product left out."""
    for line in left_out_lines(mesh):
        click.echo(line, err=True)


def left_out_lines(mesh: Mesh) -> list[str]:
    """The warnings `warn_left_out` prints."""
    return [f"warning: {line} (`mesh validate` lists every error)" for line in mesh.warnings()]
