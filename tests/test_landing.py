"""Landing data problems: one clean error naming the file, what is wrong and the fix; nothing is
written; an empty export warns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from mesh_platform.errors import PlatformError
from mesh_platform.lake.lakehouse import LandingError
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.run.materialize import Materialized, materialize_product
from tests.mini_mesh import local_lakehouse, write_mesh

EVENTS = """\
name: events
description: Landing copy.
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
"""

GOOD = pl.DataFrame({"id": [1, 2], "amount": [1.5, 2.5]})


def _setup(tmp_path: Path) -> tuple[Callable[[], Materialized], Path]:
    """A mesh with one ingestion product, materialized once from a good export."""
    root = write_mesh(tmp_path, {"shop": {"events": EVENTS}})
    mesh = load_mesh(root)
    lakehouse = local_lakehouse(root)
    landing = root / "landing" / "events.parquet"
    GOOD.write_parquet(landing)
    spec, plan = mesh.products[("shop", "events")].spec, mesh.plans[("shop", "events")]
    materialize_product(spec, plan, lakehouse)
    return (lambda: materialize_product(spec, plan, lakehouse)), root / "lake" / "shop" / "events"


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.unlink(), "is missing"),
        (lambda p: p.write_text("id,amount\n1,2\n"), "is not readable parquet"),
        (lambda p: p.write_bytes(p.read_bytes()[:-200]), "is not readable parquet"),
        (lambda p: GOOD.with_columns(note=pl.lit("x")).write_parquet(p), "added note"),
        (lambda p: GOOD.drop("amount").write_parquet(p), "missing amount"),
        (
            lambda p: GOOD.with_columns(pl.col("amount").cast(pl.String)).write_parquet(p),
            "amount is string, declared double",
        ),
    ],
)
def test_a_landing_problem_is_one_clean_platform_error(
    tmp_path: Path, write: Callable[[Path], object], message: str
) -> None:
    run, table = _setup(tmp_path)
    write(tmp_path / "landing" / "events.parquet")
    with pytest.raises(LandingError) as caught:
        run()
    text = str(caught.value)
    assert isinstance(caught.value, PlatformError)
    assert message in text and "events.parquet" in text and "Fix:" in text
    assert pl.read_delta(str(table)).sort("id").equals(GOOD), "the previous version is intact"


def test_an_empty_export_is_written_with_a_warning(tmp_path: Path) -> None:
    run, table = _setup(tmp_path)
    GOOD.clear().write_parquet(tmp_path / "landing" / "events.parquet")
    done = run()
    assert done.written.rows == 0 and pl.read_delta(str(table)).height == 0
    assert done.warnings == (
        "landing file events.parquet (for shop.events) is empty: 0 rows written",
    )
