"""The one place that decides the environment (local / branch / prod) and builds resources.

Nothing else reads the process environment. Resources are built when a code location loads
its definitions, never at import. Secrets reach resources only as `dg.EnvVar`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import dagster as dg

from mesh_platform.lakehouse import Lakehouse
from mesh_platform.mesh import repo_root

Environment = Literal["local", "branch", "prod"]
ENVIRONMENTS: tuple[Environment, ...] = ("local", "branch", "prod")


def current_environment() -> Environment:
    """`MESH_ENV`, `local` when unset."""
    value = os.environ.get("MESH_ENV", "local")
    if value not in ENVIRONMENTS:
        raise ValueError(f"MESH_ENV={value!r}; use one of {', '.join(ENVIRONMENTS)}")
    return value  # type: ignore[return-value]


def mesh_home() -> Path:
    """Where local state lives: `MESH_HOME`, else `var/` in the checkout."""
    return Path(os.environ.get("MESH_HOME") or repo_root() / "var").resolve()


def lake_root() -> str:
    """The lakehouse root: `MESH_LAKE_ROOT` (a folder or object-store URI), else local."""
    return os.environ.get("MESH_LAKE_ROOT") or str(mesh_home() / "lake")


def landing_root() -> str:
    """The landing folder: `MESH_LANDING_ROOT`, else local."""
    return os.environ.get("MESH_LANDING_ROOT") or str(mesh_home() / "landing")


def build_resources() -> dict[str, Any]:
    """The resources every code location gets, for the current environment."""
    environment = current_environment()
    if environment == "prod":
        lakehouse = Lakehouse(
            root=dg.EnvVar("MESH_LAKE_ROOT"), landing_root=dg.EnvVar("MESH_LANDING_ROOT")
        )
    else:
        lakehouse = Lakehouse(root=lake_root(), landing_root=landing_root())
    return {"lakehouse": lakehouse}


def dagster_home() -> Path:
    """The Dagster instance folder: `DAGSTER_HOME`, else `<mesh home>/dagster_home`.

    The checkout's dagster.yaml (the embedded default instance) is copied there when missing.
    """
    home = Path(os.environ.get("DAGSTER_HOME") or mesh_home() / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text((repo_root() / "dagster.yaml").read_text())
    return home


def export_for_children() -> dict[str, str]:
    """The environment for processes Mesh starts (dagster dev, code servers)."""
    env = dict(os.environ)
    env["MESH_HOME"] = str(mesh_home())
    env["DAGSTER_HOME"] = str(dagster_home())
    return env
