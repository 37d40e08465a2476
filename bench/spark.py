"""The Spark engine's overhead and its speed against the local engine, on the SQL gold products.

At TPC-H scale 1 (generated with `mesh_platform.dev.sample_data`), the whole demo mesh is first
materialized on the local engine, so every product's inputs are Delta tables in one lake.
Then, for each gold product made only of SQL steps, side by side, in one Spark session:

- direct: the product's SQL as written, run by PySpark itself over the same Delta tables'
  Parquet files (`spark.read.parquet`), collected to Arrow: the floor;
- spark engine: the platform's Spark engine (`SparkEngine.run`, inputs as lake URIs) plus the
  contract (`conform`) and the atomic Delta write: the product materialized on Spark;
- materialize_product(): `run/materialize.py` with the Spark engine, as the asset calls it
  (its inputs as handed today, Arrow datasets unless it passes lake URIs to engines that read them);
- local: `run/materialize.py` on the local engine (DuckDB), for the same product.

Each figure is the best of `repeat` runs after one warm-up run (the JVM compiles as it goes).
Ratios: spark engine / direct (target <= 1.2) and spark engine / local.

    .venv/bin/python -m bench.spark [--scale 1] [--repeat 3] [--data DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mesh_platform.compile.plan import step_name
from mesh_platform.dev.sample_data import generate
from mesh_platform.engine import get_engine
from mesh_platform.engine.spark import SparkEngine, spark_session
from mesh_platform.engine.spark.functions import to_spark_sql
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import Mesh
from mesh_platform.run.conform import conform
from mesh_platform.run.materialize import materialize_product
from mesh_platform.security.keys import Keyring

# Room for scale 1's joins in local mode (the JVM's default heap is 1 GB).
BENCH_SPARK = {"spark.driver.memory": "8g"}


def _best(repeat: int, action: Callable[[], Any]) -> float:
    """The best time of `repeat` runs after a warm-up; NaN (reported) when the action fails,
    so one failing arm (e.g. out of memory) does not lose the other figures."""
    try:
        return _timed(repeat, action)
    except Exception as exc:
        print(f"   failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        return float("nan")


def _timed(repeat: int, action: Callable[[], Any]) -> float:
    action()  # warm-up
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return min(times)


def _sql_gold(mesh: Mesh) -> list[tuple[str, ...]]:
    return [
        key
        for key in mesh.order
        if key[0] != "platform"
        and mesh.products[key].spec.source is None
        and all(step.kind == "sql" for step in mesh.plans[key].steps)
    ]


def _step_sql(spec: Any, step: Any) -> str:
    """The step's SQL as the product's author wrote it; a step the platform adds to the plan
    (masking on read) as planned, with the catalogue's functions as Spark SQL."""
    written = {step_name(i, s.name): s.sql for i, s in enumerate(spec.steps)}
    return written.get(step.name) or to_spark_sql(step.query)


def _materialize_all(mesh: Mesh, lakehouse: Lakehouse) -> None:
    local = get_engine("local", keys=Keyring.dev())
    for key in mesh.order:
        materialize_product(mesh.products[key].spec, mesh.plans[key], lakehouse, engine=local)


def run(landing: Path, repeat: int = 3) -> list[dict[str, Any]]:
    """Time each SQL gold product four ways; return one row per product."""
    from deltalake import DeltaTable

    session = spark_session(extra=BENCH_SPARK)
    spark = SparkEngine(keys=Keyring.dev(), pyspark=session)
    local = get_engine("local", keys=Keyring.dev())
    mesh = Mesh.load()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mesh-bench-spark-") as tmp:
        lakehouse = Lakehouse(root=str(Path(tmp) / "lake"), landing_root=str(landing))
        started = time.perf_counter()
        _materialize_all(mesh, lakehouse)
        print(f"   (mesh materialized locally in {time.perf_counter() - started:.1f}s)")
        for key in _sql_gold(mesh):
            source, plan = mesh.products[key], mesh.plans[key]
            spec = source.spec
            uris = {port: lakehouse.uri(ref) for port, ref in spec.input_refs().items()}

            def direct(spec: Any = spec, plan: Any = plan, uris: Any = uris) -> None:
                own = session.newSession()
                for port, uri in uris.items():
                    own.read.parquet(*DeltaTable(uri).file_uris()).createOrReplaceTempView(port)
                for step in plan.steps:
                    own.sql(_step_sql(spec, step)).createOrReplaceTempView(step.name)
                own.table(plan.steps[-1].name).toArrow()

            def engine(spec: Any = spec, plan: Any = plan, uris: Any = uris) -> None:
                table = conform(spark.run(plan, uris).table, plan, spec.qualified_name)
                lakehouse.write(spec.key, table)

            def through_materialize(spec: Any = spec, plan: Any = plan) -> None:
                materialize_product(spec, plan, lakehouse, engine=spark)

            def on_local(spec: Any = spec, plan: Any = plan) -> None:
                materialize_product(spec, plan, lakehouse, engine=local)

            times = {
                name: _best(repeat, action)
                for name, action in (
                    ("direct", direct),
                    ("engine", engine),
                    ("materialize", through_materialize),
                    ("local", on_local),
                )
            }
            rows.append({"product": spec.qualified_name, **times})
            print(
                f"   {spec.qualified_name}: " + ", ".join(f"{k} {v:.2f}s" for k, v in times.items())
            )
    return rows


def report(rows: list[dict[str, Any]]) -> str:
    """The figures as a table, with the ratios and their totals."""
    head = (
        f"{'product':34} {'direct':>8} {'engine':>8} {'materialize_product()':>13} {'local':>8} "
        f"{'engine/direct':>13} {'engine/local':>12}"
    )
    lines = [head, "-" * len(head)]
    for row in [*rows, _total(rows)]:
        lines.append(
            f"{row['product']:34} {row['direct']:8.2f} {row['engine']:8.2f} "
            f"{row['materialize']:13.2f} {row['local']:8.2f} "
            f"{row['engine'] / row['direct']:13.2f} {row['engine'] / row['local']:12.2f}"
        )
    return "\n".join(lines)


def _total(rows: list[dict[str, Any]]) -> dict[str, Any]:
    names = ("direct", "engine", "materialize", "local")
    return {"product": "all products", **{n: sum(r[n] for r in rows) for n in names}}


def main() -> None:
    """Generate the data (if needed), run, print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench.spark", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (best)")
    parser.add_argument("--data", type=Path, help="reuse TPC-H parquet in this folder")
    args = parser.parse_args()
    landing = args.data or Path(tempfile.gettempdir()) / f"mesh-bench-tpch-{args.scale}"
    generate(landing, args.scale)
    print(f"== spark: TPC-H scale {args.scale} ({landing}), best of {args.repeat}")
    print(report(run(landing, args.repeat)))


if __name__ == "__main__":
    main()
