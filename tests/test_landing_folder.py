"""Issue 18: a landing folder is ingested file by file, each file exactly once.

Real runs through `materialize_product` into real Delta tables; the table is compared with
polars reading the landing files the table should hold. A new file is appended (and listed in
its commit's metadata), a re-run ingests nothing, a changed file is refused by name, a full
refresh re-ingests every file, a rollback makes the next run ingest the later files again once,
two concurrent runs commit once, and a file with other columns is named.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from mesh_platform.lake.increments import ConcurrentRun
from mesh_platform.lake.ingested import ADDED_KEY, FILES_KEY
from mesh_platform.lake.lakehouse import Lakehouse, LandingError
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.run.landing_folder import read_folder
from mesh_platform.run.materialize import Materialized, materialize_product
from tests.mini_mesh import local_lakehouse, write_mesh

EVENTS = """\
name: events
description: Landing copy of a daily export.
source: {landing: events, folder: true}
columns:
  - {name: id, type: bigint}
  - {name: day, type: date}
  - {name: amount, type: double}
"""
START = date(2024, 1, 1)
KEY = ("shop", "events")

Run = Callable[..., Materialized]


def _day(folder: Path, n: int, rows: int = 3) -> Path:
    """Write the export of day `n` (ids n*100 ...) into the folder; its path."""
    day = START + timedelta(days=n)
    frame = pl.DataFrame(
        {
            "id": [n * 100 + i for i in range(rows)],
            "day": [day] * rows,
            "amount": [float(n) + i / 4 for i in range(rows)],
        }
    )
    path = folder / f"{day.isoformat()}.parquet"
    frame.write_parquet(path)
    return path


def _expected(folder: Path, names: list[str]) -> list[dict[str, object]]:
    """The rows of the named files, read independently (polars)."""
    frame = pl.concat([pl.read_parquet(folder / n) for n in names])
    return frame.sort("id").to_dicts()


def _table(lake: Lakehouse) -> list[dict[str, object]]:
    return pl.read_delta(lake.uri(KEY)).sort("id").to_dicts()


def _last_commit(lake: Lakehouse) -> dict[str, object]:
    return dict(DeltaTable(lake.uri(KEY)).history(limit=1)[0])


@pytest.fixture
def mesh(tmp_path: Path) -> tuple[Run, Lakehouse, Path]:
    root = write_mesh(tmp_path, {"shop": {"events": EVENTS}})
    loaded = load_mesh(root)
    lake = local_lakehouse(root)
    folder = root / "landing" / "events"
    folder.mkdir()
    spec, plan = loaded.products[KEY].spec, loaded.plans[KEY]

    def run(**kwargs: object) -> Materialized:
        return materialize_product(spec, plan, lake, **kwargs)  # type: ignore[arg-type]

    return run, lake, folder


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.parquet"))


def test_only_new_files_are_ingested_once(mesh: tuple[Run, Lakehouse, Path]) -> None:
    run, lake, folder = mesh
    _day(folder, 0)
    _day(folder, 1)
    first = run(run_id="r1")
    assert first.written.rows == 6 and not first.written.incremental
    assert _table(lake) == _expected(folder, _names(folder))
    new = _day(folder, 2, rows=4)
    second = run(run_id="r2")
    assert (second.written.rows, second.written.added) == (4, 4)
    assert second.written.incremental
    assert _table(lake) == _expected(folder, _names(folder))
    commit = _last_commit(lake)
    assert json.loads(str(commit[ADDED_KEY])) == [new.name]
    held = json.loads(str(commit[FILES_KEY]))
    assert [name for name, _, _ in held] == _names(folder)
    assert held[-1][1] == new.stat().st_size
    assert commit["mesh.run_id"] == "r2"
    version = lake.version(KEY)
    again = run(run_id="r3")
    assert again.written.rows == 0 and lake.version(KEY) == version
    assert any("no new files" in w for w in again.warnings)
    assert _table(lake) == _expected(folder, _names(folder))


def test_a_changed_ingested_file_is_refused_by_name(mesh: tuple[Run, Lakehouse, Path]) -> None:
    run, lake, folder = mesh
    _day(folder, 0)
    changed = _day(folder, 1)
    run()
    version = lake.version(KEY)
    pl.DataFrame({"id": [7], "day": [START], "amount": [9.5]}).write_parquet(changed)
    _day(folder, 2)
    with pytest.raises(LandingError, match=f"events/{changed.name} .*changed after it") as err:
        run()
    assert "--full-refresh" in str(err.value)
    assert lake.version(KEY) == version
    # The full refresh rebuilds the table from the files as they are now.
    rebuilt = run(full_refresh=True)
    assert not rebuilt.written.incremental
    assert _table(lake) == _expected(folder, _names(folder))
    assert run().written.rows == 0


def test_a_rollback_ingests_the_later_files_again_once(mesh: tuple[Run, Lakehouse, Path]) -> None:
    run, lake, folder = mesh
    _day(folder, 0)
    run()
    restored_to = lake.version(KEY)
    before = _names(folder)
    _day(folder, 1)
    run()
    _day(folder, 2)
    run()
    DeltaTable(lake.uri(KEY)).restore(restored_to)
    assert _table(lake) == _expected(folder, before)
    again = run()
    assert again.written.added == 6
    assert _table(lake) == _expected(folder, _names(folder))
    assert json.loads(str(_last_commit(lake)[ADDED_KEY])) == _names(folder)[1:]
    assert run().written.rows == 0
    # A rollback to a rollback's version: its restored version's files.
    DeltaTable(lake.uri(KEY)).restore(lake.version(KEY) - 1)
    assert _table(lake) == _expected(folder, before)
    assert run().written.added == 6
    assert _table(lake) == _expected(folder, _names(folder))


def test_two_concurrent_runs_commit_once(mesh: tuple[Run, Lakehouse, Path]) -> None:
    run, lake, folder = mesh
    _day(folder, 0)
    run()
    _day(folder, 1)
    spec = load_mesh(folder.parents[1]).products[KEY].spec
    first, second = (read_folder(lake, spec, run_id=r) for r in ("a", "b"))
    first.write(lake, first.data.read_all())
    with pytest.raises(ConcurrentRun, match="run it again"):
        second.write(lake, second.data.read_all())
    assert _table(lake) == _expected(folder, _names(folder))
    assert run().written.rows == 0  # the second run's retry finds nothing new


def test_a_file_with_other_columns_is_named(mesh: tuple[Run, Lakehouse, Path]) -> None:
    run, lake, folder = mesh
    _day(folder, 0)
    run()
    version = lake.version(KEY)
    bad = folder / "2024-01-05.parquet"
    pl.DataFrame({"id": [1], "day": [START], "note": ["x"]}).write_parquet(bad)
    with pytest.raises(LandingError, match=r"events/2024-01-05\.parquet .*missing amount; added"):
        run()
    bad.write_bytes(b"not parquet at all, not at all")
    with pytest.raises(LandingError, match=r"2024-01-05\.parquet is not readable parquet"):
        run()
    assert lake.version(KEY) == version


def test_an_empty_folder_and_a_single_file(mesh: tuple[Run, Lakehouse, Path]) -> None:
    run, lake, folder = mesh
    with pytest.raises(LandingError, match=r"is empty and shop\.events was never published"):
        run()
    folder.rmdir()
    pl.DataFrame({"id": [1], "day": [START], "amount": [1.0]}).write_parquet(
        folder.with_suffix(".parquet")
    )
    with pytest.raises(LandingError, match="move it into the folder"):
        run()
    assert not lake.exists(KEY)


def test_mesh_generate_day_adds_a_day_the_demo_ingests_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from mesh_platform.cli import main
    from mesh_platform.loader.mesh import Mesh

    landing = tmp_path / "landing"
    monkeypatch.setenv("MESH_LANDING_ROOT", str(landing))
    runner = CliRunner()
    assert runner.invoke(main, ["generate", "--scale", "0.01"]).exit_code == 0
    assert (landing / "orders/initial.parquet").exists() and (landing / "part.parquet").exists()
    lake = Lakehouse(root=str(tmp_path / "lake"), landing_root=str(landing))
    mesh = Mesh.load()
    bronze = {
        t: (
            mesh.products[("platform", f"bronze_{t}")].spec,
            mesh.plans[("platform", f"bronze_{t}")],
        )
        for t in ("orders", "lineitem")
    }
    for spec, plan in bronze.values():
        materialize_product(spec, plan, lake)
    before = pl.read_parquet(landing / "orders/initial.parquet")
    added = runner.invoke(main, ["generate", "--day"])
    assert added.exit_code == 0, added.output
    day = max(before["o_orderdate"]) + timedelta(days=1)
    assert f"added {day}" in added.output
    orders = pl.read_parquet(landing / f"orders/{day}.parquet")
    lines = pl.read_parquet(landing / f"lineitem/{day}.parquet")
    # ~1% new orders, keyed after the largest, on the next day; lineitems of those orders.
    assert orders.height == round(before.height / 100)
    last = int(before.select(pl.col("o_orderkey").max()).item())
    assert orders["o_orderkey"].to_list() == list(range(last + 1, last + 1 + orders.height))
    assert set(orders["o_orderdate"]) == {day}
    assert set(lines["l_orderkey"]) == set(orders["o_orderkey"])
    numbered = lines.group_by("l_orderkey").agg(pl.col("l_linenumber").sort())
    assert all(n.to_list() == list(range(1, len(n) + 1)) for n in numbered["l_linenumber"])
    assert (lines["l_shipdate"] > day).all() and (
        lines["l_receiptdate"] > lines["l_shipdate"]
    ).all()
    for table, rows in (("orders", orders), ("lineitem", lines)):
        spec, plan = bronze[table]
        done = materialize_product(spec, plan, lake)
        assert (done.written.added, done.written.incremental) == (rows.height, True)
        stored = pl.read_delta(lake.uri(spec.key))
        assert stored.height == pl.read_parquet(landing / table / "*.parquet").height


def test_a_table_written_before_the_folder_is_replaced_once(
    mesh: tuple[Run, Lakehouse, Path],
) -> None:
    from deltalake import write_deltalake

    run, lake, folder = mesh
    _day(folder, 0)
    _day(folder, 1)
    write_deltalake(lake.uri(KEY), pl.read_parquet(folder / "*.parquet").to_arrow())
    first = run()
    assert not first.written.incremental
    assert any("every file re-ingested" in w for w in first.warnings)
    assert _table(lake) == _expected(folder, _names(folder))
    assert run().written.rows == 0
