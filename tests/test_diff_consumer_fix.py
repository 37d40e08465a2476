"""Issue 17, item 6: `mesh diff` tells a consumer broken by an upstream change to change its
SQL (the file, line and column), not to bump its version; an auto-named rule that follows a
renamed column is not a second breaking change."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_contract_diff import _diff_after, _orders


def _rename_qty(spec: str) -> str:
    return spec.replace("name: qty,", "name: quantity,")


def test_a_consumer_broken_by_a_rename_must_change_its_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, report, human = _diff_after(tmp_path, monkeypatch, _rename_qty)
    assert code == 1
    revenue_spec = (tmp_path / "domains/sales/products/revenue.yaml").read_text().splitlines()
    # The line of sales.revenue's SQL naming qty, counted independently (1-based).
    (line,) = [i + 1 for i, text in enumerate(revenue_spec) if "qty" in text]
    where = f"domains/sales/products/revenue.yaml:{line} reads platform.orders.qty"
    fix = f"{where} (renamed to quantity)"
    # Under the producer's change: the consumer and where its SQL must change.
    consumers = {c["product"]: c for c in _orders(report)["consumers"]}
    assert consumers["sales.revenue"]["sql_fixes"] == [fix]
    assert consumers["finance.kpi"]["sql_fixes"] == []  # reads sales.revenue, which still loads
    assert f"sales.revenue must change its SQL:\n        {fix}" in human
    # The consumer itself: must change its SQL, not bump its version.
    revenue = next(p for p in report["products"] if p["product"] == "sales.revenue")
    assert [c["kind"] for c in revenue["changes"]] == ["broken by an upstream change"]
    assert revenue["must_change_sql"] == [fix] and revenue["fails"] is True
    block = human.split("sales.revenue (1.0.0 -> 1.0.0):", 1)[1].split("FAILED")[0]
    assert (
        f"fix: sales.revenue must change its SQL (not its version), to read its inputs as they "
        f"are now:\n    {fix}" in block
    )
    assert "bump `version:`" not in block
    verdict = human.strip().splitlines()[-1]
    assert verdict == (
        "FAILED: breaking change(s) without a version bump: platform.orders; "
        "consumer(s) that must change their SQL: sales.revenue"
    )


def test_an_auto_named_rule_follows_its_renamed_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rename_amount(spec: str) -> str:  # `between_amount` becomes `between_amount_paid`
        return spec.replace("name: amount,", "name: amount_paid,").replace(
            "column: amount,", "column: amount_paid,"
        )

    _, report, human = _diff_after(tmp_path, monkeypatch, rename_amount)
    orders = _orders(report)
    assert [c["kind"] for c in orders["changes"] if c["breaking"]] == ["column renamed"]
    assert "between_amount" not in human.split("platform.orders (", 1)[1].split("sales.")[0]
