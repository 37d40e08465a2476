"""Fixtures: the whole mesh generated and materialized once per session, in a temp home.

With pytest-xdist workers (`make test`), every file that uses `materialized_mesh` runs on the
same worker (tests/conftest.py), so the mesh is still built once per run."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl
import pytest

if TYPE_CHECKING:
    from mesh_platform.dagster.orchestration import RunSummary
    from mesh_platform.loader.mesh import Mesh

SCALE = 0.01
_ENV_OVERRIDES = ("MESH_ENV", "MESH_LAKE_ROOT", "MESH_LANDING_ROOT")


@dataclass(frozen=True)
class MaterializedMesh:
    """A mesh whose every product was materialized from freshly generated TPC-H data."""

    home: Path
    lake_root: Path
    landing_root: Path
    instance: dg.DagsterInstance
    runs: tuple[RunSummary, ...]  # one per Dagster run, in launch order
    mesh: Mesh

    def table_path(self, product: str) -> Path:
        """The Delta table of `domain.product`."""
        domain, _, name = product.partition(".")
        return self.lake_root / domain / name

    def read(self, product: str) -> pl.DataFrame:
        """The current version of `domain.product`'s Delta table."""
        return pl.read_delta(str(self.table_path(product)))

    def landing(self, table: str) -> pl.DataFrame:
        """A landing export, as the operational source wrote it (every file of a folder)."""
        folder = self.landing_root / table
        if folder.is_dir():
            return pl.read_parquet(folder / "*.parquet")
        return pl.read_parquet(self.landing_root / f"{table}.parquet")


def forget_domains() -> dict[str, ModuleType]:
    """Drop the imported `domains` package and its modules; return them.

    `domains.<d>.definitions` build their resources from MESH_HOME when imported, and a test
    may have left a `domains` package of a temporary mesh in `sys.modules`.
    """
    names = [n for n in sys.modules if n == "domains" or n.startswith("domains.")]
    return {name: sys.modules.pop(name) for name in names}


@pytest.fixture(scope="session")
def materialized_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MaterializedMesh]:
    """Generate TPC-H (scale 0.01), materialize every product of the mesh, yield the result."""
    home = tmp_path_factory.mktemp("mesh_home")
    dagster_home = home / "dagster_home"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESH_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(dagster_home))
        for name in _ENV_OVERRIDES:
            mp.delenv(name, raising=False)
        # Import the domains fresh under this environment; put back the session's afterwards.
        previous = forget_domains()
        try:
            from mesh_platform.dagster.orchestration import materialize_selection, select
            from mesh_platform.dev.sample_data import generate
            from mesh_platform.loader.mesh import Mesh

            landing = home / "landing"
            generate(landing, SCALE)
            mesh = Mesh.load()
            package = importlib.import_module("domains")
            assert Path(package.__file__ or "").parent == mesh.root / "domains", package
            with dg.DagsterInstance.get() as instance:
                runs = materialize_selection(
                    mesh, select(mesh, None), instance, raise_on_failure=False
                )
                yield MaterializedMesh(
                    home=home,
                    lake_root=home / "lake",
                    landing_root=landing,
                    instance=instance,
                    runs=tuple(runs),
                    mesh=mesh,
                )
        finally:
            forget_domains()
            sys.modules.update(previous)
