"""Finding a domain's product files: every reader (the domain's load, `mesh validate`, another
domain's location reading one product by contract) sees the same files and the same errors.

A file that does not load is reported once, with its file and line, whatever else is broken
in the domain; it never hides the domain's other products from a consumer, and a consumer of
a product it may define is told that file does not load, not that the product is unknown.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.loader import planner_for
from mesh_platform.loader.mesh import Mesh
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.mini_mesh import validate_errors

# A Python product whose `ProductSpec` is invalid: pydantic refuses it at import.
BAD_PYTHON = """\
from mesh_platform import ProductSpec, SqlStep

product = ProductSpec(
    domain="shop",
    name="Refunds",
    description="Refunds.",
    inputs={"orders": "orders"},
    steps=(SqlStep(sql="SELECT id FROM orders"),),
)
"""

# A Python product module that does not import at all (it would define shop.refunds).
UNIMPORTABLE = "import not_a_module\n\n" + BAD_PYTHON.replace('"Refunds"', '"refunds"')

# A sound, published Python product, in a module sorted after the broken one.
SUMMARY = """\
from mesh_platform import ColumnSpec, ProductSpec, SqlStep

product = ProductSpec(
    domain="shop",
    name="summary",
    description="Order count.",
    visibility="published",
    inputs={"orders": "orders"},
    steps=(SqlStep(sql="SELECT count(*) AS orders FROM orders"),),
    columns=(ColumnSpec(name="orders", type="bigint", description="Orders"),),
)
"""

BAD_YAML = "name: bad\ndescription: x\ninputs: {src: orders\nsteps: []\n"


def reader(name: str, ref: str, column: str = "id") -> str:
    """A YAML product reading `ref`'s `column`."""
    return (
        f"name: {name}\ndescription: Reads {ref}.\ninputs: {{src: {ref}}}\n"
        f"steps:\n  - sql: SELECT {column} FROM src\n"
    )


@pytest.fixture
def shop_with_python(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[CliMesh, dict[str, dict[str, str]]]]:
    """A mesh whose `shop` domain may hold Python products (its products/ is a package)."""
    products = {
        "shop": {"orders": ORDERS},
        "books": {"totals": reader("totals", "shop.orders")},
        "reports": {"counts": reader("counts", "shop.summary", "orders")},
        "audit": {"refund_ids": reader("refund_ids", "shop.refunds")},
    }
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        (tmp_path / "domains/shop/products/__init__.py").write_text("")
        yield mesh, products


def _python(mesh: CliMesh, name: str, text: str) -> Path:
    path = mesh.root / "domains/shop/products" / f"{name}.py"
    path.write_text(text)
    return path


def test_a_bad_yaml_and_a_bad_python_product_are_two_errors(
    shop_with_python: tuple[CliMesh, dict[str, dict[str, str]]],
) -> None:
    mesh, _ = shop_with_python
    (mesh.root / "domains/shop/products/bad.yaml").write_text(BAD_YAML)
    _python(mesh, "refunds", BAD_PYTHON)
    errors = [e for e in validate_errors(mesh.root) if e.file and "shop" in e.file.parts]
    assert sorted(e.file.name for e in errors if e.file) == ["bad.yaml", "refunds.py"]
    by_file = {e.file.name: e for e in errors if e.file}
    assert "malformed YAML" in by_file["bad.yaml"].problem
    assert "'Refunds' must be lowercase" in by_file["refunds.py"].problem
    assert by_file["refunds.py"].line == 3  # the `ProductSpec(` call


def test_spec_errors_are_a_spec_error() -> None:
    first = SpecError("first", file="a.yaml", line=3, fix="do this")
    errors = SpecErrors([first, SpecError("second", file="b.yaml")])
    assert isinstance(errors, SpecError)
    assert errors.errors[0] is first
    assert (errors.file, errors.line) == (Path("a.yaml"), 3)
    assert str(errors) == "a.yaml:3: first\n  fix: do this\nb.yaml: second"


def test_a_broken_python_module_hides_no_other_product_of_its_domain(
    shop_with_python: tuple[CliMesh, dict[str, dict[str, str]]],
) -> None:
    mesh, _ = shop_with_python
    broken = _python(mesh, "broken", UNIMPORTABLE)
    _python(mesh, "summary", SUMMARY)
    # A YAML product and a Python one in a sound module: their consumers plan.
    assert list(planner_for(mesh.root, "books").plan_all()) == [("books", "totals")]
    assert list(planner_for(mesh.root, "reports").plan_all()) == [("reports", "counts")]
    healthy = Mesh.load_healthy(mesh.root)
    assert {("books", "totals"), ("reports", "counts"), ("shop", "summary")} <= set(
        healthy.products
    )
    # The consumer of the product the broken module may define is told that file does not
    # load, with the file, not "unknown product".
    with pytest.raises(SpecErrors) as caught:
        planner_for(mesh.root, "audit").plan_all()
    (error,) = caught.value.errors
    assert error.file == mesh.root / "domains/audit/products/refund_ids.yaml"
    assert "unknown product" not in error.problem
    assert "domains/shop/products/broken.py" in error.problem
    assert "does not load" in error.problem and "not_a_module" in error.problem
    # `mesh validate` says the same as the consumer's location, and the file's own error once.
    errors = validate_errors(mesh.root)
    assert [e.file for e in errors if e.file and e.file.name == "broken.py"] == [broken]
    assert str(error) in [str(e) for e in errors]


def test_a_product_no_file_defines_is_still_unknown(
    shop_with_python: tuple[CliMesh, dict[str, dict[str, str]]],
) -> None:
    mesh, _ = shop_with_python
    _python(mesh, "summary", SUMMARY)
    with pytest.raises(SpecErrors) as caught:
        planner_for(mesh.root, "audit").plan_all()
    (error,) = caught.value.errors
    assert error.problem == "input 'src' refers to unknown product 'shop.refunds'"
