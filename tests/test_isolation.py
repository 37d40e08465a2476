"""A broken spec in one domain stops only what depends on it: `mesh validate` reports every
error (and fails); the healthy products validate, test, preview and materialize, and the
healthy domains' code locations load."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mesh_platform.dagster.location import location_definitions
from mesh_platform.dev.preview import preview_product
from mesh_platform.dev.product_tests import discover, load_cases, run_case
from mesh_platform.errors import SpecErrors
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh, load_mesh
from mesh_platform.security.keys import Keyring
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.mini_mesh import validate_errors, write_mesh

TOTALS = """\
name: totals
description: Order amounts, doubled.
inputs: {orders: shop.orders}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM orders
"""

TOTALS_TEST = """\
product: totals
cases:
  - name: doubles the amount
    inputs:
      orders:
        - {id: 1, amount: 2.5}
    expected:
      - {id: 1, doubled: 5.0}
"""

BROKEN = """\
name: broken
description: A misspelt column.
inputs: {orders: shop.orders}
steps:
  - sql: SELECT id, amont FROM orders
"""

FINE = """\
name: fine
description: A sound product beside a broken one.
inputs: {orders: shop.orders}
steps:
  - sql: SELECT count(*) AS orders FROM orders
"""

AFTER_BROKEN = """\
name: after_broken
description: Reads the broken product.
inputs: {src: broken}
steps:
  - sql: SELECT id FROM src
"""

MALFORMED = "name: bad\ndescription: x\ninputs: {src: shop.orders\nsteps: []\n"

MESH = {
    "shop": {"orders": ORDERS},
    "books": {"totals": TOTALS},
    "newcomer": {"broken": BROKEN, "fine": FINE, "after_broken": AFTER_BROKEN},
    "drafts": {"bad": MALFORMED, "ok": FINE.replace("name: fine", "name: ok")},
}


@pytest.fixture
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """The mesh `MESH` (two healthy domains, two broken ones) that `mesh` works on."""
    with cli_mesh(tmp_path, MESH, monkeypatch) as mesh:
        (tmp_path / "domains/books/tests").mkdir()
        (tmp_path / "domains/books/tests/totals.yaml").write_text(TOTALS_TEST)
        mesh.land("orders", {"id": [1, 2, 3], "amount": [10.0, 5.0, 7.5]})
        yield mesh


def test_the_mesh_loads_what_is_sound_and_keeps_every_error(broken: CliMesh) -> None:
    mesh = Mesh.load_healthy(broken.root)
    assert {".".join(k) for k in mesh.products} == {
        "shop.orders",
        "books.totals",
        "newcomer.fine",
        "drafts.ok",
    }
    problems = sorted((e.file.name if e.file else "", e.problem) for e in mesh.errors)
    assert [name for name, _ in problems] == ["bad.yaml", "broken.yaml"]
    assert "malformed YAML" in problems[0][1] and "amont" in problems[1][1]
    assert mesh.excluded == {
        ("drafts", "bad"): "its spec has errors (bad.yaml)",
        ("newcomer", "broken"): "its spec has errors",
        ("newcomer", "after_broken"): "its input newcomer.broken is left out",
    }
    assert set(mesh.broken_domains) == {"drafts", "newcomer"}
    assert len(mesh.warnings()) == 5  # one line per broken domain and left-out product
    with pytest.raises(KeyError, match=r"left out: its input newcomer\.broken is left out"):
        mesh.product("newcomer.after_broken")
    # The strict load (what `mesh validate` uses) still refuses, with the same errors, and
    # each broken domain's code location refuses with its share of them.
    with pytest.raises(SpecErrors) as caught:
        load_mesh(broken.root)
    assert [str(e) for e in caught.value.errors] == [str(e) for e in mesh.errors]
    assert len(validate_errors(broken.root)) == 2


def test_validate_lists_every_error_and_fails(broken: CliMesh) -> None:
    result = broken.run("validate")
    assert result.exit_code == 1, result.output
    assert result.output.startswith("2 error(s):")
    assert "broken.yaml:5" in result.output and "amont" in result.output
    assert "bad.yaml:4" in result.output and "malformed YAML" in result.output


def test_a_healthy_domain_materializes_beside_broken_ones(broken: CliMesh) -> None:
    result = broken.run("materialize", "books")
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 5, result.stderr
    assert any("domain newcomer does not load" in w and "amont" in w for w in warnings)
    assert "also materializing upstream: shop.orders (no table yet)" in result.stdout
    assert result.stdout.splitlines()[-1].startswith("materialized 2 of 2 products")
    assert (broken.lake("books.totals") / "_delta_log").is_dir()
    # Everything: the healthy products are written, the broken domains' are not run, and say
    # why; the summary counts what was written.
    everything = broken.run("materialize")
    assert everything.exit_code == 1
    assert "newcomer.fine -> not run: the newcomer code location does not load" in (
        everything.stderr
    )
    assert "drafts.ok -> not run: the drafts code location does not load" in everything.stderr
    assert everything.stdout.splitlines()[-1].startswith("materialized 2 of 4 products")
    assert everything.stdout.splitlines()[-1].endswith("; 2 not run")
    assert "Traceback" not in everything.output


def test_a_healthy_product_tests_and_previews_beside_broken_ones(broken: CliMesh) -> None:
    mesh = Mesh.load_healthy(broken.root)
    (path,) = discover(mesh, "books")
    results = [run_case(case, mesh) for case in load_cases(path, mesh)]
    assert [r.passed for r in results] == [True], [r.diff for r in results]
    assert broken.run("materialize", "shop").exit_code == 0
    lakehouse = Lakehouse(root=str(broken.home / "lake"), landing_root=str(broken.home / "landing"))
    keys = Keyring({}, None)
    steps = preview_product(mesh, "books.totals", lakehouse, keys)
    assert steps[-1].rows == 3 and steps[-1].sample["doubled"].to_list() == [20.0, 10.0, 15.0]
    # A sound product of a broken domain previews too (its location does not load, its spec
    # and inputs are fine).
    (count,) = preview_product(mesh, "newcomer.fine", lakehouse, keys)[-1].sample["orders"]
    assert count == 3


def test_a_healthy_domains_code_location_loads_beside_broken_ones(broken: CliMesh) -> None:
    module = importlib.import_module("domains.books.definitions")
    assert module.__file__ == str(broken.root / "domains/books/definitions.py")
    keys = {a.key for a in module.defs.assets if isinstance(a, dg.AssetsDefinition)}
    assert keys == {dg.AssetKey(["books", "totals"])}
    with pytest.raises(SpecErrors, match="amont"):
        location_definitions(broken.root, "newcomer")
    with pytest.raises(SpecErrors, match="malformed YAML"):
        importlib.import_module("domains.drafts.definitions")


def test_a_cycle_across_domains_leaves_out_only_its_products(tmp_path: Path) -> None:
    def reader(name: str, ref: str) -> str:
        return (
            f"name: {name}\ndescription: Reads {ref}.\nvisibility: published\n"
            f"inputs: {{src: {ref}}}\nsteps:\n  - sql: SELECT id FROM src\n"
            "columns:\n  - {name: id, type: bigint}\n"
        )

    root = write_mesh(
        tmp_path,
        {
            "shop": {"orders": ORDERS},
            "x": {"a": reader("a", "y.b")},
            "y": {"b": reader("b", "x.a")},
        },
    )
    mesh = Mesh.load_healthy(root)
    assert list(mesh.products) == [("shop", "orders")]
    (error,) = mesh.errors
    assert "inputs form a cycle across domains" in error.problem
    assert mesh.excluded == {
        ("x", "a"): "its inputs form a cycle across domains",
        ("y", "b"): "its inputs form a cycle across domains",
    }
    with pytest.raises(SpecErrors, match="cycle across domains"):
        load_mesh(root)
