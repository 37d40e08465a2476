"""Across domains: products reading each other (through other domains) are a spec error naming
the products and their files, `mesh validate` reports it and `mesh materialize` runs the rest,
never a `graphlib.CycleError` traceback; domains whose products read each other without any
product reading itself (platform reads sales, which reads platform) are a sound mesh, and
`mesh materialize` runs them upstream first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_platform.loader.mesh import Mesh
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


def test_domains_reading_each_other_validate_and_materialize_upstream_first(
    circle: CliMesh,
) -> None:
    result = circle.run("validate")
    assert result.exit_code == 0, result.output
    mesh = Mesh.load_healthy(circle.root)
    assert mesh.excluded == {} and mesh.errors == ()
    order = mesh.domain_order()
    assert sorted(order) == ["books", "platform", "sales", "shop"] and order[0] == "shop"
    # platform.usage needs platform.costs, then sales.revenue: three runs, upstream first.
    built = circle.run("materialize", "platform.usage", "--json")
    assert built.exit_code == 0, built.output
    assert "Traceback" not in built.output and "CycleError" not in built.output
    lake = circle.home / "lake"
    for domain, product in [("platform", "costs"), ("sales", "revenue"), ("platform", "usage")]:
        assert (lake / domain / product / "_delta_log").is_dir(), (domain, product)


def test_materialize_of_a_domain_on_either_side_runs(circle: CliMesh) -> None:
    for target in ("books", "sales", "platform"):
        done = circle.run("materialize", target)
        assert done.exit_code == 0, done.output
        assert "Traceback" not in done.output


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
