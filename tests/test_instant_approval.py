"""Issue 17, item 2: a request the access policy approves (no sensitive tag) is approved by the
command that files it (`mesh validate`, `mesh subscribe`), audited as decided by the policy; a
consumer's run then reads its input with no sensor tick. `mesh subscribe` on an existing
request updates its purpose and columns, audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from deltalake import DeltaTable

from mesh_platform.access.routing import POLICY_ACTOR
from mesh_platform.catalog import Catalog, audit_entries
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh

TOTALS = """\
name: totals
description: Doubled amounts.
inputs: {orders: shop.orders}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM orders
"""
# shop.people carries a pii column: the platform team decides (central approval).
PEOPLE = """\
name: people
description: People, as the shop exports them.
visibility: published
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
"""


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    products = {"shop": {"orders": ORDERS, "people": PEOPLE}, "books": {"totals": TOTALS}}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        monkeypatch.setenv("MESH_CATALOG_URL", f"sqlite:///{mesh.home / 'catalog.db'}")
        (tmp_path / "subscriptions.yaml").write_text("approved: []\nlanding: [shop]\n")
        mesh.land("orders", {"id": [1, 2, 3], "amount": [1.5, 4.0, -2.25]})
        mesh.land("people", {"id": [1], "name": ["Ada"]})
        yield mesh


def _catalog(mesh: CliMesh) -> Catalog:
    return Catalog.open(f"sqlite:///{mesh.home / 'catalog.db'}")


def test_validate_approves_an_auto_approvable_read_and_the_run_reads_it(mesh: CliMesh) -> None:
    checked = mesh.run("validate")
    assert checked.exit_code == 0, checked.output
    assert "without an approved subscription" not in checked.output  # nothing waits
    with _catalog(mesh).session() as session:
        entries = [(e.action, e.actor, e.reason) for e in audit_entries(session)]
    assert entries == [
        ("requested", "mesh validate", "input of books.totals"),
        ("approved", POLICY_ACTOR, "no sensitive tags: approved automatically"),
    ]
    # No sensor ever ticked: the run reads its input at once.
    assert mesh.run("materialize", "shop.orders").exit_code == 0
    run = mesh.run("materialize", "books.totals")
    assert run.exit_code == 0, run.output
    table = DeltaTable(str(mesh.lake("books.totals"))).to_pyarrow_table().sort_by("id")
    assert table.column("doubled").to_pylist() == [2 * a for a in (1.5, 4.0, -2.25)]


def test_subscribe_decides_at_once_and_routes_a_sensitive_request(mesh: CliMesh) -> None:
    auto = mesh.run("subscribe", "shop.orders", "--as", "books", "--purpose", "totals", "--json")
    assert json.loads(auto.stdout)["state"] == "approved"
    asked = mesh.run("subscribe", "shop.people", "--as", "books", "--purpose", "mailing")
    assert asked.exit_code == 0, asked.output
    assert "requested (decided by: platform)" in asked.output
    assert "who decides: the platform team" in asked.output
    ident = json.loads(mesh.run("subscriptions", "--json").stdout)[1]["id"]
    assert f"they run: mesh approve {ident} --by" in asked.output


def test_subscribe_again_updates_the_purpose_and_columns_audited(mesh: CliMesh) -> None:
    mesh.run("subscribe", "shop.people", "--as", "books", "--purpose", "first")
    again = mesh.run(
        "subscribe",
        "shop.people",
        "--as",
        "books",
        "--purpose",
        "second",
        "--columns",
        "id",
        "--json",
    )
    row = json.loads(again.stdout)
    assert (row["state"], row["purpose"], row["columns"]) == ("requested", "second", ["id"])
    with _catalog(mesh).session() as session:
        updated = [e for e in audit_entries(session) if e.action == "updated"]
    assert [(e.actor, e.reason) for e in updated] == [
        ("books", "purpose: 'first' -> 'second'; columns: [] -> ['id']")
    ]
    same = mesh.run("subscribe", "shop.people", "--as", "books", "--purpose", "second")
    assert "(unchanged)" in same.output
