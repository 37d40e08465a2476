"""`mesh preview` reads a producer's data only with an approved subscription, as a run does: a
missing, requested, denied or revoked subscription is refused before anything is read, with the
run's message; an approved one (or the approvals file) lets it read (issue 20, item 5)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.mini_mesh import write_approvals

TOTALS = """\
name: totals
description: Doubled amounts.
inputs: {orders: platform.orders}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM orders
"""
AMOUNTS = [1234.5, 6789.25]  # what the producer holds: no refused preview may show them


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """books reads platform.orders (built), and nobody approved that read."""
    # Confidential: a request waits for its producer (without a sensitive tag, `mesh subscribe`
    # would approve it at once).
    orders = ORDERS + "tags: {sensitivity: confidential}\n"
    products = {"platform": {"orders": orders}, "books": {"totals": TOTALS}}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        (tmp_path / "subscriptions.yaml").write_text("approved: []\n")
        mesh.land("orders", {"id": [1, 2], "amount": list(AMOUNTS)})
        built = mesh.run("materialize", "platform.orders")
        assert built.exit_code == 0, built.output
        yield mesh


def _refused(mesh: CliMesh, expected: str) -> None:
    """`mesh preview books.totals` fails with `expected`, exactly as the run does, and shows
    none of the producer's values."""
    preview = mesh.run("preview", "books.totals")
    assert preview.exit_code == 1
    assert expected in preview.output
    for value in (*AMOUNTS, *(2 * a for a in AMOUNTS)):
        assert str(value) not in preview.output
    run = mesh.run("materialize", "books.totals")
    assert run.exit_code != 0
    message = expected.split("\n", 1)[0]
    assert message in run.output
    assert not mesh.lake("books.totals").exists()


def test_preview_without_an_approved_subscription_is_refused_as_a_run_is(mesh: CliMesh) -> None:
    _refused(
        mesh,
        "books may not read platform.orders: no subscription; nothing was read.\n"
        '  fix: mesh subscribe platform.orders --as books --purpose "what you use it for"',
    )
    asked = mesh.run("subscribe", "platform.orders", "--as", "books", "--purpose", "x", "--json")
    ident = json.loads(asked.stdout)["id"]
    _refused(
        mesh,
        f"books may not read platform.orders: subscription {ident} is requested (waiting for a "
        f"decision); nothing was read.\n  who decides: the platform domain (the producer)\n"
        f"  they run: mesh approve {ident} --by THEIR-NAME",
    )
    assert mesh.run("deny", str(ident), "--by", "lead", "--reason", "no").exit_code == 0
    _refused(mesh, f"books may not read platform.orders: subscription {ident} is denied;")

    mesh.run("subscribe", "platform.orders", "--as", "books", "--purpose", "again")
    assert mesh.run("approve", str(ident), "--by", "lead", "--reason", "ok").exit_code == 0
    shown = mesh.run("preview", "books.totals")
    assert shown.exit_code == 0, shown.output
    assert str(2 * AMOUNTS[0]) in shown.output

    assert mesh.run("revoke", str(ident), "--by", "lead", "--reason", "over").exit_code == 0
    _refused(mesh, f"books may not read platform.orders: subscription {ident} is revoked;")


def test_the_approvals_file_lets_a_preview_read_and_own_reads_need_nothing(
    mesh: CliMesh,
) -> None:
    own = mesh.run("preview", "platform.orders")
    assert own.exit_code == 0, own.output
    write_approvals(mesh.root)  # the platform team approves books' read, as a run applies it
    shown = mesh.run("preview", "books.totals", "--json")
    assert shown.exit_code == 0, shown.output
    steps = json.loads(shown.stdout)
    assert [row["doubled"] for row in steps[-1]["sample"]] == [2 * a for a in AMOUNTS]
    listed = json.loads(mesh.run("subscriptions", "--json").stdout)
    assert [(s["consumer"], s["product"], s["state"]) for s in listed] == [
        ("books", "platform.orders", "approved")
    ]
