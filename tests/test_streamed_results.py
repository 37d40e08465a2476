"""Issue 18, item 5: a run's result streams from the engine in record batches, conformed batch
by batch, and past a memory budget goes to disk: the quality gate, the metadata's sample and
the write then read it from there. The same product gives the same table, the same check
verdicts and the same failures whether its result stayed in memory or was spilled."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from mesh_platform.dagster.metadata import materialization_metadata
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh, load_mesh
from mesh_platform.quality.gate import QualityGate
from mesh_platform.run import staged
from mesh_platform.run.materialize import materialize_product
from tests.mini_mesh import write_mesh

ITEMS = """\
name: items
description: Items.
source: {landing: items}
columns:
  - {name: id, type: bigint}
  - {name: kind, type: string}
  - {name: price, type: double}
"""
PRICED = """\
name: priced
description: Items with their tax.
inputs: {items: items}
steps:
  - sql: SELECT id, kind, price, price * 0.2 AS tax FROM items
columns:
  - {name: id, type: bigint}
  - {name: kind, type: string}
  - {name: price, type: "decimal(12,2)"}
  - {name: tax, type: double}
quality:
  - {rule: unique, column: id}
  - {rule: not_null, column: kind}
  - {rule: accepted_values, column: kind, values: [a, b, c]}
  - {rule: between, column: tax, min: 0, max: 15, severity: warn}
  - {rule: regex, column: kind, pattern: "^[ab]$", severity: warn}
  - {rule: sql, name: no_free_items, sql: "SELECT * FROM priced WHERE price <= 0"}
"""
WARNED = PRICED.replace("{rule: unique, column: id}", "{rule: unique, column: id, severity: warn}")
WARNED = WARNED.replace(
    "{rule: not_null, column: kind}", "{rule: not_null, column: kind, severity: warn}"
).replace("values: [a, b, c]}", "values: [a, b, c], severity: warn}")
ROWS = 50_000


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Mesh]:
    write_mesh(tmp_path, {"shop": {"items": ITEMS, "priced": PRICED}})
    monkeypatch.syspath_prepend(str(tmp_path))
    yield load_mesh(tmp_path)


def _lake(root: Path, prices: list[float]) -> Lakehouse:
    lake = Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"))
    items = pa.table(
        {
            "id": pa.array(range(ROWS), pa.int64()),
            "kind": [("a", "b", "c")[i % 3] for i in range(ROWS)],
            "price": prices,
        }
    )
    write_deltalake(lake.uri(("shop", "items")), items)
    return lake


def _run(mesh: Mesh, lake: Lakehouse) -> tuple[object, list[tuple[str, bool]]]:
    done, outcomes = _checked(mesh, lake)
    return done, sorted((name, passed) for name, passed, _, _ in outcomes)


def _checked(mesh: Mesh, lake: Lakehouse) -> tuple[object, list[tuple[str, bool, object, str]]]:
    """The run, and each check's verdict, failing rows and sample."""
    key = ("shop", "priced")
    spec, plan = mesh.products[key].spec, mesh.plans[key]
    gate = QualityGate(spec, plan, lake, None, None)
    done = materialize_product(spec, plan, lake, gate=gate.check)
    outcomes = [
        (
            r.check_name or "",
            r.passed,
            getattr(r.metadata.get("mesh/failing_count"), "value", None),
            str(getattr(r.metadata.get("mesh/sample"), "value", "")),
        )
        for r in gate.results
    ]
    return done, sorted(outcomes)


def test_a_spilled_result_gives_the_same_table_checks_and_sample(
    mesh: Mesh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prices = [1.0 + i % 97 for i in range(ROWS)]  # tax up to 19.4: the warn rule fails
    memory, in_memory_verdicts = _run(mesh, _lake(tmp_path / "memory", prices))
    monkeypatch.setattr(staged, "SPILL_BYTES", 64 * 1024)
    disk, spilled_verdicts = _run(mesh, _lake(tmp_path / "disk", prices))
    assert isinstance(disk.table, staged.Spilled)  # type: ignore[attr-defined]
    assert not isinstance(memory.table, staged.Spilled)  # type: ignore[attr-defined]
    assert spilled_verdicts == in_memory_verdicts
    assert ("between_tax", False) in spilled_verdicts and ("unique_id", True) in spilled_verdicts
    tables = [
        pl.from_arrow(DeltaTable(str(tmp_path / side / "lake/shop/priced")).to_pyarrow_table())
        for side in ("memory", "disk")
    ]
    assert tables[0].sort("id").equals(tables[1].sort("id"))  # type: ignore[union-attr]
    expected = pl.DataFrame({"id": range(ROWS), "price": prices}).with_columns(
        tax=pl.col("price") * 0.2
    )
    assert tables[1].sort("id")["tax"].to_list() == expected["tax"].to_list()  # type: ignore[union-attr]
    key = ("shop", "priced")
    metadata = materialization_metadata(
        mesh.products[key].spec,
        mesh.plans[key],
        disk.table,
        "uri",
        0,
        1.0,  # type: ignore[attr-defined]
    )
    assert metadata["dagster/row_count"] == ROWS
    folder = disk.table.folder  # type: ignore[attr-defined]
    assert any(folder.iterdir())
    del disk, metadata
    gc.collect()
    assert not folder.exists()  # the spilled files go with the result


def test_an_error_rule_failing_on_a_spilled_result_writes_nothing(
    mesh: Mesh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staged, "SPILL_BYTES", 64 * 1024)
    prices = [float(i % 50) for i in range(ROWS)]  # price 0: the sql rule (error) fails
    lake = _lake(tmp_path, prices)
    with pytest.raises(Exception, match="no_free_items"):
        _run(mesh, lake)
    assert not lake.exists(("shop", "priced"))


def test_a_contract_breach_in_a_later_batch_fails_the_run(
    mesh: Mesh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are conformed one by one: a value that does not fit the declared decimal in a
    batch after the first still fails the run, before anything is written."""
    monkeypatch.setattr(staged, "SPILL_BYTES", 64 * 1024)
    prices = [1.0] * (ROWS - 1) + [1e15]  # does not fit decimal(12,2)
    lake = _lake(tmp_path, prices)
    with pytest.raises(Exception, match="does not fit its declared type"):
        _run(mesh, lake)
    assert not lake.exists(("shop", "priced"))


def test_the_local_engine_memory_limit_is_a_setting_with_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mesh_platform.config import environment
    from mesh_platform.engine.duckdb import DuckDBEngine
    from mesh_platform.errors import ConfigurationError

    monkeypatch.setenv("MESH_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigurationError, match=r"MESH_DUCKDB_MEMORY_LIMIT='lots'.*e\.g\. 2GB"):
        environment.local_engine_memory()
    monkeypatch.setenv("MESH_DUCKDB_MEMORY_LIMIT", "300MB")
    engine = DuckDBEngine()
    con = engine._database().cursor()
    try:
        ((limit,),) = con.sql("SELECT current_setting('memory_limit')").fetchall()
    finally:
        con.close()
    assert limit.replace(" ", "").upper().startswith(("286.1MIB", "300.0MB", "286MIB"))


def test_failing_rules_count_and_sample_the_same_rows_in_memory_and_spilled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Duplicate keys, nulls, values outside the accepted set and the pattern: the spilled
    result's groups (DuckDB over its files) fail the same rows as the in-memory ones."""
    write_mesh(tmp_path, {"shop": {"items": ITEMS, "priced": WARNED}})
    monkeypatch.syspath_prepend(str(tmp_path))
    mesh = load_mesh(tmp_path)
    kinds = [("a", "b", "c", None, "z")[i % 5] for i in range(ROWS)]
    outcomes = []
    for side, budget in (("memory", staged.SPILL_BYTES), ("disk", 64 * 1024)):
        monkeypatch.setattr(staged, "SPILL_BYTES", budget)
        lake = Lakehouse(root=str(tmp_path / side), landing_root=str(tmp_path / "landing"))
        ids = [i % (ROWS - 7) for i in range(ROWS)]  # 7 ids twice
        items = pa.table({"id": pa.array(ids, pa.int64()), "kind": kinds, "price": [1.0] * ROWS})
        write_deltalake(lake.uri(("shop", "items")), items)
        done, checked = _checked(mesh, lake)
        assert isinstance(done.table, staged.Spilled) == (side == "disk")  # type: ignore[attr-defined]
        outcomes.append(checked)
    assert outcomes[0] == outcomes[1]
    failing = {name: count for name, passed, count, _ in outcomes[1] if not passed}
    assert failing["unique_id"] == 14 and failing["not_null_kind"] == ROWS // 5
    assert failing["accepted_values_kind"] == ROWS // 5  # the z's (nulls are not judged)
