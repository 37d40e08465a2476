"""`mesh scaffold domain` and `mesh scaffold product`, and `mesh validate`'s check that the domain
folders and workspace.yaml agree: in a temporary mesh, through the command as users run it."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from mesh_platform.cli import main
from mesh_platform.dev.product_tests import load_cases
from mesh_platform.loader import mesh as mesh_module
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.spec.code_locations import check_workspace
from mesh_platform.spec.yaml_source import read_yaml, to_plain
from tests.mini_mesh import write_mesh
from tests.test_spec_errors import SOURCE

WORKSPACE = """\
# Our code locations: keep this comment.
load_from:
  - python_module:
      module_name: domains.other.definitions
      location_name: other
"""

ITEMS = """\
name: items
description: Items.
visibility: published
inputs: {src: source}
steps:
  - sql: SELECT id AS item_id, amount AS weight FROM src
columns:
  - {name: item_id, type: bigint}
  - {name: weight, type: double}
"""


@pytest.fixture()
def mesh_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mesh with one registered domain `other`, which `mesh` commands work on."""
    root = write_mesh(tmp_path / "mesh", {"other": {"source": SOURCE, "items": ITEMS}})
    (root / "domains" / "other" / "definitions.py").write_text("")
    (root / "workspace.yaml").write_text(WORKSPACE)
    monkeypatch.setattr("mesh_platform.spec.workspace.repo_root", lambda: root)
    # Its own home: validate records subscription requests in the catalog.
    for name in ("MESH_CATALOG_URL", "DAGSTER_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    return root


def mesh(*args: str) -> tuple[int, str]:
    """Run `mesh ARGS` as a new process would (nothing cached from an earlier command)."""
    mesh_module._load_cached.cache_clear()
    result = CliRunner().invoke(main, list(args))
    # --json: the document alone (warnings, e.g. a domain nobody is notified for, are on stderr)
    return result.exit_code, result.stdout if "--json" in args else result.output


def test_a_scaffolded_domain_loads_validates_and_is_a_code_location(mesh_root: Path) -> None:
    code, out = mesh(
        "scaffold", "domain", "logistics", "--team", "logistics-ops",
        "--owner", "logistics@example.com",
    )  # fmt: skip
    assert code == 0, out
    folder = mesh_root / "domains" / "logistics"
    for name in ("domain.yaml", "definitions.py", "__init__.py", "products", "tests"):
        assert (folder / name).exists(), name
    assert "registered the code location 'logistics' in workspace.yaml" in out
    # The entry is appended; the file's comment and layout are kept.
    text = (mesh_root / "workspace.yaml").read_text()
    assert text == WORKSPACE + (
        "  - python_module:\n"
        "      module_name: domains.logistics.definitions\n"
        "      location_name: logistics\n"
    )
    domain = load_mesh(mesh_root).domains["logistics"].spec
    assert (domain.team, domain.owners) == ("logistics-ops", ("logistics@example.com",))
    code, out = mesh("validate", "--json")
    assert (code, json.loads(out)) == (0, {"ok": True, "products": 2})

    code, out = mesh(
        "scaffold", "product", "logistics", "shipments",
        "--input", "src=other.source", "--input", "items=other.items",
    )  # fmt: skip
    assert code == 0, out
    # The scaffolded definitions.py is a working code location with the new product.
    defs = runpy.run_path(str(folder / "definitions.py"))["defs"]
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    assert [a.key for a in assets] == [dg.AssetKey(["logistics", "shipments"])]
    (spec,) = assets[0].specs
    assert set(spec.owners) == {"team:logistics-ops", "logistics@example.com"}
    assert mesh("validate")[0] == 0


def test_the_scaffolded_test_lists_every_input_and_is_not_written_yet(mesh_root: Path) -> None:
    assert mesh("scaffold", "domain", "logistics")[0] == 0
    code, out = mesh(
        # the first form: `mesh scaffold DOMAIN NAME --input ...`, without `product`
        "scaffold", "logistics", "shipments",
        "--input", "src=other.source", "--input", "items=other.items",
    )  # fmt: skip
    assert code == 0, out
    path = mesh_root / "domains" / "logistics" / "tests" / "shipments.yaml"
    raw = to_plain(read_yaml(path).data)
    (case,) = raw["cases"]
    assert case == {
        "name": "TODO describe the case",
        "inputs": {"src": [], "items": []},
        "expected": [],
    }
    # Each input's columns are written beside it, for filling in the rows.
    assert "# src (other.source): id bigint, amount double" in path.read_text()
    assert "# items (other.items): item_id bigint, weight double" in path.read_text()
    mesh_module._load_cached.cache_clear()
    (loaded,) = load_cases(path, load_mesh(mesh_root))
    assert loaded.product == "logistics.shipments" and set(loaded.inputs) == {"src", "items"}
    assert not loaded.errors  # every port is a real input: the file loads cleanly
    # Until its rows are written, the case fails.
    code, out = mesh("test", "logistics.shipments")
    assert code == 1 and "not written yet" in out, out


def test_a_domain_folder_missing_from_the_workspace_fails_validate(mesh_root: Path) -> None:
    assert mesh("scaffold", "domain", "logistics")[0] == 0
    (mesh_root / "workspace.yaml").write_text(WORKSPACE)  # the entry removed by hand
    code, out = mesh("validate", "--json")
    assert code == 1
    (error,) = json.loads(out)["errors"]
    assert error["file"] == str(mesh_root / "workspace.yaml")
    assert (
        "domain folder domains/logistics/ is not a code location in workspace.yaml"
        in (error["problem"])
    )
    assert "module_name: domains.logistics.definitions" in error["fix"]
    assert "location_name: logistics" in error["fix"]
    # The same command registers the existing folder, writing nothing else.
    before = (mesh_root / "domains" / "logistics" / "domain.yaml").read_text()
    code, out = mesh("scaffold", "domain", "logistics")
    assert code == 0 and "created" not in out and "registered" in out, out
    assert (mesh_root / "domains" / "logistics" / "domain.yaml").read_text() == before
    assert mesh("validate")[0] == 0
    # Scaffolding it once more is refused, with the next step.
    code, out = mesh("scaffold", "domain", "logistics")
    assert code == 1 and "exists already" in out and "mesh scaffold product logistics" in out


def test_a_workspace_entry_without_a_domain_folder_fails_validate(mesh_root: Path) -> None:
    (mesh_root / "workspace.yaml").write_text(
        WORKSPACE + "  - python_module:\n      module_name: domains.ghost.definitions\n"
        "      location_name: ghost\n"
    )
    code, out = mesh("validate")
    assert code == 1
    assert f"{mesh_root / 'workspace.yaml'}:6: the code location 'ghost'" in out
    assert "domains/ghost/ with a domain.yaml does not exist" in out
    assert "fix: remove the entry, or create the domain with `mesh scaffold domain ghost`" in out


def test_workspace_checks_name_what_is_wrong(mesh_root: Path) -> None:
    def problems() -> list[str]:
        return [e.problem for e in check_workspace(mesh_root)]

    assert problems() == []
    (mesh_root / "domains" / "other" / "definitions.py").unlink()
    assert problems() == [
        "domain folder domains/other/ has no definitions.py, which its code location in "
        "workspace.yaml loads"
    ]
    (mesh_root / "domains" / "other" / "definitions.py").write_text("")
    (mesh_root / "workspace.yaml").write_text(WORKSPACE + WORKSPACE.split("\n", 2)[2])
    assert problems() == ["domain 'other' is listed twice (also at line 3)"]
    (mesh_root / "workspace.yaml").write_text(WORKSPACE.replace("name: other", "name: o"))
    assert problems() == ["the code location of domain 'other' is named 'o'"]
    (mesh_root / "workspace.yaml").write_text("# nothing\n")
    assert problems() == ["the file has no `load_from:` list of code locations"]
    (mesh_root / "workspace.yaml").write_text("load_from: nothing\n")
    assert problems() == ["the file has no `load_from:` list of code locations"]
    (mesh_root / "workspace.yaml").unlink()
    assert problems() == ["no workspace.yaml beside domains/"]
    # Scaffolding a domain then creates the file, with every domain folder.
    assert mesh("scaffold", "domain", "logistics")[0] == 0
    assert problems() == []
    assert "location_name: other" in (mesh_root / "workspace.yaml").read_text()


def test_scaffold_product_in_a_missing_domain_says_how_to_create_it(mesh_root: Path) -> None:
    code, out = mesh("scaffold", "product", "logistics", "x", "--input", "src=other.source")
    assert code == 1
    assert "no domain 'logistics' (domains: other)" in out
    assert "fix: create it with `mesh scaffold domain logistics`" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Logistics"], "must be lowercase snake_case"),
        (["class"], "not a Python keyword"),
        (["logistics", "--team", "two words"], "no spaces"),
        (["logistics", "--owner", "bob"], "must be an email address"),
    ],
)
def test_scaffold_domain_refuses_bad_names(mesh_root: Path, args: list[str], message: str) -> None:
    code, out = mesh("scaffold", "domain", *args)
    assert code == 1 and message in out, out
    assert not (mesh_root / "domains" / "logistics").exists()
    assert (mesh_root / "workspace.yaml").read_text() == WORKSPACE
