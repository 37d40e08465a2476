"""The arms, each run as a child process: `python -m bench.peers.arms ARM '{json options}'`.

Each prints its own phases as JSON after a mark (the parent times the whole process). The mesh
and the floor run on the project's environment; dagster-dbt on the peers' (dbt-core,
dbt-duckdb, dagster-dbt); the dbt arm is the `dbt build` command itself, with no child here.
"""

from __future__ import annotations

import cProfile
import json
import pstats
import sys
import time
from pathlib import Path
from typing import Any

MARK = "@@peers@@"
STARTED = time.perf_counter()
_CRITICAL = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _since(mark: float) -> float:
    return round(time.perf_counter() - mark, 3)


def setup(options: dict[str, Any]) -> dict[str, Any]:
    """The silver tables: the platform domain (bronze, silver) materialized once."""
    import dagster as dg

    from mesh_platform.cli.app import prepare_environment
    from mesh_platform.dagster.orchestration import materialize_selection, select
    from mesh_platform.loader.mesh import Mesh

    prepare_environment()
    mesh = Mesh.load_healthy(Path(options["root"]))
    assert not mesh.warnings(), mesh.warnings()
    started = time.perf_counter()
    summaries = materialize_selection(
        mesh, select(mesh, "platform"), dg.DagsterInstance.get(), log_level="CRITICAL"
    )
    assert all(s.success for s in summaries), summaries
    return {"silver_seconds": _since(started)}


def mesh(options: dict[str, Any]) -> dict[str, Any]:
    """The `tpch` domain's 22 products in one Dagster run, as `mesh materialize tpch` runs them:
    the mesh loaded (every domain planned), the instance of DAGSTER_HOME, materialize_selection."""
    import dagster as dg

    from bench.peers.workspace import DOMAIN
    from mesh_platform.cli.app import prepare_environment
    from mesh_platform.dagster.orchestration import materialize_selection, select
    from mesh_platform.loader.mesh import Mesh

    phases = {"start and imports": _since(STARTED)}
    mark = time.perf_counter()
    prepare_environment()
    mesh = Mesh.load_healthy(Path(options["root"]))
    keys = select(mesh, DOMAIN)
    instance = dg.DagsterInstance.get()
    phases["mesh load and instance"] = _since(mark)
    profile = cProfile.Profile() if options.get("profile") else None
    mark = time.perf_counter()
    if profile is not None:
        profile.enable()
    summaries = materialize_selection(
        mesh, keys, instance, raise_on_failure=False, log_level="CRITICAL"
    )
    if profile is not None:
        profile.disable()
    phases["run"] = _since(mark)
    written = sum(len(s.materialized) for s in summaries)
    if written != len(keys) or not all(s.success for s in summaries):
        raise SystemExit(f"the mesh wrote {written} of {len(keys)}: {summaries}")
    result: dict[str, Any] = {"phases": phases, "runs": len(summaries)}
    if profile is not None:
        profile.dump_stats(options["profile"])
        result["profile"] = profiled(profile)
    return result


def floor(options: dict[str, Any]) -> dict[str, Any]:
    """DuckDB over the silver tables' Arrow datasets (delta-rs), each result written with
    write_deltalake: no orchestrator, no catalog, no checks."""
    import duckdb
    from deltalake import DeltaTable, write_deltalake

    from bench.peers.workspace import TABLES, queries

    phases = {"start and imports": _since(STARTED)}
    mark = time.perf_counter()
    lake, out = Path(options["lake"]), Path(options["out"])
    con = duckdb.connect()
    for table in TABLES:
        dataset = DeltaTable(str(lake / "platform" / f"silver_{table}")).to_pyarrow_dataset()
        con.register(table, dataset)
    for name, sql in queries().items():
        result = con.sql(sql).to_arrow_table()
        write_deltalake(str(out / name), result, mode="overwrite", schema_mode="overwrite")
    con.close()
    phases["run"] = _since(mark)
    return {"phases": phases}


def dagster_dbt(options: dict[str, Any]) -> dict[str, Any]:
    """The dbt project as Dagster assets (`@dbt_assets` over the manifest `dbt parse` wrote at
    setup) materialized in one run on the instance of DAGSTER_HOME; dagster-dbt starts
    `dbt build` and turns its events into materializations."""
    import dagster as dg
    from dagster_dbt import DbtCliResource, dbt_assets

    phases = {"start and imports": _since(STARTED)}
    mark = time.perf_counter()
    project = Path(options["project"])

    def tpch(context, dbt):  # type: ignore[no-untyped-def]
        yield from dbt.cli(["build"], context=context).stream()

    # real classes, not this module's postponed (string) annotations: Dagster resolves them
    tpch.__annotations__ = {"context": dg.AssetExecutionContext, "dbt": DbtCliResource}
    assets = dbt_assets(manifest=project / "target" / "manifest.json")(tpch)

    resource = DbtCliResource(
        project_dir=str(project),
        profiles_dir=str(project),
        dbt_executable=str(Path(sys.executable).with_name("dbt")),
    )
    instance = dg.DagsterInstance.get()
    phases["definitions and instance"] = _since(mark)
    mark = time.perf_counter()
    result = dg.materialize(
        [assets], resources={"dbt": resource}, instance=instance, run_config=_CRITICAL
    )
    phases["run"] = _since(mark)
    written = len(result.get_asset_materialization_events())
    if not result.success or written != 22:
        raise SystemExit(f"dagster-dbt wrote {written} of 22 (success: {result.success})")
    return {"phases": phases}


# Where the mesh's run goes: cumulative seconds of these (file suffix, function), inflated by
# the profiler; self time grouped by package below.
_PHASES = {
    "the run (materialize_selection)": (
        "mesh_platform/dagster/orchestration.py", "materialize_selection",
    ),
    "  asset bodies (run_asset)": ("mesh_platform/dagster/asset_run.py", "run_asset"),
    "    access check (require_access)": ("mesh_platform/access/enforcement.py", "require_access"),
    "    materialize_product": ("mesh_platform/run/materialize.py", "materialize_product"),
    "      inputs opened (_input)": ("mesh_platform/run/materialize.py", "_input"),
    "      engine and conform (_computed)": ("mesh_platform/run/materialize.py", "_computed"),
    "      quality gate (check)": ("mesh_platform/quality/gate.py", "check"),
    "      write (Lakehouse.write)": ("mesh_platform/lake/lakehouse.py", "write"),
    "    metadata": ("mesh_platform/dagster/metadata.py", "materialization_metadata"),
    "    record_run_cost": ("mesh_platform/dagster/costs.py", "record_run_cost"),
}


def _package(file: str, name: str) -> str:
    if file == "~":  # a builtin: its owner is in its name
        for owner in ("duckdb", "pyarrow", "deltalake", "sqlite3", "polars"):
            if owner in name:
                return owner
        return "builtins"
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in file:
            return file.split(marker, 1)[1].split("/", 1)[0].removesuffix(".py")
    return "other"


def profiled(profile: cProfile.Profile) -> dict[str, Any]:
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    phases = {
        label: round(sum(
            row[3] for (file, _, name), row in stats.items()
            if name == function and file.endswith(suffix)
        ), 2)
        for label, (suffix, function) in _PHASES.items()
    }
    packages: dict[str, float] = {}
    for (file, _, name), row in stats.items():
        package = _package(file, name)
        packages[package] = packages.get(package, 0.0) + row[2]
    top = sorted(packages.items(), key=lambda item: -item[1])[:10]
    return {"phases": phases, "self_by_package": [(p, round(s, 2)) for p, s in top]}


def main(argv: list[str]) -> None:
    arm, options = argv[0], json.loads(argv[1])
    arms = {"setup": setup, "mesh": mesh, "floor": floor, "dagster_dbt": dagster_dbt}
    print(MARK + json.dumps(arms[arm](options)), flush=True)
    if arm == "mesh":  # the process ends as the `mesh` command's does
        from mesh_platform.cli.ending import end

        end(0)


if __name__ == "__main__":
    main(sys.argv[1:])
