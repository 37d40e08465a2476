"""Read-only commands answer at once when nothing they read changed (issue 19, item 3).

The catalog runs Alembic only when its migration scripts changed; `mesh list` and `mesh
validate` print their kept answer while the mesh's sources are unchanged; `mesh search` and
`mesh show` sync the catalog only when a spec, a table, a run or a governance decision changed
since its last sync; `mesh status` reads the specs and the Dagster instance again only then.
Each test checks both sides: the work is skipped when nothing changed, and done again when
something did.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from mesh_platform.catalog import Catalog, db
from mesh_platform.cli import authoring, operations
from mesh_platform.cli import marketplace as market_cli
from mesh_platform.loader import mesh as loader_mesh
from tests.cli_mesh import ORDERS, cli_mesh

PROBE_MIGRATION = '''"""A migration added after the catalog was created."""

import sqlalchemy as sa
from alembic import op

revision = "0099_probe"
down_revision = "0010_catalog_marks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("probe", sa.Column("id", sa.Integer(), primary_key=True))


def downgrade() -> None:
    op.drop_table("probe")
'''


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    """Wrap `owner.name` so that each call is counted (and still done)."""
    calls: list[int] = []
    original: Callable[..., Any] = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def _settle(root: Path) -> None:
    """Date the mesh's files a minute back: a file written in the last seconds counts by its
    content too (`config/sources.py`), so a command after those seconds would see it anew
    once; an edited checkout's files are older."""
    past = time.time() - 60
    for path in root.rglob("*"):
        os.utime(path, (past, past))


def _edit(path: Path, old: str, new: str) -> None:
    """Change a spec file as an editor does, and forget this process's loaded mesh (a new
    `mesh` process would read it afresh)."""
    path.write_text(path.read_text().replace(old, new))
    edited = time.time() - 30  # not within the last seconds (see `_settle`), nor as before
    os.utime(path, (edited, edited))
    loader_mesh._load_cached.cache_clear()
    loader_mesh._specs_cached.cache_clear()


def test_a_catalog_opened_again_does_not_run_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    Catalog(url).engine.dispose()
    upgrades = _counting(monkeypatch, db, "_upgrade")
    Catalog(url).engine.dispose()
    assert upgrades == []


def test_a_new_migration_is_applied_on_the_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = tmp_path / "migrations"
    shutil.copytree(db.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(db, "MIGRATIONS", scripts)
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    Catalog(url).engine.dispose()
    (scripts / "versions" / "0099_probe.py").write_text(PROBE_MIGRATION)
    catalog = Catalog(url)
    assert "probe" in sa.inspect(catalog.engine).get_table_names()
    catalog.engine.dispose()


def test_list_and_validate_answer_from_their_kept_answer_until_a_spec_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listings = _counting(monkeypatch, authoring, "_listing")
    validations = _counting(monkeypatch, authoring, "_validation")
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}}, monkeypatch) as mesh:
        _settle(mesh.root)
        first = mesh.run("list")
        again = mesh.run("list")
        assert first.exit_code == again.exit_code == 0, first.output
        assert again.stdout == first.stdout and len(listings) == 1
        assert mesh.run("validate").exit_code == 0
        assert mesh.run("validate").exit_code == 0 and len(validations) == 1

        spec = mesh.root / "domains/shop/products/orders.yaml"
        _edit(spec, "Orders, as the shop exports them.", "Orders with their zebra stripes.")
        changed = mesh.run("list")
        assert "zebra" in changed.stdout and len(listings) == 2
        _edit(spec, "type: double", "type: no_such_type")
        refused = mesh.run("validate")
    assert refused.exit_code == 1 and "no_such_type" in refused.stdout
    assert len(validations) == 2


def test_search_and_show_sync_the_catalog_only_when_something_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    syncs = _counting(monkeypatch, market_cli, "_sync")
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}}, monkeypatch) as mesh:
        _settle(mesh.root)
        first = mesh.run("search", "orders", "--json")
        assert first.exit_code == 0, first.output
        assert [h["product"] for h in json.loads(first.stdout)] == ["shop.orders"]
        assert mesh.run("show", "shop.orders", "--json").exit_code == 0
        assert mesh.run("search", "orders", "--json").exit_code == 0
        assert len(syncs) == 1  # nothing changed since the first command synced

        _edit(
            mesh.root / "domains/shop/products/orders.yaml",
            "Orders, as the shop exports them.",
            "Orders with their zebra stripes.",
        )
        found = mesh.run("search", "zebra", "--json")
        assert len(syncs) == 2
        assert [h["product"] for h in json.loads(found.stdout)] == ["shop.orders"]
        page = json.loads(mesh.run("show", "shop.orders", "--json").stdout)
    assert "zebra" in page["description"] and len(syncs) == 2


def test_a_search_after_the_sensors_sync_does_not_sync_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dagster as dg

    from mesh_platform.config import environment
    from mesh_platform.dagster.resources import CatalogResource
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.marketplace.sensor import build_catalog_sensor
    from mesh_platform.ops.sensors import SensorMesh

    syncs = _counting(monkeypatch, market_cli, "_sync")
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}}, monkeypatch) as mesh:
        for name, value in mesh.env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        resources = {
            "catalog": CatalogResource(url=environment.catalog_url()),
            "lakehouse": Lakehouse(
                root=environment.lake_root(), landing_root=environment.landing_root()
            ),
        }
        with dg.DagsterInstance.from_config(str(environment.dagster_home())) as instance:
            sensor = build_catalog_sensor(SensorMesh(mesh.root))
            sensor(dg.build_sensor_context(instance=instance, resources=resources))
        found = mesh.run("search", "orders", "--json")
    assert [h["product"] for h in json.loads(found.stdout)] == ["shop.orders"]
    assert syncs == []


def test_status_reads_the_instance_again_only_after_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads = _counting(monkeypatch, operations, "_run_facts")
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}}, monkeypatch) as mesh:
        _settle(mesh.root)
        before = json.loads(mesh.run("status", "--json").stdout)
        assert json.loads(mesh.run("status", "--json").stdout) == before
        assert len(reads) == 1 and before[0]["freshness"] == "never"
        mesh.land("orders", {"id": [1, 2], "amount": [10.0, 5.0]})
        assert mesh.run("materialize", "shop").exit_code == 0
        [after] = json.loads(mesh.run("status", "--json").stdout)
    assert len(reads) == 2
    assert after["last_run_id"] and after["last_materialized"] and after["freshness"] != "never"


_WARM = """
import sys
from pathlib import Path
from mesh_platform.spec import workspace
workspace.repo_root = lambda: Path(sys.argv[1])
from mesh_platform.cli import main
main(sys.argv[2:], standalone_mode=False)
"""
# The mesh's root without the spec package (it loads the sandbox client and pyarrow): a
# command answering from what it kept never needs more of it.
_KEPT = """
import sys, types
from pathlib import Path
sys.modules["mesh_platform.spec.workspace"] = types.SimpleNamespace(
    repo_root=lambda: Path(sys.argv[1])
)
from mesh_platform.cli import main
try:
    main(sys.argv[2:], standalone_mode=False)
finally:
    heavy = ("dagster", "polars", "pyarrow", "sqlglot", "alembic", "mesh_platform.loader.mesh")
    print("LOADED", sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize(
    "command",
    # search: the platform's synonyms are kept too (the registry would bring sqlglot).
    [["list"], ["validate"], ["search", "orders"], ["show", "shop.orders"], ["status"], ["cost"]],
    ids=lambda c: c[0],
)
def test_a_command_answering_from_what_it_kept_loads_no_heavy_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    import subprocess
    import sys

    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}}, monkeypatch) as mesh:
        _settle(mesh.root)
        env = {k: v for k, v in os.environ.items() if k not in mesh.env} | {
            k: v for k, v in mesh.env.items() if v is not None
        }
        for script in (_WARM, _KEPT):
            ran = subprocess.run(
                [sys.executable, "-c", script, str(mesh.root), *command],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert ran.returncode == 0, ran.stderr[-3000:]
    assert "LOADED []" in ran.stderr, ran.stderr[-3000:]


def test_every_command_is_found_in_the_module_named_for_it() -> None:
    from mesh_platform.cli import main
    from mesh_platform.cli.app import COMMAND_MODULES, import_commands

    import_commands()
    defined = {
        name: (command.callback.__module__ if command.callback else type(command).__module__)
        for name, command in main.commands.items()
    }
    assert {name: f"mesh_platform.cli.{m}" for name, m in COMMAND_MODULES.items()} == defined


def test_impact_from_the_catalog_is_the_impact_from_the_plans(tmp_path: Path) -> None:
    from mesh_platform.loader.mesh import Mesh, load_mesh
    from mesh_platform.marketplace import sync_catalog
    from mesh_platform.marketplace.impact import impact
    from mesh_platform.marketplace.impact_catalog import catalog_impact
    from mesh_platform.marketplace.operations import LakeRoot
    from tests.mini_mesh import write_mesh
    from tests.test_impact import MESH

    # The test mesh (formulas, a join, a filter, a grouping across three domains) and the
    # demo mesh (a Python step: possible uses).
    meshes = {"test": load_mesh(write_mesh(tmp_path / "test", MESH)), "demo": Mesh.load_healthy()}
    for name, mesh in meshes.items():
        catalog = Catalog(f"sqlite:///{tmp_path / f'{name}.db'}")
        sync_catalog(catalog, mesh, lakehouse=LakeRoot(str(tmp_path / "lake")))
        for key in mesh.order:
            product = ".".join(key)
            for column in (None, *mesh.plans[key].schema):
                expected = impact(mesh, product, column).to_dict()
                assert catalog_impact(catalog, product, column).to_dict() == expected
        catalog.engine.dispose()


def test_mesh_impact_answers_from_the_catalog_while_it_is_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesh_platform.marketplace import impact_load
    from tests.test_impact import MESH

    planned = _counting(monkeypatch, impact_load, "partial_mesh")
    with cli_mesh(tmp_path, MESH, monkeypatch) as mesh:
        _settle(mesh.root)
        before = mesh.run("impact", "shop.orders", "--column", "amount", "--json")
        assert before.exit_code == 0, before.output
        assert len(planned) == 1  # no catalog synced yet: the specs answer
        assert mesh.run("search", "revenue").exit_code == 0  # syncs the catalog
        again = mesh.run("impact", "shop.orders", "--column", "amount", "--json")
        assert json.loads(again.stdout) == json.loads(before.stdout) and len(planned) == 1
        _edit(
            mesh.root / "domains/sales/products/revenue.yaml",
            "sum(amount * (1 - discount)) AS net",
            "sum(amount) AS net",
        )
        changed = mesh.run("impact", "shop.orders", "--column", "amount", "--json")
    assert len(planned) == 2  # the catalog is behind the specs: they answer

    def net(report: str) -> str:
        [revenue] = [p for p in json.loads(report)["impacted"] if p["product"] == "sales.revenue"]
        return str(next(c["formula"] for c in revenue["columns"] if c["column"] == "net"))

    assert "discount" in net(before.stdout) and "discount" not in net(changed.stdout)
