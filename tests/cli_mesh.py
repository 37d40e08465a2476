"""A small mesh in a temporary folder that the `mesh` command works on, as it works on the
checkout: code locations (`domains/<d>/definitions.py`), workspace.yaml, landing files and a
fresh MESH_HOME and Dagster instance."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner, Result

from mesh_platform.cli import main
from mesh_platform.spec import workspace
from tests.fixtures_mesh import forget_domains
from tests.mini_mesh import write_mesh

DEFINITIONS = "from mesh_platform import load_domain\n\ndefs = load_domain(__file__)\n"
# A published landing product many CLI tests build on: shop.orders (id, amount).
ORDERS = """\
name: orders
description: Orders, as the shop exports them.
visibility: published
source: {landing: orders}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
"""

_ENV_OVERRIDES = ("MESH_ENV", "MESH_LAKE_ROOT", "MESH_LANDING_ROOT", "MESH_UI_URL")


@dataclass(frozen=True)
class CliMesh:
    """The mesh under `root`, with its own MESH_HOME; `run` invokes `mesh` on it."""

    root: Path
    home: Path

    @property
    def env(self) -> dict[str, str | None]:
        """The environment of a command on this mesh."""
        env: dict[str, str | None] = {name: None for name in _ENV_OVERRIDES}
        return env | {"MESH_HOME": str(self.home), "DAGSTER_HOME": str(self.home / "dagster")}

    def run(self, *args: str) -> Result:
        """`mesh ARGS` on this mesh; stderr is kept apart from stdout."""
        return CliRunner().invoke(main, list(args), env=self.env)

    def land(self, table: str, data: dict[str, list[object]]) -> None:
        """A landing export `table`.parquet of the operational source."""
        folder = self.home / "landing"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.table(data), folder / f"{table}.parquet")

    def lake(self, product: str) -> Path:
        """Where `domain.product`'s Delta table is written."""
        return self.home / "lake" / product.replace(".", "/")


@contextmanager
def cli_mesh(
    root: Path, products: dict[str, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliMesh]:
    """Write the mesh `products` under `root` as a full project and point `mesh` at it."""
    write_mesh(root, products)
    (root / "domains" / "__init__.py").write_text("")
    entries = ["load_from:"]
    for domain in products:
        folder = root / "domains" / domain
        (folder / "__init__.py").write_text("")
        (folder / "definitions.py").write_text(DEFINITIONS)
        entries += [
            "  - python_module:",
            f"      module_name: domains.{domain}.definitions",
            f"      location_name: {domain}",
        ]
    (root / "workspace.yaml").write_text("\n".join(entries) + "\n")
    home = root / "home"
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setattr(workspace, "repo_root", lambda: root)
    monkeypatch.syspath_prepend(str(root))
    # `domains` must be this mesh's package, imported under this home; put back the session's.
    previous = forget_domains()
    try:
        yield CliMesh(root, home)
    finally:
        forget_domains()
        sys.modules.update(previous)
