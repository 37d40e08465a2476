"""Enforcement: a run reading another domain's product without an approved subscription fails
before it reads anything, saying how to subscribe; approval lets it run, revocation stops it.
The demo mesh's approvals file covers exactly its cross-domain reads. The check reads no file
and no environment of its own: its caller gives the catalog and the approvals."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_platform.access import SubscriptionRequired, approvals_file, declared_reads
from mesh_platform.access.enforcement import require_access
from mesh_platform.access.seeding import apply_approvals
from mesh_platform.catalog import Catalog
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.spec.model import ProductSpec, SqlStep
from mesh_platform.spec.workspace import repo_root
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.mini_mesh import write_approvals

TOTALS = """\
name: totals
description: Doubled amounts.
inputs: {orders: shop.orders}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM orders
"""


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    # Confidential: its producer decides a request (a product without a sensitive tag would be
    # approved by `mesh subscribe` itself).
    orders = ORDERS + "tags: {sensitivity: confidential}\n"
    products = {"shop": {"orders": orders}, "books": {"totals": TOTALS}}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        # Nobody approved books' read of shop.orders.
        (tmp_path / "subscriptions.yaml").write_text("approved: []\nlanding: [shop]\n")
        mesh.land("orders", {"id": [1, 2], "amount": [1.5, 4.0]})
        yield mesh


def test_an_unapproved_read_fails_before_reading_and_says_how_to_subscribe(
    mesh: CliMesh,
) -> None:
    # shop.orders was never built: a run that read it would fail on the missing table. It
    # fails on the subscription instead, so it read nothing.
    refused = mesh.run("materialize", "books.totals")
    assert refused.exit_code != 0
    assert "books may not read shop.orders: no subscription; nothing was read." in refused.output
    assert 'fix: mesh subscribe shop.orders --as books --purpose "' in refused.output
    assert "shop.orders has no table" not in refused.output
    assert not mesh.lake("books.totals").exists()

    assert mesh.run("materialize", "shop.orders").exit_code == 0
    ident = json.loads(
        mesh.run("subscribe", "shop.orders", "--as", "books", "--purpose", "x", "--json").stdout
    )["id"]
    pending = mesh.run("materialize", "books.totals")
    assert pending.exit_code != 0
    assert f"subscription {ident} is requested (waiting for a decision)" in pending.output
    assert not mesh.lake("books.totals").exists()

    approved = mesh.run("approve", str(ident), "--by", "shop-lead", "--reason", "ok")
    assert approved.exit_code == 0, approved.output
    ran = mesh.run("materialize", "books.totals")
    assert ran.exit_code == 0, ran.output
    assert mesh.lake("books.totals").exists()

    assert mesh.run("revoke", str(ident), "--by", "shop-lead", "--reason", "done").exit_code == 0
    revoked = mesh.run("materialize", "books.totals")
    assert revoked.exit_code != 0
    assert f"subscription {ident} is revoked" in revoked.output


def test_the_approvals_file_approves_and_never_overrides_a_decision(mesh: CliMesh) -> None:
    write_approvals(mesh.root)  # the platform team approves books' read
    assert mesh.run("materialize").exit_code == 0
    listed = json.loads(mesh.run("subscriptions", "--json").stdout)
    assert [(s["consumer"], s["product"], s["state"], s["decided_by"]) for s in listed] == [
        ("books", "shop.orders", "approved", "platform:subscriptions.yaml")
    ]
    ident = str(listed[0]["id"])
    assert mesh.run("revoke", ident, "--by", "security", "--reason", "breach").exit_code == 0
    # The file still lists the read; the revocation stands.
    again = mesh.run("materialize", "books.totals")
    assert again.exit_code != 0 and "is revoked" in again.output


def test_the_demo_approvals_file_covers_exactly_the_demo_reads() -> None:
    declared = {(r.consumer, r.product) for r in declared_reads(MeshSpecs.load())}
    approved = {(consumer, product) for consumer, product, _ in approvals_file(repo_root())}
    assert declared == approved


def _spec(domain: str, source: str) -> ProductSpec:
    return ProductSpec(
        domain=domain,
        name="totals",
        description="Totals.",
        inputs={"orders": source},
        steps=(SqlStep(sql="SELECT id FROM orders"),),
    )


def test_the_access_check_opens_and_writes_only_what_its_caller_gives(tmp_path: Path) -> None:
    opened: list[Catalog] = []

    def catalog() -> Catalog:
        opened.append(Catalog.open(f"sqlite:///{tmp_path / 'catalog.db'}"))
        return opened[-1]

    require_access(_spec("shop", "shop.orders"), catalog)  # its own domain's input
    assert opened == []  # the catalog is not even opened
    reader = _spec("books", "shop.orders")
    with pytest.raises(SubscriptionRequired):
        require_access(reader, catalog)  # no approvals from the caller: refused
    applied: list[int] = []

    def approvals(found: Catalog) -> None:
        applied.append(apply_approvals(found, [("books", "shop.orders", "x")], tmp_path / "s"))

    require_access(reader, catalog, approvals=approvals)
    require_access(reader, catalog, approvals=approvals)  # approved now: nothing applied again
    assert applied == [1]
