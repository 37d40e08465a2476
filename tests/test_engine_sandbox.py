"""Defense in depth: domain SQL runs on a DuckDB connection with no file or network access,
even when a query gets past the planner's table check (here: a plan built by hand)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mesh_platform.compile import sql as sqlmod
from mesh_platform.compile.plan import ColumnPlan, PlannedStep, ProductPlan
from mesh_platform.engine.duckdb import DuckDBEngine
from mesh_platform.errors import StepFailed


def _plan(sql: str) -> ProductPlan:
    step = PlannedStep("crafted", "sql", query=sqlmod.parse(sql))
    return ProductPlan((step,), (ColumnPlan("x", "string", "", (), (), "x"),))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('{path}')",
        "SELECT * FROM read_parquet('{path}')",
        "SELECT content AS x FROM read_text('{path}')",
    ],
)
def test_a_query_cannot_read_files(tmp_path: Path, sql: str) -> None:
    secret = tmp_path / "secret.csv"
    secret.write_text("x\nthe secret\n")
    pl.DataFrame({"x": ["the secret"]}).write_parquet(tmp_path / "secret.parquet")
    path = secret if "csv" in sql or "text" in sql else tmp_path / "secret.parquet"
    engine = DuckDBEngine(threads=1)
    with pytest.raises(StepFailed) as caught:
        engine.run(_plan(sql.format(path=path)), {})
    assert "disabled by configuration" in str(caught.value)
    assert "the secret" not in str(caught.value)


def test_registered_inputs_stay_readable() -> None:
    engine = DuckDBEngine(threads=1)
    table = pl.DataFrame({"x": ["a", "b"]}).to_arrow()
    result = engine.run(_plan("SELECT upper(x) AS x FROM people"), {"people": table})
    assert result.table.column("x").to_pylist() == ["A", "B"]


def test_runs_share_one_database_but_see_only_their_own_inputs_and_steps() -> None:
    """One database per process (functions registered once); each run on a cursor of its own:
    an input or a step view of one run is gone for the next, whichever engine instance."""
    first, second = DuckDBEngine(threads=1), DuckDBEngine(threads=1)
    assert first._database() is second._database()
    table = pl.DataFrame({"x": ["a"]}).to_arrow()
    assert first.run(_plan("SELECT x FROM people"), {"people": table}).table.num_rows == 1
    for engine, sql in ((second, "SELECT x FROM people"), (first, "SELECT x FROM crafted")):
        with pytest.raises(StepFailed, match="does not exist"):
            engine.run(_plan(sql), {})


def test_settings_hold_on_every_run_and_cannot_be_changed_by_a_step() -> None:
    engine = DuckDBEngine(threads=1)
    sql = (
        "SELECT CAST(1 % 0 AS STRING) AS x, current_setting('TimeZone') AS tz, "
        "CAST(current_setting('enable_external_access') AS STRING) AS access FROM people"
    )
    people = pl.DataFrame({"x": ["a"]}).to_arrow()
    for _ in range(2):
        row = engine.run(_plan(sql), {"people": people}).table.to_pylist()[0]
        assert row == {"x": None, "tz": "UTC", "access": "false"}
    con = engine._connect({})
    try:
        with pytest.raises(Exception, match="locked"):
            con.execute("SET TimeZone = 'Europe/Paris'")
    finally:
        con.close()
