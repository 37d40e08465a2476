"""Landing belongs to the platform (issue 20, item 4): only the domains the platform team names
(the access policy's `landing: {domains: [platform]}`, or `landing:` in the mesh's approvals
file) may declare a landing source; any other domain is refused at validate and at its code
location's load, at the line of `source:`, with the reason and the fix (subscribe to the
platform's product). Other domains read the export through the platform's product: a real run
over real Delta tables, checked against a computation over the landing file itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from mesh_platform.access.landing import landing_domains
from mesh_platform.access.policy import access_policy
from mesh_platform.errors import SpecErrors
from mesh_platform.loader import mesh as mesh_module
from mesh_platform.loader.mesh import Mesh
from mesh_platform.spec.workspace import repo_root
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.mini_mesh import domain_assets, validate_errors, write_mesh

TOTALS = """\
name: totals
description: Doubled amounts of the platform's orders.
inputs: {orders: platform.orders}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM orders WHERE amount > 2
"""
AMOUNTS: dict[str, list[object]] = {"id": [1, 2, 3], "amount": [1.5, 4.0, 10.25]}


def _no_landing_named(root: Path) -> None:
    """The approvals file names no domain under `landing:` (only the policy's `platform`)."""
    (root / "subscriptions.yaml").write_text("approved: []\n")


def test_the_setting_is_the_platform_teams_access_policy() -> None:
    assert access_policy().landing.domains == ("platform",)
    demo = Mesh.load(repo_root())  # the demo mesh stays valid: it ingests in `platform`
    ingesting = {key[0] for key, src in demo.products.items() if src.spec.source is not None}
    assert ingesting == {"platform"}
    assert landing_domains(repo_root()) == ("platform",)


def test_another_domain_declaring_a_landing_source_is_refused_at_validate(
    tmp_path: Path,
) -> None:
    write_mesh(tmp_path, {"shop": {"orders": ORDERS}})
    _no_landing_named(tmp_path)
    (error,) = validate_errors(tmp_path)  # the domain's location refuses the same
    assert error.file == tmp_path / "domains/shop/products/orders.yaml"
    assert error.line == ORDERS.splitlines().index("source: {landing: orders}") + 1
    assert error.problem.startswith(
        "shop.orders declares the landing source 'orders', but only the platform's ingestion "
        "domains (platform) may read landing files"
    )
    assert "read without a subscription" in error.problem
    assert error.fix is not None
    assert "`inputs: {orders: <domain>.<product>}` with a subscription" in error.fix
    assert "mesh list --domain platform" in error.fix and "mesh subscribe" in error.fix
    with pytest.raises(SpecErrors):
        domain_assets(tmp_path, "shop")


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """platform ingests orders; shop reads them through platform.orders (approved)."""
    products = {"platform": {"orders": ORDERS}, "shop": {"totals": TOTALS}}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        mesh.land("orders", AMOUNTS)
        yield mesh


def test_validate_refuses_with_file_line_and_fix_and_the_platforms_product_serves(
    mesh: CliMesh,
) -> None:
    sneaky = mesh.root / "domains/shop/products/raw_orders.yaml"
    sneaky.write_text(ORDERS.replace("name: orders", "name: raw_orders"))
    result = mesh.run("validate")
    assert result.exit_code == 1
    line = ORDERS.splitlines().index("source: {landing: orders}") + 1
    assert f"{sneaky}:{line}" in result.output
    assert "shop.raw_orders declares the landing source 'orders'" in result.output
    assert "mesh subscribe" in result.output
    sneaky.unlink()
    mesh_module._load_cached.cache_clear()  # the mesh is cached by its root
    assert mesh.run("validate").exit_code == 0
    # Other domains read the export through the platform's product, with a subscription.
    ran = mesh.run("materialize", "platform.orders", "shop.totals")
    assert ran.exit_code == 0, ran.output
    got = pl.read_delta(str(mesh.lake("shop.totals"))).sort("id")
    landed = pl.read_parquet(mesh.home / "landing/orders.parquet")
    expected = landed.filter(pl.col("amount") > 2).select(
        "id", (pl.col("amount") * 2).alias("doubled")
    )
    assert got.to_dicts() == expected.sort("id").to_dicts()
    assert got["doubled"].to_list() == [8.0, 20.5]


def test_the_platform_team_may_name_another_ingesting_domain(tmp_path: Path) -> None:
    write_mesh(tmp_path, {"shop": {"orders": ORDERS}})
    _no_landing_named(tmp_path)
    with pytest.raises(SpecErrors):
        Mesh.load(tmp_path)
    (tmp_path / "subscriptions.yaml").write_text("approved: []\nlanding: [shop]\n")
    mesh_module._load_cached.cache_clear()
    assert ("shop", "orders") in Mesh.load(tmp_path).plans
    assert landing_domains(tmp_path) == ("platform", "shop")
