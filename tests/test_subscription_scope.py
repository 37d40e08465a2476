"""A subscription's column scope is enforced (issue 20, item 5): `mesh validate` refuses a
consumer's SQL reading a column outside its approved `--columns` (naming the column, the
subscription and the fix), a run and a preview refuse it before reading anything, and an
input read within a scope selects only the scoped columns (the others read as NULL). Asking for
a wider scope is a new round to decide. Real runs over real Delta tables, checked against the
landing file itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from mesh_platform.access.scope import ColumnScope
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader import mesh as mesh_module
from mesh_platform.run.scope import scoped_read
from tests.cli_mesh import CliMesh, cli_mesh

CUSTOMERS = """\
name: customers
description: Customers, as the CRM exports them.
visibility: published
source: {landing: customers}
columns:
  - {name: id, type: bigint}
  - {name: c_name, type: string, tags: [pii]}
  - {name: c_phone, type: string}
"""
CONTACTS = """\
name: contacts
description: Customer names for the shop.
inputs: {c: platform.customers}
steps:
  - sql: SELECT id, c_name FROM c
"""
LANDED: dict[str, list[object]] = {
    "id": [1, 2, 3],
    "c_name": ["Ann", "Bob", "Cyd"],
    "c_phone": ["555-0101", "555-0102", "555-0103"],
}


def masked(value: str) -> str:
    """The policy's mask for a `pii` text column (`redact`, keep 1), computed independently."""
    return value[:1] + "***"


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """shop reads platform.customers with a subscription scoped to `id, c_name`, approved."""
    products = {"platform": {"customers": CUSTOMERS}, "shop": {"contacts": CONTACTS}}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        (tmp_path / "subscriptions.yaml").write_text("approved: []\n")
        mesh.land("customers", LANDED)
        assert mesh.run("materialize", "platform.customers").exit_code == 0
        asked = mesh.run(
            "subscribe", "platform.customers", "--as", "shop", "--purpose", "mailing",
            "--columns", "id,c_name", "--json",
        )  # fmt: skip
        ident = json.loads(asked.stdout)["id"]
        approved = mesh.run("approve", str(ident), "--by", "platform", "--reason", "names only")
        assert approved.exit_code == 0, approved.output
        yield mesh


def _spec(mesh: CliMesh, sql: str) -> None:
    (mesh.root / "domains/shop/products/contacts.yaml").write_text(
        CONTACTS.replace("SELECT id, c_name FROM c", sql)
    )
    mesh_module._load_cached.cache_clear()  # the mesh is cached by its root


def _ident(mesh: CliMesh) -> int:
    return int(json.loads(mesh.run("subscriptions", "--json").stdout)[0]["id"])


def test_a_read_within_the_scope_runs(mesh: CliMesh) -> None:
    assert mesh.run("validate").exit_code == 0
    ran = mesh.run("materialize", "shop.contacts")
    assert ran.exit_code == 0, ran.output
    got = pl.read_delta(str(mesh.lake("shop.contacts"))).sort("id").to_dicts()
    assert got == [
        {"id": i, "c_name": masked(str(n))}
        for i, n in zip(LANDED["id"], LANDED["c_name"], strict=True)
    ]


@pytest.mark.parametrize(
    "sql",
    ["SELECT id, c_name, c_phone FROM c", "SELECT * FROM c", "SELECT id FROM c WHERE c_phone > ''"],
)
def test_a_column_outside_the_scope_is_refused_at_validate_run_and_preview(
    mesh: CliMesh, sql: str
) -> None:
    _spec(mesh, sql)
    ident = _ident(mesh)
    checked = mesh.run("validate")
    assert checked.exit_code == 1
    spec = mesh.root / "domains/shop/products/contacts.yaml"
    assert f"{spec}:3:" in checked.output  # the line of the input
    assert (
        f"input 'c' reads column c_phone of platform.customers, outside subscription {ident}'s "
        "approved columns (c_name, id)"
    ) in checked.output
    assert "--columns c_name,c_phone,id" in checked.output

    refusal = (
        f"shop may not read column c_phone of platform.customers: shop.contacts reads it, outside "
        f"subscription {ident}'s approved columns (c_name, id); nothing was read."
    )
    run = mesh.run("materialize", "shop.contacts")
    assert run.exit_code != 0 and refusal in run.output
    assert not mesh.lake("shop.contacts").exists()
    preview = mesh.run("preview", "shop.contacts")
    assert preview.exit_code == 1 and refusal in preview.output
    for phone in LANDED["c_phone"]:
        assert str(phone) not in preview.output + run.output


def test_a_scoped_input_reads_only_its_columns(mesh: CliMesh) -> None:
    lake = Lakehouse(root=str(mesh.home / "lake"), landing_root=str(mesh.home / "landing"))
    dataset = lake.dataset(("platform", "customers"))
    scope = ColumnScope("shop", "platform.customers", 1, frozenset({"id", "c_name"}))
    read = pl.from_arrow(scoped_read(dataset, scope.columns))
    assert isinstance(read, pl.DataFrame)
    assert read.columns == ["id", "c_name", "c_phone"]  # the schema the plan was checked with
    assert read.sort("id")["c_name"].to_list() == LANDED["c_name"]
    assert read["c_phone"].null_count() == len(LANDED["c_phone"])  # never selected


def test_a_wider_scope_is_a_new_round_and_then_reads(mesh: CliMesh) -> None:
    _spec(mesh, "SELECT id, c_name, c_phone FROM c")
    ident = _ident(mesh)
    wider = mesh.run(
        "subscribe", "platform.customers", "--as", "shop", "--purpose", "mailing",
        "--columns", "id,c_name,c_phone", "--json",
    )  # fmt: skip
    row = json.loads(wider.stdout)
    assert (row["id"], row["state"], row["columns"]) == (
        ident,
        "requested",
        ["id", "c_name", "c_phone"],
    )
    assert mesh.run("materialize", "shop.contacts").exit_code != 0  # until decided
    assert mesh.run("approve", str(ident), "--by", "platform", "--reason", "ok").exit_code == 0
    mesh_module._load_cached.cache_clear()
    assert mesh.run("validate").exit_code == 0
    ran = mesh.run("materialize", "shop.contacts")
    assert ran.exit_code == 0, ran.output
    got = pl.read_delta(str(mesh.lake("shop.contacts"))).sort("id")
    assert got["c_phone"].to_list() == LANDED["c_phone"]
