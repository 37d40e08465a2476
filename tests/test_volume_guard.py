"""The volume guard: a run's row count against the previous version's, as the `volume` check.

Real Dagster runs over real Delta tables in a temporary folder: one instance per test, so
each run sees the materializations of the runs before it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.loader import planner_for
from mesh_platform.quality.checks import check_specs
from mesh_platform.spec.model import ProductSpec
from tests.mini_mesh import domain_assets, local_lakehouse, validate_errors, write_mesh

EVENTS = """\
name: events
description: Landing copy of events.
visibility: VISIBILITY
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: kind, type: string}
"""

TOTALS = """\
name: totals
description: Events per kind.
inputs: {events: events}
steps:
  - sql: SELECT kind, count(*) AS n FROM events GROUP BY kind
"""

EVENTS_KEY = dg.AssetKey(["shop", "events"])
TOTALS_KEY = dg.AssetKey(["shop", "totals"])


class Shop:
    """A mesh of one domain: `shop.events` (ingestion) and `shop.totals` downstream of it."""

    def __init__(self, root: Path, visibility: str = "internal", volume: str = "") -> None:
        self.root = root
        self.instance = dg.DagsterInstance.ephemeral()
        self.lakehouse = local_lakehouse(root)
        self.spec(visibility, volume)

    def spec(self, visibility: str = "internal", volume: str = "") -> None:
        """(Re)write the events spec; `volume` is the text of its `volume:` line, if any."""
        events = EVENTS.replace("VISIBILITY", visibility) + (
            f"volume: {volume}\n" if volume else ""
        )
        write_mesh(self.root, {"shop": {"events": events, "totals": TOTALS}})
        planner_for.cache_clear()  # a code location plans once; a changed spec is a reload

    def run(self, rows: int, **kwargs: Any) -> dg.ExecuteInProcessResult:
        """Land an export of `rows` rows and materialize both products."""
        pl.DataFrame(
            {"id": list(range(rows)), "kind": ["a" if i % 2 else "b" for i in range(rows)]},
            schema={"id": pl.Int64, "kind": pl.String},
        ).write_parquet(self.root / "landing/events.parquet")
        return dg.materialize(
            domain_assets(self.root, "shop"),
            resources={
                "lakehouse": self.lakehouse,
                "catalog": CatalogResource(url=f"sqlite:///{self.root / 'catalog.db'}"),
            },
            instance=self.instance,
            raise_on_error=False,
            **kwargs,
        )

    def table(self) -> pl.DataFrame:
        """The current version of shop.events' Delta table."""
        return pl.read_delta(str(self.root / "lake/shop/events")).sort("id")


def _volume(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    """shop.events' `contract` check in the run, whose `volume` part is the only one that
    can fail here (the columns are as declared, the schema does not change)."""
    evaluation = next(
        e
        for e in result.get_asset_check_evaluations()
        if e.check_name == "contract" and e.asset_key == EVENTS_KEY
    )
    verdicts = str(evaluation.metadata["mesh/verdicts"].value)
    failed = str(evaluation.metadata["mesh/failed_parts"].value)
    assert failed in ("", "volume") and "| volume |" in verdicts
    assert ("| volume | passed |" in verdicts) == evaluation.passed
    return evaluation


def _meta(evaluation: dg.AssetCheckEvaluation) -> dict[str, Any]:
    return {k: v.value for k, v in evaluation.metadata.items()}


def _materialized(result: dg.ExecuteInProcessResult) -> set[dg.AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


def test_a_halved_export_of_an_internal_product_warns_and_is_written(tmp_path: Path) -> None:
    shop = Shop(tmp_path)
    first = shop.run(150)
    assert first.success
    volume = _volume(first)
    assert volume.passed and _meta(volume)["mesh/first_run"] is True
    assert "no previous version" in (volume.description or "")

    result = shop.run(75)
    assert result.success  # a warn: the write proceeds and downstream runs
    volume = _volume(result)
    assert not volume.passed and volume.severity == dg.AssetCheckSeverity.WARN
    meta = _meta(volume)
    assert meta["mesh/previous_rows"] == 150 and meta["mesh/rows"] == 75
    assert meta["mesh/change_percent"] == -50.0 and meta["mesh/failing_count"] == 75
    assert meta["mesh/sample"] == '["150 -> 75 rows"]'
    assert (volume.description or "").startswith(
        "shop.events: 75 rows, 50% fewer than the previous version (150); the guard warns and "
        "does not stop the write"
    )
    assert shop.table().height == 75
    assert _materialized(result) == {EVENTS_KEY, TOTALS_KEY}


def test_a_halved_export_of_a_published_product_blocks_and_writes_nothing(tmp_path: Path) -> None:
    shop = Shop(tmp_path, visibility="published")
    assert shop.run(150).success
    before = shop.table()

    result = shop.run(75)
    assert not result.success
    volume = _volume(result)
    assert not volume.passed and volume.severity == dg.AssetCheckSeverity.ERROR
    meta = _meta(volume)
    assert (meta["mesh/previous_rows"], meta["mesh/rows"]) == (150, 75)
    assert "re-run with the run tag mesh/volume=accept" in (volume.description or "")
    assert "the previous version is intact" in (volume.description or "")
    # Nothing was written: the table is the previous version, and downstream did not run.
    assert shop.table().equals(before) and before.height == 150
    assert _materialized(result) == set()
    failure = next(e for e in result.all_events if e.is_step_failure)
    data = failure.step_failure_data.user_failure_data
    assert data is not None
    assert data.metadata["mesh/failed_step"].value == "quality:volume"
    assert data.metadata["mesh/failure_class"].value == "business_logic"
    assert "mesh/volume=accept" in str(data.metadata["mesh/guidance"].value)

    # An intended shrink: accepted for one run by a run tag, no spec change.
    accepted = shop.run(75, tags={"mesh/volume": "accept"})
    assert accepted.success
    volume = _volume(accepted)
    assert volume.passed and _meta(volume)["mesh/accepted"] is True
    assert shop.table().height == 75 and _materialized(accepted) == {EVENTS_KEY, TOTALS_KEY}


def test_growth_beyond_max_growth_warns_even_for_a_published_product(tmp_path: Path) -> None:
    shop = Shop(tmp_path, visibility="published")
    assert shop.run(40).success
    result = shop.run(160)  # 300% more: at the default max_growth
    assert result.success
    volume = _volume(result)
    assert not volume.passed and volume.severity == dg.AssetCheckSeverity.WARN
    meta = _meta(volume)
    assert (meta["mesh/previous_rows"], meta["mesh/rows"], meta["mesh/change_percent"]) == (
        40,
        160,
        300.0,
    )
    assert "300% more than the previous version (40)" in (volume.description or "")
    assert shop.table().height == 160
    # Within the guard: 159 rows against 160 passes.
    assert _volume(shop.run(159)).passed


def test_volume_off_disables_the_check(tmp_path: Path) -> None:
    shop = Shop(tmp_path, visibility="published", volume="off")
    assert shop.run(150).success
    result = shop.run(10)
    assert result.success and shop.table().height == 10
    verdicts = {
        e.asset_key: str(e.metadata["mesh/verdicts"].value)
        for e in result.get_asset_check_evaluations()
        if e.check_name == "contract"
    }
    assert "| volume |" not in verdicts[EVENTS_KEY] and "| volume |" in verdicts[TOTALS_KEY]


def test_configured_shares_and_severity(tmp_path: Path) -> None:
    shop = Shop(tmp_path, volume="{max_drop: 0.2, max_growth: 0.5, severity: error}")
    assert shop.run(100).success
    within = shop.run(81)  # 19% fewer
    assert within.success and _volume(within).passed
    dropped = shop.run(64)  # 21% fewer than 81: blocking, as configured, for an internal product
    assert not dropped.success and _volume(dropped).severity == dg.AssetCheckSeverity.ERROR
    assert shop.table().height == 81 and _materialized(dropped) == set()
    grown = shop.run(122)  # 50.6% more than 81
    assert not grown.success and not _volume(grown).passed
    assert _meta(_volume(grown))["mesh/change_percent"] == 50.6

    shop.spec(volume="{max_drop: 0.9}")  # the severity by default again: warn when internal
    relaxed = shop.run(64)
    assert relaxed.success and _volume(relaxed).passed and shop.table().height == 64


def test_check_specs_follow_the_guard() -> None:
    def spec(**fields: Any) -> ProductSpec:
        base = {"domain": "shop", "name": "t", "description": "t", "source": {"landing": "t"}}
        return ProductSpec.model_validate({**base, **fields})

    def volume(product: ProductSpec) -> str | None:
        """The volume part's severity on the product's `contract` check (None: no part)."""
        (contract,) = (s for s in check_specs(product) if s.name == "contract")
        assert contract.blocking  # the check blocks; a `warn` part's failure does not
        if "volume" not in contract.metadata["mesh/parts"]:
            return None
        return str(contract.metadata["mesh/volume_severity"])

    assert volume(spec()) == "warn"
    assert volume(spec(visibility="published")) == "drop: error, growth: warn"
    assert volume(spec(volume="off")) is None and volume(spec(volume=False)) is None
    assert volume(spec(volume={"severity": "error"})) == "error"
    partitioned = spec(partitioning={"column": "day", "start": "2024-01-01"})
    assert volume(partitioned) is None  # a partition's rows are not comparable with the last run
    assert [s.name for s in check_specs(spec())] == ["contract"]  # one check, not three


def test_a_bad_volume_is_a_spec_error_with_its_field_and_line(tmp_path: Path) -> None:
    events = EVENTS.replace("VISIBILITY", "internal")
    cases = {
        "drop": (events + "volume: {max_drop: 1.5}\n", "volume.max_drop", "between 0 and 1"),
        "growth": (events + "volume:\n  max_growth: 0\n", "volume.max_growth", "above 0"),
        "word": (events + "volume: sometimes\n", "field `volume`", "volume: off"),
        "severity": (events + "volume: {severity: fatal}\n", "volume.severity", "'warn'"),
        "typo": (events + "volume: {max_dorp: 0.3}\n", "volume.max_dorp", "unknown field"),
    }
    lines = {"drop": 8, "growth": 9, "word": 8, "severity": 8, "typo": 8}
    for case, (text, field, words) in cases.items():
        root = write_mesh(tmp_path / case, {"shop": {"events": text}})
        errors = validate_errors(root)
        assert len(errors) == 1, (case, errors)
        error = errors[0]
        assert field in error.problem and words in error.problem, (case, error.problem)
        assert error.line == lines[case], (case, error)
        assert str(error.file).endswith("events.yaml")


def test_a_volume_on_a_partitioned_product_is_a_spec_error(tmp_path: Path) -> None:
    text = """\
    name: daily
    description: Daily events.
    source: {landing: daily}
    columns:
      - {name: day, type: date}
    partitioning: {column: day, granularity: daily, start: 2024-01-01}
    volume: {max_drop: 0.3}
    """
    root = write_mesh(tmp_path, {"shop": {"daily": text}})
    errors = validate_errors(root)
    assert len(errors) == 1 and "partitioned" in errors[0].problem
    assert errors[0].line == 7 and errors[0].fix and "volume: off" in errors[0].fix


def test_the_previous_count_is_the_tables_not_the_instances(tmp_path: Path) -> None:
    """The count read back is the Delta table's current version (from its log), so a new
    Dagster instance over the same lake still compares with what readers see."""
    shop = Shop(tmp_path)
    assert shop.run(150).success
    assert shop.lakehouse.committed_rows(("shop", "events")) == (True, 150)
    assert shop.lakehouse.committed_rows(("shop", "nothing")) == (False, None)
    shop.instance = dg.DagsterInstance.ephemeral()  # no materialization recorded in it
    volume = _volume(shop.run(75))
    assert not volume.passed and _meta(volume)["mesh/previous_rows"] == 150
