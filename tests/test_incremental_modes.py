"""Issue 18: write modes and incremental runs give the table a full rebuild gives.

A change log `shop.events` (id, seq, day, amount, op) receives random batches: new rows,
updates and deletes (a later row of the same id), late rows inside and outside the lookback,
and the same event delivered twice. After each batch every product runs incrementally through
the real run path (DuckDB, Delta) and is compared with an independent polars computation over
the inputs it could see: the full input, less the late rows that arrived outside the lookback
(never read again, by design). SCD2 is compared with a reference history built in the test.
Then: a run that fails before its commit, with files written but not committed, or after its
commit, and two concurrent runs, each leave the table equal to exactly one application.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from mesh_platform.errors import SpecError
from mesh_platform.lake import increments
from mesh_platform.lake.increments import ConcurrentRun
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh, load_mesh
from mesh_platform.run import incremental, staged
from mesh_platform.run.incremental import plan_write
from mesh_platform.run.materialize import materialize_product
from tests.mini_mesh import validate_errors, write_mesh

EVENTS = """\
name: events
description: A change log of amounts.
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: seq, type: bigint}
  - {name: day, type: date}
  - {name: amount, type: double}
  - {name: op, type: string}
"""
DAILY = """\
name: daily
description: Totals per day, the last 2 days recomputed.
inputs: {events: events}
incremental: {column: day, lookback: 2 days}
steps:
  - sql: SELECT day, SUM(amount) AS total, COUNT(*) AS n FROM events GROUP BY day
"""
LATEST = """\
name: latest
description: Each id's latest amount, deleted ids removed.
inputs: {events: events}
write: merge
keys: [id]
delete_when: op = 'D'
incremental: {column: day, lookback: 2 days}
steps:
  - sql: |
      SELECT id, day, amount, op FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY seq DESC) AS rn FROM events)
      WHERE rn = 1
"""
LEDGER = """\
name: ledger
description: Every event once.
inputs: {events: events}
write: append
incremental: {column: day, lookback: 1 day}
steps:
  - sql: SELECT id, seq, day, amount, op FROM events
"""
HISTORY = """\
name: history
description: Each id's amounts over time.
inputs: {events: events}
write: scd2
keys: [id]
steps:
  - sql: |
      SELECT id, amount FROM (
        SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY seq DESC) AS rn FROM events)
      WHERE rn = 1 AND op <> 'D'
"""
PRODUCTS = ("daily", "latest", "ledger", "history")
START = date(2024, 1, 10)
SCHEMA = pa.schema(
    [
        ("id", pa.int64()),
        ("seq", pa.int64()),
        ("day", pa.date32()),
        ("amount", pa.float64()),
        ("op", pa.string()),
    ]
)


@dataclass
class Log:
    """The change log as the source holds it, and what the products could have seen."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    ignored: dict[str, set[int]] = field(default_factory=dict)  # product -> seqs never read
    seq: int = 0

    def add(self, ident: int, day: date, amount: float, op: str = "U") -> dict[str, Any]:
        self.seq += 1
        row = {"id": ident, "seq": self.seq, "day": day, "amount": amount, "op": op}
        self.rows.append(row)
        return row

    def frame(self, product: str | None = None) -> pl.DataFrame:
        skipped = self.ignored.get(product or "", set())
        kept = [r for r in self.rows if r["seq"] not in skipped]
        return pl.from_arrow(pa.Table.from_pylist(kept, SCHEMA))  # type: ignore[return-value]


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Mesh, Lakehouse]]:
    products = {"events": EVENTS, "daily": DAILY, "latest": LATEST, "ledger": LEDGER}
    write_mesh(tmp_path, {"shop": {**products, "history": HISTORY}})
    monkeypatch.syspath_prepend(str(tmp_path))
    lake = Lakehouse(root=str(tmp_path / "lake"), landing_root=str(tmp_path / "landing"))
    yield load_mesh(tmp_path), lake


def _store(lake: Lakehouse, log: Log) -> None:
    """The source's change log as the `shop.events` table (written as ingestion would)."""
    table = pa.Table.from_pylist(log.rows, SCHEMA)
    write_deltalake(lake.uri(("shop", "events")), table, mode="overwrite")


def _run(mesh: Mesh, lake: Lakehouse, name: str, **kwargs: Any) -> Any:
    key = ("shop", name)
    return materialize_product(mesh.products[key].spec, mesh.plans[key], lake, **kwargs)


def _table(lake: Lakehouse, name: str) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(lake.uri(("shop", name))).to_pyarrow_table())  # type: ignore[return-value]


def _sorted(frame: pl.DataFrame, *by: str) -> list[dict[str, Any]]:
    return frame.sort(list(by)).to_dicts()


def _expected(name: str, log: Log) -> list[dict[str, Any]]:
    """The product computed independently (polars) over what it could read."""
    events = log.frame(name)
    if name == "daily":
        daily = events.group_by("day").agg(
            pl.col("amount").sum().alias("total"), pl.len().cast(pl.Int64).alias("n")
        )
        return _sorted(daily.select("day", "total", "n"), "day")
    latest = events.sort("seq").group_by("id").last()
    if name == "latest":
        kept = latest.filter(pl.col("op") != "D").select("id", "day", "amount", "op")
        return _sorted(kept, "id")
    assert name == "ledger"
    return _sorted(events.unique(), "seq")


def _mark(log: Log) -> date:
    return max(r["day"] for r in log.rows)


def _batch(log: Log, rng: random.Random, step: int) -> None:
    """New days, updates and deletes of existing ids, late rows in and out of the lookbacks,
    and one event delivered twice."""
    mark = _mark(log)
    new_day = mark + timedelta(days=rng.randint(0, 2))
    ids = sorted({r["id"] for r in log.rows})
    for _ in range(rng.randint(2, 5)):
        log.add(rng.randint(1000 * step, 1000 * step + 999), new_day, rng.randint(1, 99) * 1.0)
    for ident in rng.sample(ids, min(3, len(ids))):  # updates, on the newest day
        log.add(ident, new_day, rng.randint(1, 99) * 1.0)
    for ident in rng.sample(ids, min(1, len(ids))):  # a delete
        log.add(ident, new_day, 0.0, "D")
    log.add(rng.randint(10**6, 2 * 10**6), mark - timedelta(days=1), 5.0)  # late, inside
    late = log.add(rng.randint(10**6, 2 * 10**6), mark - timedelta(days=5), 7.0)  # outside
    for product in ("daily", "latest", "ledger"):
        log.ignored.setdefault(product, set()).add(late["seq"])
    twice = log.add(rng.randint(3 * 10**6, 4 * 10**6), new_day, 3.0)
    log.rows.append(dict(twice))  # the same event delivered twice


@dataclass
class Scd2Reference:
    """The history an SCD2 table must hold, kept by the test: (id, amount, opened, closed)."""

    versions: list[list[Any]] = field(default_factory=list)

    def apply(self, current: dict[int, float], run: int) -> None:
        open_now = {v[0]: v for v in self.versions if v[3] is None}
        for ident, version in open_now.items():
            if ident not in current or current[ident] != version[1]:
                version[3] = run
        for ident, amount in current.items():
            if ident not in open_now or open_now[ident][1] != amount:
                self.versions.append([ident, amount, run, None])

    def rows(self, stamps: dict[int, datetime]) -> list[dict[str, Any]]:
        out = [
            {
                "id": ident,
                "amount": amount,
                "valid_from": stamps[opened],
                "valid_to": None if closed is None else stamps[closed],
                "is_current": closed is None,
            }
            for ident, amount, opened, closed in self.versions
        ]
        return sorted(out, key=lambda r: (r["id"], r["valid_from"]))


def _current(log: Log) -> dict[int, float]:
    latest = log.frame().sort("seq").group_by("id").last().filter(pl.col("op") != "D")
    return dict(zip(latest["id"].to_list(), latest["amount"].to_list(), strict=True))


@pytest.mark.parametrize(("seed", "spilled"), [(1, False), (2, False), (3, True)])
def test_random_change_batches_give_what_a_full_rebuild_gives(
    mesh: tuple[Mesh, Lakehouse], monkeypatch: pytest.MonkeyPatch, seed: int, spilled: bool
) -> None:
    """`spilled`: every result goes to disk (`run/staged.py`), as a large one does."""
    if spilled:
        monkeypatch.setattr(staged, "SPILL_BYTES", 1)
    loaded, lake = mesh
    rng = random.Random(seed)
    log = Log()
    for ident in range(1, 9):
        log.add(ident, START + timedelta(days=ident % 3), float(ident))
    stamps: dict[int, datetime] = {}
    reference = Scd2Reference()
    for step in range(6):
        if step:
            _batch(log, rng, step)
        _store(lake, log)
        stamps[step] = datetime(2024, 2, 1) + timedelta(hours=step)
        monkeypatch.setattr(incremental, "_now", lambda s=step: stamps[s])
        for name in PRODUCTS:
            done = _run(loaded, lake, name, run_id=f"run-{step}")
            assert done.written.incremental == bool(step), (name, step)
        reference.apply(_current(log), step)
        for name in ("daily", "latest", "ledger"):
            keys = {"daily": ("day",), "latest": ("id",), "ledger": ("seq",)}[name]
            assert _sorted(_table(lake, name), *keys) == _expected(name, log), (name, step)
        history = _table(lake, "history").select(
            "id", "amount", "valid_from", "valid_to", "is_current"
        )
        assert _sorted(history, "id", "valid_from") == reference.rows(stamps), step
    # A full refresh gives the same tables where nothing was ignored (history restarts).
    for name in ("latest",):
        before = _table(lake, name)
        _run(loaded, lake, name, full_refresh=True)
        refreshed = _sorted(_table(lake, name), "id")
        full = log.frame().sort("seq").group_by("id").last().filter(pl.col("op") != "D")
        assert refreshed == _sorted(full.select("id", "day", "amount", "op"), "id")
        assert len(refreshed) >= before.height - 2


def test_the_run_records_what_it_changed_and_its_high_water_mark(
    mesh: tuple[Mesh, Lakehouse],
) -> None:
    loaded, lake = mesh
    log = Log()
    for ident in range(1, 5):
        log.add(ident, START - timedelta(days=10), 1.0)
    log.add(5, START, 5.0)  # the high-water mark: the window starts 2 days before
    _store(lake, log)
    _run(loaded, lake, "latest", run_id="first")
    log.add(1, START + timedelta(days=1), 2.0)  # an update
    log.add(9, START + timedelta(days=1), 9.0)  # an insert
    log.add(2, START + timedelta(days=1), 0.0, "D")  # a delete
    _store(lake, log)
    done = _run(loaded, lake, "latest", run_id="second")
    written = done.written
    assert (written.added, written.updated, written.deleted) == (1, 1, 1)
    assert done.table.num_rows == 4  # only the window's ids were computed (1, 2, 5, 9)
    assert done.table_rows == 5  # the table after the write: ids 1, 3, 4, 5, 9

    commit = DeltaTable(lake.uri(("shop", "latest"))).history(1)[0]
    assert commit[increments.RUN_ID_KEY] == "second"
    assert commit[increments.HIGH_WATER_MARK_KEY] == "2024-01-11"
    table = DeltaTable(lake.uri(("shop", "latest")))
    assert table.transaction_version(increments.app_id(("shop", "latest"))) == 2


class Killed(Exception):
    """Stands for the process dying at a point of the write."""


def _kill_before_merge(monkeypatch: pytest.MonkeyPatch) -> None:
    def dies(*args: Any, **kwargs: Any) -> Any:
        raise Killed

    monkeypatch.setattr(increments, "_merge", dies)


def _kill_after_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    real = increments._merged

    def commits_then_dies(base: Any, metrics: Any) -> Any:
        real(base, metrics)
        raise Killed

    monkeypatch.setattr(increments, "_merged", commits_then_dies)


def _files_without_commit(lake: Lakehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """Data files a killed writer left, referenced by no commit (old enough to be removed)."""
    from mesh_platform.lake import orphans

    folder = Path(lake.uri(("shop", "latest")))
    stray = pa.table({"id": [1], "day": [START], "amount": [666.0], "op": ["U"]})
    import pyarrow.parquet as pq

    pq.write_table(stray, folder / "part-00000-killed.snappy.parquet")
    monkeypatch.setattr(orphans, "GRACE_SECONDS", 0)
    _kill_before_merge(monkeypatch)


@pytest.mark.parametrize("point", ["before the commit", "files written", "after the commit"])
def test_a_run_killed_at_each_point_leaves_exactly_one_application(
    mesh: tuple[Mesh, Lakehouse], monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    loaded, lake = mesh
    log = Log()
    for ident in range(1, 5):
        log.add(ident, START, 1.0)
    _store(lake, log)
    _run(loaded, lake, "latest")
    log.add(1, START + timedelta(days=1), 2.0)
    log.add(7, START + timedelta(days=1), 7.0)
    _store(lake, log)
    with monkeypatch.context() as patched:
        {
            "before the commit": lambda: _kill_before_merge(patched),
            "files written": lambda: _files_without_commit(lake, patched),
            "after the commit": lambda: _kill_after_commit(patched),
        }[point]()
        with pytest.raises(Killed):
            _run(loaded, lake, "latest")
    _run(loaded, lake, "latest")  # the retry
    assert _sorted(_table(lake, "latest"), "id") == _expected("latest", log)
    assert 666.0 not in _table(lake, "latest")["amount"].to_list()


def test_two_concurrent_runs_commit_once(mesh: tuple[Mesh, Lakehouse]) -> None:
    loaded, lake = mesh
    log = Log()
    for ident in range(1, 5):
        log.add(ident, START, 1.0)
    _store(lake, log)
    _run(loaded, lake, "ledger")
    log.add(5, START + timedelta(days=1), 5.0)
    _store(lake, log)
    key = ("shop", "ledger")
    spec, plan = loaded.products[key].spec, loaded.plans[key]
    first, second = (plan_write(spec, plan, lake, run_id=r) for r in ("a", "b"))
    new = pa.Table.from_pylist([log.rows[-1]], SCHEMA)
    first.write(lake, new)
    with pytest.raises(ConcurrentRun, match="run it again"):
        second.write(lake, new)
    assert _sorted(_table(lake, "ledger"), "seq") == _expected("ledger", log)
    _run(loaded, lake, "ledger")  # the second run's retry
    assert _sorted(_table(lake, "ledger"), "seq") == _expected("ledger", log)


def test_a_merge_key_repeated_in_the_result_writes_nothing(
    mesh: tuple[Mesh, Lakehouse], tmp_path: Path
) -> None:
    loaded, lake = mesh
    log = Log()
    log.add(1, START, 1.0)
    _store(lake, log)
    _run(loaded, lake, "latest")
    version = DeltaTable(lake.uri(("shop", "latest"))).version()
    key = ("shop", "latest")
    writing = plan_write(loaded.products[key].spec, loaded.plans[key], lake)
    twice = pa.table({"id": [1, 1], "day": [START] * 2, "amount": [1.0, 2.0], "op": ["U", "U"]})
    with pytest.raises(Exception, match="appear more than once"):
        writing.write(lake, twice)
    assert DeltaTable(lake.uri(key)).version() == version


BAD = {
    "merge without keys": ("write: merge\n", "`write: merge` needs `keys:`"),
    "key not a column": ("write: merge\nkeys: [nope]\n", "key 'nope' is not a column"),
    "append without incremental": ("write: append\n", "`write: append` needs `incremental:`"),
    "incremental not a date": (
        "incremental: {column: amount}\n",
        "incremental column 'amount' is double, not a date",
    ),
    "incremental computed": ("incremental: {column: d2}\n", "incremental column 'd2' is computed"),
    "bad lookback": ("incremental: {column: day, lookback: soon}\n", "is not a duration"),
    "delete_when unknown column": (
        "write: merge\nkeys: [id]\ndelete_when: gone = 1\n",
        "`delete_when` names gone",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_validation_refuses_what_cannot_work_with_file_line_and_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    settings, message = BAD[case]
    product = (
        "name: broken\ndescription: Broken.\ninputs: {events: events}\n"
        + settings
        + "steps:\n  - sql: SELECT id, day, amount, date_add(day, 1) AS d2 FROM events\n"
    )
    write_mesh(tmp_path, {"shop": {"events": EVENTS, "broken": product}})
    monkeypatch.syspath_prepend(str(tmp_path))
    errors = [e for e in validate_errors(tmp_path) if isinstance(e, SpecError)]
    found = [e for e in errors if message in str(e)]
    assert found, "\n".join(str(e) for e in errors)
    error = found[0]
    assert error.file is not None and error.file.name == "broken.yaml"
    assert error.line is not None and error.line >= 4
    assert error.fix


def test_a_changed_contract_is_not_applied_incrementally(mesh: tuple[Mesh, Lakehouse]) -> None:
    loaded, lake = mesh
    log = Log()
    log.add(1, START, 1.0)
    _store(lake, log)
    _run(loaded, lake, "latest")
    key = ("shop", "latest")
    writing = plan_write(loaded.products[key].spec, loaded.plans[key], lake)
    wider = pa.table({"id": [2], "day": [START], "amount": [2.0], "op": ["U"], "twice": [4.0]})
    with pytest.raises(Exception, match=r"nothing was written.*--full-refresh"):
        writing.write(lake, wider)
    assert DeltaTable(lake.uri(key)).to_pyarrow_table().column_names == [
        "id",
        "day",
        "amount",
        "op",
    ]


@pytest.mark.spark
def test_every_mode_gives_the_same_table_on_spark(
    mesh: tuple[Mesh, Lakehouse], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same change batches, run on the local engine and on Spark (its own lake): the same
    tables after every run (the writes are the lakehouse's, the reads each engine's)."""
    from mesh_platform.engine.spark import SparkEngine, spark_session
    from mesh_platform.security.keys import Keyring

    spark_session("local[2]", {"spark.sql.shuffle.partitions": "4"})
    spark = SparkEngine(keys=Keyring.dev())
    loaded, local = mesh
    other = Lakehouse(root=str(tmp_path / "spark-lake"), landing_root=str(tmp_path / "landing"))
    rng = random.Random(7)
    log = Log()
    for ident in range(1, 9):
        log.add(ident, START + timedelta(days=ident % 3), float(ident))
    order = {
        "daily": ("day",),
        "latest": ("id",),
        "ledger": ("seq",),
        "history": ("id", "valid_from"),
    }
    for step in range(3):
        if step:
            _batch(log, rng, step)
        stamp = datetime(2024, 2, 1) + timedelta(hours=step)
        monkeypatch.setattr(incremental, "_now", lambda s=stamp: s)
        for lake, engine in ((local, None), (other, spark)):
            _store(lake, log)
            for name in PRODUCTS:
                _run(loaded, lake, name, engine=engine)
        for name in PRODUCTS:
            assert _sorted(_table(other, name), *order[name]) == _sorted(
                _table(local, name), *order[name]
            ), (name, step)


def test_a_partitioned_landing_folder_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = (
        "name: feed\ndescription: A feed.\nsource: {landing: feed, folder: true}\n"
        "partitioning: {column: day, start: 2024-01-01}\n"
        "columns:\n  - {name: day, type: date}\n"
    )
    write_mesh(tmp_path, {"shop": {"feed": product}})
    monkeypatch.syspath_prepend(str(tmp_path))
    errors = [str(e) for e in validate_errors(tmp_path)]
    assert any(
        "feed.yaml:4: a partitioned product replaces whole partitions" in e for e in errors
    ), errors
