"""`mesh diff`: each contract change in the working tree against a git ref, classified; a
breaking change to a published product fails (exit 1) unless its MAJOR version is bumped, and
the message names the consumers and their columns."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from mesh_platform.marketplace.diff import major_bump, next_major
from mesh_platform.marketplace.diff_types import widens
from tests.cli_mesh import CliMesh, cli_mesh

ORDERS = """\
name: orders
description: Orders, as the shop exports them.
visibility: published
version: 1.4.0
owners: [shop-data@example.com]
source: {landing: orders}
freshness: {max_age_hours: 24}
columns:
  - {name: id, type: bigint, description: Order id}
  - {name: customer, type: string, description: Customer}
  - {name: amount, type: double, description: Amount paid}
  - {name: qty, type: int, description: Items}
  - {name: status, type: string, description: Status}
quality:
  - {rule: not_null, column: id}
  - {rule: between, column: amount, min: 0}
  - {rule: accepted_values, column: status, values: [open, shipped]}
"""
REVENUE = """\
name: revenue
description: Revenue per customer.
visibility: published
owners: [sales-data@example.com]
inputs: {orders: platform.orders}
steps:
  - sql: |
      SELECT customer, sum(amount * qty) AS total, count(*) AS order_count
      FROM orders WHERE status = 'shipped' GROUP BY customer
columns:
  - {name: customer, type: string}
  - {name: total, type: double}
  - {name: order_count, type: bigint}
"""
KPI = """\
name: kpi
description: Gross revenue per customer.
owners: [finance-data@example.com]
inputs: {revenue: sales.revenue}
steps:
  - sql: SELECT customer, total * 1.2 AS gross FROM revenue
"""
MESH = {"platform": {"orders": ORDERS}, "sales": {"revenue": REVENUE}, "finance": {"kpi": KPI}}


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def _diff_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit: Callable[[str], str], *args: str
) -> tuple[int, dict, str]:
    """Commit the mesh on `main`, apply `edit` to platform.orders in the working tree, run
    `mesh diff --json` and `mesh diff`; the exit code, the JSON and the human report."""
    with cli_mesh(tmp_path, MESH, monkeypatch) as cli:
        _git(tmp_path, "init", "-b", "main")
        _git(tmp_path, "add", "domains", "workspace.yaml")
        _git(tmp_path, "commit", "-m", "base")
        spec = tmp_path / "domains/platform/products/orders.yaml"
        spec.write_text(edit(spec.read_text()))
        as_json = _run(cli, "diff", "--json", *args)
        human = _run(cli, "diff", *args)
        assert as_json[0] == human[0]
        return as_json[0], json.loads(as_json[1]), human[1]


def _run(cli: CliMesh, *args: str) -> tuple[int, str]:
    result = cli.run(*args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


def _orders(report: dict) -> dict:
    return next(p for p in report["products"] if p["product"] == "platform.orders")


BREAKING = {
    "column removed": (
        lambda s: s.replace("  - {name: qty, type: int, description: Items}\n", ""),
        "qty",
    ),
    "column renamed": (lambda s: s.replace("name: qty,", "name: quantity,"), "qty"),
    "type narrowed": (lambda s: s.replace("amount, type: double", "amount, type: float"), "amount"),
    "column made nullable": (lambda s: s.replace("  - {rule: not_null, column: id}\n", ""), "id"),
    "rule removed": (lambda s: s.replace("  - {rule: accepted_values", "  # "), "status"),
    "rule loosened": (lambda s: s.replace("min: 0}", "min: -10}"), "amount"),
    "SLA loosened": (lambda s: s.replace("max_age_hours: 24", "max_age_hours: 48"), None),
    "product unpublished": (lambda s: s.replace("visibility: published", ""), None),
}


@pytest.mark.parametrize("kind", list(BREAKING))
def test_a_breaking_change_fails_and_names_the_consumers(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit, column = BREAKING[kind]
    code, report, human = _diff_after(tmp_path, monkeypatch, edit)
    assert code == 1 and report["failed"] is True
    orders = _orders(report)
    assert orders["fails"] is True and orders["version_bumped"] is False
    assert [c["kind"] for c in orders["changes"] if c["breaking"]] == [kind]
    assert orders["changes"][0]["column"] == column
    consumers = {c["product"]: c for c in orders["consumers"]}
    assert f"BREAKING: {kind}" in human
    verdict = human.strip().splitlines()[-1]
    assert verdict.startswith("FAILED: breaking change(s) without a version bump: ")
    assert "platform.orders" in verdict
    assert "fix: bump `version:` to 2.0.0" in human
    if column == "id":  # nothing downstream reads it
        assert consumers == {}
        assert "no consumer in the mesh depends on what changed" in human
        return
    assert consumers["sales.revenue"]["owners"] == ["sales-data@example.com"]
    if column in ("amount", "qty", None):  # flows on to finance through sales.revenue.total
        assert "total = SUM(amount * qty)" in consumers["sales.revenue"]["columns"]
        kpi = consumers["finance.kpi"]["columns"]
        assert "gross = total * 1.2" in kpi
        if column is not None:  # only the column's own flow, not the whole product's
            assert kpi == ["gross = total * 1.2"]
        assert "finance.kpi (owners: finance-data@example.com)" in human
    if column == "status":  # read only in the WHERE clause
        assert consumers["sales.revenue"]["columns"] == [
            "reads platform.orders.status in a join, filter or grouping"
        ]
        assert "finance.kpi" not in consumers


NOT_BREAKING = {
    "column added": lambda s: s.replace("quality:", "  - {name: note, type: string}\nquality:"),
    "description changed": lambda s: s.replace("Amount paid", "Amount paid in EUR"),
    "type widened": lambda s: s.replace("qty, type: int", "qty, type: bigint"),
    "SLA tightened": lambda s: s.replace("max_age_hours: 24", "max_age_hours: 12"),
    "rule tightened": lambda s: s.replace("min: 0}", "min: 0, max: 1000000}"),
    "rule added": lambda s: s + "  - {rule: unique, column: id}\n",
}


@pytest.mark.parametrize("kind", list(NOT_BREAKING))
def test_a_compatible_change_passes(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, report, human = _diff_after(tmp_path, monkeypatch, NOT_BREAKING[kind])
    assert code == 0 and report["failed"] is False
    orders = _orders(report)
    assert [(c["kind"], c["breaking"]) for c in orders["changes"]] == [(kind, False)]
    assert "OK: no breaking change" in human


def test_a_major_version_bump_allows_a_breaking_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def remove_and_bump(spec: str) -> str:
        return BREAKING["column removed"][0](spec).replace("1.4.0", "2.0.0")

    code, report, human = _diff_after(tmp_path, monkeypatch, remove_and_bump)
    orders = _orders(report)
    assert orders["version_bumped"] is True and orders["fails"] is False
    # sales.revenue no longer plans against the new contract: that is reported too.
    revenue = next(p for p in report["products"] if p["product"] == "sales.revenue")
    assert [c["kind"] for c in revenue["changes"]] == ["broken by an upstream change"]
    assert "fix: sales.revenue must change its SQL (not its version)" in human
    assert "allowed: version bumped to 2.0.0" in human
    assert code == 1  # ... and fails the check until sales adapts


def test_a_minor_bump_does_not_announce_a_breaking_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, report, _ = _diff_after(
        tmp_path,
        monkeypatch,
        lambda s: s.replace("max_age_hours: 24", "max_age_hours: 48").replace("1.4.0", "1.5.0"),
    )
    assert code == 1 and _orders(report)["fails"] is True


def test_an_unknown_ref_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with cli_mesh(tmp_path, MESH, monkeypatch) as cli:
        _git(tmp_path, "init", "-b", "main")
        result = cli.run("diff", "--base", "release")
        assert result.exit_code == 1
        assert "no git ref 'release'" in result.output and "--base" in result.output


def test_versions_and_types() -> None:
    assert major_bump("1.4.0", "2.0.0") and not major_bump("1.4.0", "1.9.0")
    assert major_bump("0.3.1", "0.4.0") and not major_bump("0.3.1", "0.3.2")
    assert next_major("1.4.2") == "2.0.0" and next_major("0.3.1") == "0.4.0"
    assert widens("int", "bigint") and not widens("bigint", "int")
    assert widens("int", "double") and not widens("bigint", "double")
    assert widens("decimal(10,2)", "decimal(12,2)") and not widens("decimal(10,2)", "decimal(10,3)")
    assert widens("int", "decimal(12,0)") and not widens("bigint", "decimal(12,0)")
    assert widens("date", "timestamp") and not widens("timestamp", "date")
    assert not widens("double", "string") and not widens("double", "float")


def test_deleting_a_published_product_fails_and_says_how_to_retire_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_mesh(tmp_path, MESH, monkeypatch) as cli:
        _git(tmp_path, "init", "-b", "main")
        _git(tmp_path, "add", "domains", "workspace.yaml")
        _git(tmp_path, "commit", "-m", "base")
        (tmp_path / "domains/platform/products/orders.yaml").unlink()
        (tmp_path / "domains/platform/products/refunds.yaml").write_text(
            ORDERS.replace("name: orders", "name: refunds")
        )
        code, output = _run(cli, "diff")
    assert code == 1
    assert "platform.orders (1.4.0 -> removed):\n  BREAKING: product removed" in output
    assert "sales.revenue (owners: sales-data@example.com)" in output
    assert "unpublish it (`visibility: internal`, `version: 2.0.0`)" in output
    assert "platform.refunds (new -> 1.4.0):\n  ok: product published" in output
