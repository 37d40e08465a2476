"""Local SQL engine choice: DuckDB vs polars SQL on the mesh's own TPC-H product queries.

Each product's Spark SQL is transpiled by sqlglot (to DuckDB, and to PostgreSQL for polars'
SQL context) and run over the same TPC-H parquet files. Reported per query: whether each
engine ran it, whether the results agree, and the time of each, side by side.
"""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import polars as pl

from mesh_platform.engine.duckdb.functions import DIALECT
from mesh_platform.loader.mesh import Mesh

_SILVER_TO_LANDING = {
    f"platform.silver_{t}": t
    for t in ("customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier")
}


def _queries(mesh: Mesh) -> list[tuple[str, dict[str, str], object]]:
    found = []
    for key in mesh.order:
        spec = mesh.products[key].spec
        plan = mesh.plans[key]
        refs = {port: ".".join(ref) for port, ref in spec.input_refs().items()}
        if key[0] == "platform" or len(plan.steps) != 1 or plan.steps[0].kind != "sql":
            continue
        if not all(r in _SILVER_TO_LANDING for r in refs.values()):
            continue
        found.append(
            (
                spec.qualified_name,
                {p: _SILVER_TO_LANDING[r] for p, r in refs.items()},
                plan.steps[0].query,
            )
        )
    return found


def _normalize(frame: pl.DataFrame) -> list[tuple]:
    cast = frame.with_columns(pl.col(pl.Decimal).cast(pl.Float64))
    rows = [
        tuple(round(v, 4) if isinstance(v, float) else v for v in row) for row in cast.iter_rows()
    ]
    return sorted(rows, key=repr)


def _files(landing: Path, table: str) -> str:
    """A landing table's files: one file, or a folder's (orders and lineitem: `mesh generate`)."""
    folder = landing / table
    return f"{folder}/*.parquet" if folder.is_dir() else f"{folder}.parquet"


def run(landing: Path, repeat: int = 3) -> list[dict[str, object]]:
    """Time each query on both engines; return one row per query."""
    mesh = Mesh.load()
    results = []
    for name, ports, query in _queries(mesh):
        con = duckdb.connect()
        for port, table in ports.items():
            con.execute(
                f"CREATE VIEW {port} AS SELECT * FROM read_parquet('{_files(landing, table)}')"
            )
        duck_sql = query.sql(dialect=DIALECT)  # type: ignore[union-attr]
        polars_sql = query.sql(dialect="postgres")  # type: ignore[union-attr]
        frames = {p: pl.scan_parquet(_files(landing, t)) for p, t in ports.items()}
        row: dict[str, object] = {"query": name}
        outputs: dict[str, pl.DataFrame] = {}
        runners = {
            "duckdb": lambda sql=duck_sql, c=con: c.sql(sql).pl(),
            "polars": lambda sql=polars_sql, f=frames: (
                pl.SQLContext(frames=f).execute(sql).collect()
            ),
        }
        for engine, execute in runners.items():
            try:
                best = float("inf")
                for _ in range(repeat):
                    started = time.perf_counter()
                    outputs[engine] = execute()
                    best = min(best, time.perf_counter() - started)
                row[f"{engine}_s"] = round(best, 4)
            except Exception as exc:  # an engine refusing a query is a result, not a crash
                row[f"{engine}_s"] = None
                first_line = str(exc).strip().splitlines()[0]
                row[f"{engine}_error"] = f"{type(exc).__name__}: {first_line[:90]}"
        if len(outputs) == 2:
            row["agree"] = _normalize(outputs["duckdb"]) == _normalize(outputs["polars"])
        results.append(row)
        con.close()
    return results


def report(results: list[dict[str, object]]) -> str:
    """The results as a table, with the ratio polars/duckdb where both ran."""
    lines = [f"{'query':<36} {'duckdb s':>9} {'polars s':>9} {'ratio':>6}  agree / error"]
    for r in results:
        d, p = r.get("duckdb_s"), r.get("polars_s")
        ratio = f"{p / d:6.2f}" if isinstance(d, float) and isinstance(p, float) and d else "   n/a"
        note = r.get("polars_error") or r.get("duckdb_error") or r.get("agree")
        lines.append(f"{r['query']:<36} {d!s:>9} {p!s:>9} {ratio}  {note}")
    ran = {e: sum(1 for r in results if r.get(f"{e}_s") is not None) for e in ("duckdb", "polars")}
    total = len(results)
    lines.append(f"ran: duckdb {ran['duckdb']}/{total}, polars {ran['polars']}/{total}")
    return "\n".join(lines)
