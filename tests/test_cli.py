"""The `mesh` command line, run as users run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mesh_platform.cli import main
from mesh_platform.dev.product_tests import load_cases
from mesh_platform.dev.scaffold import scaffold_product
from mesh_platform.loader.mesh import load_mesh
from tests.fixtures_mesh import forget_domains
from tests.mini_mesh import write_mesh
from tests.test_spec_errors import SOURCE


def _env(materialized_mesh) -> dict[str, str]:
    return {
        "MESH_HOME": str(materialized_mesh.home),
        "DAGSTER_HOME": str(materialized_mesh.home / "dagster_home"),
    }


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["up"],
        ["materialize"],
        ["scaffold"],
        ["scaffold", "domain"],
        ["scaffold", "product"],
        ["preview"],
        ["test"],
        ["list"],
        ["validate"],
        ["generate"],
        ["standards"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0
    assert "Usage: main" in result.output or "Usage: mesh" in result.output
    assert len(result.output.splitlines()) > 4


def test_list_and_validate_json() -> None:
    runner = CliRunner()
    listed = json.loads(runner.invoke(main, ["list", "--json"]).output)
    names = {row["product"] for row in listed}
    assert {"sales.pricing_summary", "marketing.customer_segments"} <= names
    assert json.loads(runner.invoke(main, ["validate", "--json"]).output) == {
        "ok": True,
        "products": len(listed),
    }


def test_preview_shows_each_step(materialized_mesh) -> None:
    result = CliRunner().invoke(
        main,
        ["preview", "sales.pricing_summary", "--json", "--rows", "2"],
        env=_env(materialized_mesh),
    )
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)
    assert [s["step"] for s in steps] == ["step_1"]
    expected = materialized_mesh.read("sales.pricing_summary")
    assert steps[0]["rows"] == expected.height
    assert set(steps[0]["schema"]) == set(expected.columns)
    assert len(steps[0]["sample"]) == 2


def test_preview_of_an_unknown_product(materialized_mesh) -> None:
    result = CliRunner().invoke(main, ["preview", "sales.nope"], env=_env(materialized_mesh))
    assert result.exit_code == 1
    assert "no product 'sales.nope'" in result.output


def test_materialize_one_product(materialized_mesh) -> None:
    before = len(materialized_mesh.instance.get_run_records())
    result = CliRunner().invoke(
        main,
        ["materialize", "finance.forecast_revenue_change", "--json"],
        env=_env(materialized_mesh),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["products"] == 1 and summary["failed_runs"] == []
    assert len(materialized_mesh.instance.get_run_records()) == before + 1


def test_materialize_unknown_domain_is_a_clear_error(materialized_mesh) -> None:
    result = CliRunner().invoke(main, ["materialize", "salez"], env=_env(materialized_mesh))
    assert result.exit_code == 1
    assert "no domain or product 'salez'; did you mean 'sales'?" in result.output
    assert "Traceback" not in result.output


def test_scaffold_writes_a_valid_product_and_test(tmp_path: Path) -> None:
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {}})
    paths = scaffold_product(load_mesh(root), "d", "new_thing", {"src": "other.source"})
    assert [p.name for p in paths] == ["new_thing.yaml", "new_thing.yaml"]
    mesh = load_mesh(root)
    assert mesh.schema(("d", "new_thing")) == {"id": "bigint", "amount": "double"}
    (case,) = load_cases(paths[1], mesh)
    assert case.product == "d.new_thing"


def test_scaffold_refuses_bad_requests(tmp_path: Path) -> None:
    root = write_mesh(tmp_path, {"other": {"source": SOURCE}, "d": {}})
    mesh = load_mesh(root)
    from mesh_platform.errors import MeshError

    with pytest.raises(MeshError, match="no domain 'x'"):
        scaffold_product(mesh, "x", "thing", {"src": "other.source"})
    with pytest.raises(MeshError, match="lowercase snake_case"):
        scaffold_product(mesh, "d", "Thing", {"src": "other.source"})
    with pytest.raises(MeshError, match="no such product"):
        scaffold_product(mesh, "d", "thing", {"src": "other.nothing"})
    scaffold_product(mesh, "d", "thing", {"src": "other.source"})
    with pytest.raises(MeshError, match="already exists"):
        scaffold_product(mesh, "d", "thing", {"src": "other.source"})


def test_scaffold_cli_rejects_a_malformed_input() -> None:
    result = CliRunner().invoke(main, ["scaffold", "sales", "x", "--input", "nope"])
    assert result.exit_code == 2
    assert "write PORT=PRODUCT" in result.output


@pytest.mark.parametrize(
    "command",
    [["--help"], ["--version"], ["list"], ["validate"], ["standards"], ["scaffold", "--help"]],
)
def test_quick_commands_import_neither_dagster_nor_an_engine(command: list[str]) -> None:
    probe = (
        "import sys\n"
        "from mesh_platform.cli import main\n"
        f"try:\n    main({command!r})\nexcept SystemExit as exit:\n    assert not exit.code\n"
        "heavy = ('dagster', 'duckdb', 'great_expectations', 'deltalake', 'sqlalchemy')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=False, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_a_failed_materialization_is_one_clean_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "dagster_home").mkdir(parents=True)
    (home / "dagster_home" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {"MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    env |= {name: None for name in ("MESH_ENV", "MESH_LAKE_ROOT", "MESH_LANDING_ROOT")}
    # A session fixture may have imported the domains with resources built for its own home.
    previous = forget_domains()
    try:
        result = CliRunner().invoke(main, ["materialize", "platform.bronze_region"], env=env)
    finally:
        forget_domains()
        sys.modules.update(previous)
    assert result.exit_code == 1, result.output
    assert "platform.bronze_region failed (platform): LandingError: landing file" in result.output
    assert "Fix: generate the sample data with `mesh generate`" in result.output
    assert "materialized 0 of 1 products" in result.output
    assert "Traceback" not in result.output and "Stack Trace" not in result.output
