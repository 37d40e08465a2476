"""The production profile, for real: instance and catalog on the local PostgreSQL, steps on
Celery workers (RabbitMQ broker), a slice of the mesh with one product per domain and
cross-domain inputs, results checked against polars over the landing files.

Needs PostgreSQL at 127.0.0.1:5432 and RabbitMQ at 5672 (`.ci/run` starts them). Each run of
the test creates its own databases (`mesh_test_<x>` and `mesh_test_<x>_catalog`) and its own
Celery queue, and drops and stops them after.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

pytestmark = pytest.mark.prod  # the machine's PostgreSQL and RabbitMQ; not in make test-fast

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVER = "postgresql+psycopg2://postgres@127.0.0.1:5432"
SCALE = 0.01
WORKERS = 2
READY_SECONDS = 180
RUN_SECONDS = 900
# One product per domain, with what it needs: sales reads platform (cross-domain), finance
# reads platform, marketing reads sales.
SLICE = {
    "platform": [
        f"{layer}_{table}"
        for layer in ("bronze", "silver")
        for table in ("customer", "nation", "orders", "lineitem")
    ],
    "sales": ["customer_revenue"],
    "finance": ["order_priority_checking"],
    "marketing": ["top_customers_by_nation"],
}
_CLEARED = (
    "DAGSTER_HOME",
    "MESH_ENV",
    "MESH_CATALOG_URL",
    "MESH_LAKE_ROOT",
    "MESH_LANDING_ROOT",
    "MESH_CELERY_BROKER",
    "MESH_CELERY_BACKEND",
)


@dataclass(frozen=True)
class Deployment:
    """A prod-profile deployment in a temporary home, on fresh databases."""

    home: Path
    env: dict[str, str]
    instance_url: str
    catalog_url: str
    queue: str


def _admin() -> sa.Engine:
    return sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    """Fresh databases and a home; the environment `mesh` gives its children for MESH_PROFILE=prod
    with only the instance database named (the catalog's is derived from it)."""
    for port, service in ((5432, "PostgreSQL"), (5672, "RabbitMQ")):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        except OSError:
            pytest.fail(f"{service} does not answer on 127.0.0.1:{port}: start it (.ci/run does)")
    name = f"mesh_test_{uuid.uuid4().hex[:10]}"
    admin = _admin()
    with admin.connect() as connection:
        for database in (name, f"{name}_catalog"):
            connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
    home = tmp_path_factory.mktemp("prod_home")
    base = {k: v for k, v in os.environ.items() if k not in _CLEARED}
    base |= {
        "MESH_HOME": str(home),
        "MESH_PROFILE": "prod",
        "MESH_POSTGRES_URL": f"{SERVER}/{name}",
        "MESH_CELERY_QUEUE": name,  # this run's own queue: no other worker takes its steps
    }
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key in _CLEARED:
                mp.delenv(key, raising=False)
            for key, value in base.items():
                mp.setenv(key, value)
            from mesh_platform.config.environment import export_for_children

            env = export_for_children()
        yield Deployment(home, env, f"{SERVER}/{name}", f"{SERVER}/{name}_catalog", name)
    finally:
        with admin.connect() as connection:
            for database in (name, f"{name}_catalog"):
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
        admin.dispose()


def _ping(broker: str, names: set[str]) -> set[str]:
    from celery import Celery

    app = Celery(broker=broker)
    try:
        replies = app.control.ping(timeout=1.0)
    finally:
        app.close()
    return {name for reply in replies for name in reply} & names


@pytest.fixture(scope="module")
def workers(deployment: Deployment) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Celery workers on the deployment's queue, started as an operator would; stopped after."""
    from mesh_platform.config.environment import DEFAULT_CELERY_BROKER

    names = {f"w{i}-{deployment.queue}@{os.uname().nodename}" for i in range(WORKERS)}
    logs = deployment.home / "workers"
    logs.mkdir()
    started = []
    for name in sorted(names):
        command = [
            str(BIN / "celery"),
            "-A",
            "mesh_platform.config.celery_app",
            "worker",
            "-Q",
            deployment.queue,
            "--concurrency=1",
            "--prefetch-multiplier=1",
            "--without-gossip",
            "--without-mingle",
            "-n",
            name,
            "-l",
            "INFO",
        ]
        log = (logs / f"{name.split('@')[0]}.log").open("wb")
        started.append(
            subprocess.Popen(command, cwd=ROOT, env=deployment.env, stdout=log, stderr=log)
        )
    try:
        deadline = time.monotonic() + READY_SECONDS
        ready: set[str] = set()
        while ready != names:
            dead = [p for p in started if p.poll() is not None]
            assert not dead, f"a worker exited: {_tail(logs)}"
            assert time.monotonic() < deadline, f"workers not ready: {_tail(logs)}"
            ready |= _ping(DEFAULT_CELERY_BROKER, names)
        yield started
    finally:
        for process in started:
            process.terminate()  # warm shutdown: the current task finishes
        for process in started:
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _tail(logs: Path) -> str:
    return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))


def _worker_pids(workers: list[subprocess.Popen[bytes]]) -> set[int]:
    """The workers' processes and their descendants (Celery's pool), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command name (in parentheses) may hold spaces: the fields after it are fixed.
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    pids = {process.pid for process in workers}
    grown = True
    while grown:
        more = {pid for pid, parent in parents.items() if parent in pids} - pids
        pids |= more
        grown = bool(more)
    return pids


def test_a_slice_of_the_mesh_on_postgresql_and_celery(
    deployment: Deployment, workers: list[subprocess.Popen[bytes]]
) -> None:
    env = deployment.env
    # One setting chose it: the instance template on PostgreSQL, the catalog beside it.
    config = (Path(env["DAGSTER_HOME"]) / "dagster.yaml").read_text()
    assert "postgres_url:\n      env: MESH_POSTGRES_URL" in config
    assert env["MESH_CATALOG_URL"] == deployment.catalog_url

    from mesh_platform.dev.sample_data import generate

    landing = Path(deployment.home) / "landing"
    generate(landing, SCALE)
    # Deploying migrates the catalog once, before workers write to it (`mesh` commands open
    # it; see docs/deployment.md).
    subprocess.run(
        [str(BIN / "mesh"), "cost", "--json"], cwd=ROOT, env=env, check=True, capture_output=True
    )

    *by_cli, last = SLICE
    for domain in by_cli:  # as an operator would, with Dagster's CLI
        selection = ",".join(f"{domain}/{p}" for p in SLICE[domain])
        command = [str(BIN / "dagster"), "asset", "materialize", "-m"]
        command += [f"domains.{domain}.definitions", "--select", selection]
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=RUN_SECONDS
        )
        assert done.returncode == 0, f"{domain}: {done.stderr[-4000:]}"
    _run_in_location(deployment, last)  # as the platform's own orchestration does

    pids = _worker_pids(workers)
    _check_instance(deployment, pids)
    _check_catalog(deployment)
    _check_results(deployment.home / "lake", landing)


LAUNCH = """mutation { launchRun(executionParams: {selector: {repositoryLocationName: "finance",
  repositoryName: "__repository__", jobName: "__ASSET_JOB",
  assetSelection: [{path: ["finance", "order_priority_checking"]}]}}) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""


def test_mesh_up_serves_the_postgresql_instance_and_its_runs_use_the_workers(
    deployment: Deployment, workers: list[subprocess.Popen[bytes]]
) -> None:
    """`mesh up` in the prod profile: webserver and daemon on PostgreSQL; a run launched from
    the UI is queued, launched by the daemon, and its step runs on a Celery worker."""
    import dagster as dg

    from tests.ui_support import free_port, graphql

    workspace = deployment.home / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_module:\n      module_name: domains.finance.definitions\n"
        f"      location_name: finance\n      working_directory: {ROOT}\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    output = deployment.home / "mesh-up.log"
    command = [str(BIN / "mesh"), "up", "--no-materialize", "--workspace", str(workspace)]
    with output.open("wb") as sink:
        up = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=ROOT,
            env=deployment.env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + RUN_SECONDS
        launched: dict = {}
        while launched.get("__typename") != "LaunchRunSuccess":
            assert up.poll() is None, f"mesh up exited:\n{output.read_text()}"
            assert time.monotonic() < deadline, f"no run launched: {launched}"
            if "serving at" in output.read_text():
                # Until the location has loaded, the job is not found: ask again.
                launched = graphql(url, LAUNCH)["launchRun"]
            time.sleep(1)
        run_id = launched["run"]["runId"]
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("MESH_POSTGRES_URL", deployment.instance_url)
            with dg.DagsterInstance.from_config(deployment.env["DAGSTER_HOME"]) as instance:
                while not (run := instance.get_run_by_id(run_id)) or not run.is_finished:
                    assert time.monotonic() < deadline, "the launched run did not finish"
                    time.sleep(1)
                assert run.status == dg.DagsterRunStatus.SUCCESS, output.read_text()[-3000:]
                starts = instance.get_records_for_run(
                    run_id, of_type=dg.DagsterEventType.STEP_START
                ).records
                pids = {r.event_log_entry.step_key: _pid(r) for r in starts}
        assert "finance__order_priority_checking" in pids
        assert set(pids.values()) <= _worker_pids(workers), pids
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)
            try:
                up.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(up.pid, signal.SIGKILL)
                up.wait()


def _run_in_location(deployment: Deployment, domain: str) -> None:
    """`run_in_location` from this process: the location is imported here with the
    deployment's environment, and the steps still go to the workers."""
    import dagster as dg

    from mesh_platform.dagster.location import run_in_location
    from tests.fixtures_mesh import forget_domains

    with pytest.MonkeyPatch.context() as mp:
        for key in _CLEARED:
            mp.delenv(key, raising=False)
        for key, value in deployment.env.items():
            mp.setenv(key, value)
        previous = forget_domains()
        try:
            with dg.DagsterInstance.get() as instance:
                keys = [(domain, product) for product in SLICE[domain]]
                result = run_in_location(ROOT, domain, keys, instance, raise_on_error=False)
        finally:
            forget_domains()
            sys.modules.update(previous)
    assert result.success
    written = {tuple(e.asset_key.path) for e in result.get_asset_materialization_events()}
    assert written == set(keys)


def _check_instance(deployment: Deployment, worker_pids: set[int]) -> None:
    """The runs and every step's events are in PostgreSQL, and each step ran on a worker."""
    import dagster as dg

    engine = sa.create_engine(deployment.instance_url)
    with engine.connect() as connection:
        statuses = connection.execute(sa.text("SELECT status FROM runs")).scalars().all()
    engine.dispose()
    assert sorted(statuses) == ["SUCCESS"] * len(SLICE)

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MESH_POSTGRES_URL", deployment.instance_url)
        instance = dg.DagsterInstance.from_config(deployment.env["DAGSTER_HOME"])
        with instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            starts = instance.get_event_records(
                dg.EventRecordsFilter(event_type=dg.DagsterEventType.STEP_START)
            )
            steps = {r.event_log_entry.step_key: _pid(r) for r in starts}
    expected = {f"{d}__{p}" for d, products in SLICE.items() for p in products}
    assert expected <= set(steps)  # and the products' freshness checks, on workers too
    off_workers = {step: pid for step, pid in steps.items() if pid not in worker_pids}
    assert not off_workers, f"steps not run by a Celery worker: {off_workers}"


def _check_catalog(deployment: Deployment) -> None:
    """The runs' costs were recorded in the PostgreSQL catalog, by the workers."""
    engine = sa.create_engine(deployment.catalog_url)
    with engine.connect() as connection:
        recorded = connection.execute(sa.text("SELECT product FROM run_costs")).scalars().all()
    engine.dispose()
    assert set(recorded) == {f"{d}.{p}" for d, products in SLICE.items() for p in products}


def _check_results(lake: Path, landing: Path) -> None:
    """Gold products equal the same questions answered by polars over the landing exports."""

    def read(table: str) -> pl.DataFrame:
        folder = landing / table  # orders and lineitem are landing folders
        frame = pl.read_parquet(folder / "*.parquet" if folder.is_dir() else f"{folder}.parquet")
        return frame.with_columns(
            pl.col(pl.String).str.strip_chars(), pl.col(pl.Decimal).cast(pl.Float64)
        )

    customer, nation, orders, lineitem = (
        read(t) for t in ("customer", "nation", "orders", "lineitem")
    )
    revenue = (
        customer.join(nation, left_on="c_nationkey", right_on="n_nationkey")
        .join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(lineitem, left_on="o_orderkey", right_on="l_orderkey")
        .group_by("c_custkey", "c_name", "c_mktsegment", pl.col("n_name").alias("nation"))
        .agg(
            pl.col("o_orderkey").n_unique().cast(pl.Int64).alias("order_count"),
            (pl.col("l_extendedprice") * (1 - pl.col("l_discount"))).sum().alias("revenue"),
        )
    )
    _same(lake / "sales" / "customer_revenue", revenue, ["c_custkey"])

    top = (
        revenue.sort(["revenue", "c_custkey"], descending=[True, False])
        .with_columns(pl.int_range(1, pl.len() + 1).over("nation").alias("revenue_rank"))
        .filter(pl.col("revenue_rank") <= 3)
        .select("nation", pl.col("revenue_rank").cast(pl.Int32), "c_custkey", "c_name", "revenue")
    )
    _same(lake / "marketing" / "top_customers_by_nation", top, ["nation", "revenue_rank"])

    late = lineitem.filter(pl.col("l_commitdate") < pl.col("l_receiptdate"))["l_orderkey"]
    quarter = pl.col("o_orderdate").is_between(
        pl.date(1993, 7, 1), pl.date(1993, 10, 1), closed="left"
    )
    priority = (
        orders.filter(quarter & pl.col("o_orderkey").is_in(late.implode()))
        .group_by("o_orderpriority")
        .agg(pl.len().cast(pl.Int64).alias("order_count"))
    )
    _same(lake / "finance" / "order_priority_checking", priority, ["o_orderpriority"])


def _same(table: Path, expected: pl.DataFrame, keys: list[str]) -> None:
    actual = pl.read_delta(str(table))
    assert actual.height > 0
    assert_frame_equal(
        actual.select(expected.columns).sort(keys),
        expected.sort(keys),
        check_dtypes=False,
        rel_tol=1e-9,
    )


def _pid(record: object) -> int | None:
    event = record.event_log_entry.dagster_event  # type: ignore[attr-defined]
    return event.pid if event is not None else None
