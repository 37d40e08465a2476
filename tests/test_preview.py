"""`mesh preview` ends with the product as written (contract casts and types), takes `--limit`
and `--columns`, and shows wide tables one record per row."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from click.testing import CliRunner, Result

from mesh_platform.cli import main
from mesh_platform.dev.preview import render_sample
from tests.mini_mesh import local_lakehouse, write_mesh

EVENTS = """\
name: events
description: Events as landed.
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: kind, type: string}
  - {name: amount, type: double}
  - {name: at, type: string}
"""
TOTALS = """\
name: totals
description: Totals per kind and day.
inputs: {events: events}
steps:
  - sql: |
      SELECT kind, CAST(at AS DATE) AS day, sum(amount) AS total, count(*) AS n,
        concat(kind, '/', at) AS label
      FROM events GROUP BY kind, CAST(at AS DATE), at
columns:
  - {name: kind, type: string}
  - {name: day, type: date}
  - {name: total, type: 'decimal(15,2)'}
  - {name: n, type: bigint}
  - {name: label, type: string}
"""
WIDE = """\
name: wide
description: Many long columns.
inputs: {events: events}
steps:
  - sql: |
      SELECT {columns}
      FROM events
"""


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mesh whose `shop.events` is in the lake: 3 events of 2 kinds on 2 days."""
    wide = ", ".join(f"concat(kind, '-{i}') AS a_rather_long_column_name_{i}" for i in range(12))
    write_mesh(
        tmp_path,
        {"shop": {"events": EVENTS, "totals": TOTALS, "wide": WIDE.replace("{columns}", wide)}},
    )
    events = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "kind": ["a", "a", "b"],
            "amount": [1.25, 2.0, 3.5],
            "at": ["2024-01-05", "2024-01-05", "2024-01-06"],
        }
    )
    local_lakehouse(tmp_path).write(("shop", "events"), events)
    monkeypatch.setattr("mesh_platform.spec.workspace.repo_root", lambda: tmp_path)
    monkeypatch.setenv("MESH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MESH_LAKE_ROOT", str(tmp_path / "lake"))
    monkeypatch.setenv("MESH_LANDING_ROOT", str(tmp_path / "landing"))
    monkeypatch.setenv("MESH_CATALOG_URL", f"sqlite:///{tmp_path / 'catalog.db'}")
    return tmp_path


def _preview(*args: str, columns: int = 200) -> Result:
    return CliRunner().invoke(main, ["preview", *args], env={"COLUMNS": str(columns)})


def test_the_preview_ends_with_the_product_as_written(shop: Path) -> None:
    result = _preview("shop.totals", "--json")
    assert result.exit_code == 0, result.output
    (step,) = json.loads(result.stdout)
    assert step["schema"]["total"] == "DOUBLE"  # the engine's internal type
    written = step["as_written"]
    assert written["step"] == "as written" and written["rows"] == step["rows"] == 2
    assert written["schema"] == {
        "kind": "string",
        "day": "date",
        "total": "decimal(15,2)",
        "n": "bigint",
        "label": "string",
    }
    rows = sorted(written["sample"], key=lambda r: r["kind"])
    assert rows[0]["total"] == str(Decimal("3.25"))  # a decimal (JSON: its text), not a double
    assert sorted(r["total"] for r in step["sample"]) == [3.25, 3.5]
    assert rows[0]["day"] == "2024-01-05" and step["contract_error"] is None

    text = _preview("shop.totals")
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    at = lines.index("== as written (contract applied): 2 rows")
    assert lines[at + 1] == (
        "   kind: string, day: date, total: decimal(15,2), n: bigint, label: string"
    )
    assert any("3.25" in line for line in lines[at:])


def test_limit_and_its_rows_alias(shop: Path) -> None:
    for option in ("--limit", "--rows"):
        result = _preview("shop.totals", "--json", option, "1")
        assert result.exit_code == 0, result.output
        (step,) = json.loads(result.stdout)
        assert len(step["sample"]) == len(step["as_written"]["sample"]) == 1
        assert step["rows"] == 2  # the count is the whole result's


def test_columns_chooses_and_unknown_names_are_refused_with_choices(shop: Path) -> None:
    result = _preview("shop.totals", "--json", "--columns", "total,kind")
    assert result.exit_code == 0, result.output
    (step,) = json.loads(result.stdout)
    assert list(step["as_written"]["schema"]) == ["total", "kind"]
    assert set(step["sample"][0]) == {"total", "kind"}
    wrong = _preview("shop.totals", "--columns", "totl,kind")
    assert wrong.exit_code == 1
    assert (
        "--columns: unknown column(s) totl; 'totl' (did you mean 'total'?); available: kind, "
        "day, total, n, label"
    ) in wrong.output
    assert "Traceback" not in wrong.output
    # The plan knows the columns: a misspelt name is refused before anything runs (here the
    # input's table is gone, which a run would report instead).
    shutil.rmtree(shop / "lake")
    early = _preview("shop.totals", "--columns", "totl")
    assert early.exit_code == 1 and "'totl' (did you mean 'total'?)" in early.output


def test_a_table_wider_than_the_terminal_is_shown_one_record_per_row(shop: Path) -> None:
    narrow = _preview("shop.wide", "--limit", "2", columns=80)
    assert narrow.exit_code == 0, narrow.output
    lines = narrow.output.splitlines()
    assert sum(line.startswith("-- row ") for line in lines) == 4  # the step and as written
    assert "a_rather_long_column_name_11  b-11" in lines or (
        "a_rather_long_column_name_11  a-11" in lines
    )
    records = [line for line in lines if line.startswith("a_rather_long")]
    assert len(records) == 48 and max(len(line) for line in records) <= 80
    wide = _preview("shop.totals", columns=200)
    assert not any(line.startswith("-- row ") for line in wide.output.splitlines())


def test_render_sample_fits_or_turns_to_records() -> None:
    frame = pl.DataFrame({"short": [1], "text": ["x" * 300]})
    records = render_sample(frame, 60)
    assert records.splitlines()[1:] == ["short  1", "text   " + "x" * 52 + "…"]
    assert "┆" in render_sample(pl.DataFrame({"a": [1], "b": [2]}), 60)


def test_a_contract_the_sample_breaks_is_shown_after_the_steps(shop: Path) -> None:
    spec = shop / "domains/shop/products/totals.yaml"
    spec.write_text(TOTALS.replace("'decimal(15,2)'", "'decimal(2,2)'"))
    result = _preview("shop.totals")
    assert result.exit_code == 1
    assert "== step step_1 (sql): 2 rows" in result.output
    assert (
        "Error: as written: the contract check fails on the sample: shop.totals: column 'total' "
        "does not fit its declared type decimal(2,2)"
    ) in result.output


def test_previewing_before_the_inputs_exist_names_the_command_to_build_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.cli_mesh import ORDERS, cli_mesh

    totals = (
        "name: totals\ndescription: Doubled.\ninputs: {orders: shop.orders}\n"
        "steps:\n  - sql: SELECT id, amount * 2 AS doubled FROM orders\n"
    )
    with cli_mesh(
        tmp_path, {"shop": {"orders": ORDERS}, "books": {"totals": totals}}, monkeypatch
    ) as mesh:
        result = mesh.run("preview", "books.totals")
    assert result.exit_code == 1
    assert "product shop.orders has no table" in result.output
    assert "(`mesh materialize shop.orders`)" in result.output
    assert "Traceback" not in result.output
