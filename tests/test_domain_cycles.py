"""A cycle across domains (products reading each other, or domains whose products read each
other) is a spec error naming the products and their files: `mesh validate` reports it, and
`mesh materialize` leaves its products out with that reason and runs the rest, never a
`graphlib.CycleError` traceback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_platform.loader.mesh import DOMAINS_CYCLE, Mesh
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh

COLUMNS = "columns:\n  - {name: id, type: bigint}\n  - {name: amount, type: double}\n"


def reader(name: str, ref: str, published: bool = True) -> str:
    """A product reading `ref`'s id and amount (published with its columns by default)."""
    text = (
        f"name: {name}\ndescription: Reads {ref}.\ninputs: {{src: {ref}}}\n"
        "steps:\n  - sql: SELECT id, amount FROM src\n"
    )
    return text + (f"visibility: published\n{COLUMNS}" if published else "")


# platform.usage reads sales.revenue, which reads platform.costs: no product reads itself, but
# the platform and sales domains read each other.
DOMAINS_READ_EACH_OTHER = {
    "shop": {"orders": ORDERS},
    "platform": {
        "costs": reader("costs", "shop.orders"),
        "usage": reader("usage", "sales.revenue", published=False),
    },
    "sales": {"revenue": reader("revenue", "platform.costs")},
    "books": {"totals": reader("totals", "shop.orders", published=False)},
}


@pytest.fixture
def circle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """The mesh `DOMAINS_READ_EACH_OTHER`, with the shop's orders landed."""
    with cli_mesh(tmp_path, DOMAINS_READ_EACH_OTHER, monkeypatch) as mesh:
        mesh.land("orders", {"id": [1, 2], "amount": [10.0, 5.0]})
        yield mesh


def test_domains_reading_each_other_is_a_spec_error_naming_products_and_files(
    circle: CliMesh,
) -> None:
    result = circle.run("validate")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "CycleError" not in result.output
    assert "cycle across domains" in result.output
    assert "platform.usage (domains/platform/products/usage.yaml) reads sales.revenue" in (
        result.output
    )
    assert "sales.revenue (domains/sales/products/revenue.yaml) reads platform.costs" in (
        result.output
    )
    mesh = Mesh.load_healthy(circle.root)
    assert mesh.excluded == {
        ("platform", "usage"): DOMAINS_CYCLE,
        ("sales", "revenue"): DOMAINS_CYCLE,
    }
    assert mesh.domain_order()  # the rest of the mesh has an order


def test_materialize_runs_what_the_cycle_does_not_touch(circle: CliMesh) -> None:
    unrelated = circle.run("materialize", "books")
    assert unrelated.exit_code == 0, unrelated.output
    assert "Traceback" not in unrelated.output
    assert "materialized 2 of 2 products" in unrelated.output  # shop.orders, books.totals
    assert "sales.revenue is left out: " + DOMAINS_CYCLE in unrelated.stderr
    refused = circle.run("materialize", "platform.usage")
    assert refused.exit_code != 0
    assert "Traceback" not in refused.output and "CycleError" not in refused.output
    assert "cycle across domains" in refused.output


def test_products_reading_each_other_name_every_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    products = {
        "shop": {"orders": ORDERS},
        "x": {"a": reader("a", "y.b")},
        "y": {"b": reader("b", "x.a")},
    }
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        mesh.land("orders", {"id": [1], "amount": [1.0]})
        result = mesh.run("validate")
        everything = mesh.run("materialize", "shop")
    assert result.exit_code == 1, result.output
    assert "inputs form a cycle across domains" in result.output
    assert "x.a (domains/x/products/a.yaml)" in result.output
    assert "y.b (domains/y/products/b.yaml)" in result.output
    assert everything.exit_code == 0, everything.output
    assert "Traceback" not in everything.output and "CycleError" not in everything.output
