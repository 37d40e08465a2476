"""Stopping `mesh up`: every process it started is gone within 10 s of SIGTERM, the run it had
in flight is CANCELED (not left STARTED), a second signal stops at once, and on start a run
whose process is gone is marked FAILED, so nothing shows "In Progress" forever.

A real `mesh up` over a small mesh whose product `producer.slow` runs until it is stopped. The
tests of this module share that mesh (and its Dagster instance) and run in order.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mesh_platform.config.environment import instance_config
from tests.mini_mesh import write_mesh
from tests.ui_support import (
    free_port,
    graphql,
    kill_all,
    process_tree,
    start_mesh_up,
    still_alive,
    stop_mesh_up,
)

pytestmark = pytest.mark.slow  # real `mesh up`s

START_SECONDS = 300
RUN_SECONDS = 300
STOP_BOUND_SECONDS = 10.0
IN_FLIGHT = [
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]

SOURCE = """\
name: source
description: A landing copy.
source: {landing: source}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
"""

SLOW = """\
name: slow
description: Runs until it is stopped (at most 10 minutes).
inputs: {src: source}
steps:
  - sql: SELECT id, amount FROM src
  - python: slow_steps:wait
"""

SLOW_STEPS = """\
import time


def wait(frame):
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        time.sleep(0.2)
    return frame
"""

# A run executed in its own process; "die" kills that process in the middle of the run (the
# run stays STARTED), "hold" keeps it running until the file MARKER exists.
HELD_JOB = """\
import os, signal, sys, time
from pathlib import Path

import dagster as dg


@dg.op
def hold() -> None:
    if sys.argv[1] == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    deadline = time.monotonic() + 300
    while not Path(sys.argv[2]).exists() and time.monotonic() < deadline:
        time.sleep(0.1)


@dg.job
def held() -> None:
    hold()


with dg.DagsterInstance.get() as instance:
    held.execute_in_process(instance=instance)
"""

LAUNCH = """mutation { launchRun(executionParams: {selector: {repositoryLocationName: "producer",
  repositoryName: "__repository__", jobName: "__ASSET_JOB",
  assetSelection: [{path: ["producer", "source"]}, {path: ["producer", "slow"]}]}}) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""

LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name
  loadStatus } } } }"""


@dataclass(frozen=True)
class SlowMesh:
    root: Path
    workspace: Path
    home: Path

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    def instance(self) -> dg.DagsterInstance:
        return dg.DagsterInstance.from_config(str(self.dagster_home))


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> SlowMesh:
    root = write_mesh(
        tmp_path_factory.mktemp("shutdown"), {"producer": {"source": SOURCE, "slow": SLOW}}
    )
    (root / "slow_steps.py").write_text(SLOW_STEPS)
    (root / "domains" / "producer" / "definitions.py").write_text(
        "from mesh_platform import load_domain\n\ndefs = load_domain(__file__)\n"
    )
    workspace = root / "workspace.yaml"
    workspace.write_text(
        "load_from:\n  - python_file:\n      relative_path: domains/producer/definitions.py\n"
        f"      location_name: producer\n      working_directory: {root}\n"
    )
    home = root / "var"
    (home / "landing").mkdir(parents=True)
    # The instance mesh up would create, for the runs a test makes before starting it.
    (home / "dagster_home").mkdir()
    (home / "dagster_home" / "dagster.yaml").write_text(instance_config(home / "dagster_home"))
    pl.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.0, 4.25]}).write_parquet(
        home / "landing" / "source.parquet"
    )
    return SlowMesh(root, workspace, home)


@dataclass
class Up:
    process: subprocess.Popen[bytes]
    url: str
    output: Path

    def text(self) -> str:
        return self.output.read_text(errors="replace")


@pytest.fixture
def serve(mesh: SlowMesh) -> Iterator[list[Up]]:
    """Starts `mesh up` over the mesh when a test asks (`_up`); whatever is still running at
    the end is stopped with SIGTERM, then killed."""
    started: list[Up] = []
    yield started
    for up in started:
        if up.process.poll() is None:
            stop_mesh_up(up.process)


def _up(mesh: SlowMesh, started: list[Up]) -> Up:
    """`mesh up` serving the mesh, once its location has loaded."""
    port = free_port()
    output = mesh.root / f"mesh-up-{len(list(mesh.root.glob('mesh-up-*.log')))}.log"
    process = start_mesh_up(mesh.root, mesh.workspace, port, output)
    up = Up(process, f"http://127.0.0.1:{port}", output)
    started.append(up)
    deadline = time.monotonic() + START_SECONDS
    while "serving at" not in up.text():
        assert up.process.poll() is None, f"mesh up exited:\n{up.text()}"
        assert time.monotonic() < deadline, f"not serving after {START_SECONDS} s"
        time.sleep(0.2)
    while True:
        entries = graphql(up.url, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
        if entries and all(e["loadStatus"] == "LOADED" for e in entries):
            return up
        assert time.monotonic() < deadline, f"location not loaded: {entries}"
        time.sleep(0.5)


def _launch_slow_run(up: Up) -> str:
    launched = graphql(up.url, LAUNCH)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]


def _wait_until_the_slow_step_runs(instance: dg.DagsterInstance, run_id: str) -> None:
    deadline = time.monotonic() + RUN_SECONDS
    while True:
        run = instance.get_run_by_id(run_id)
        assert run is not None and not run.is_finished, run
        starts = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START)
        if run.status == dg.DagsterRunStatus.STARTED and any(
            "slow" in (r.event_log_entry.step_key or "") for r in starts.records
        ):
            return
        assert time.monotonic() < deadline, f"the slow step did not start: {run.status}"
        time.sleep(0.5)


def _in_flight(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    return list(instance.get_runs(dg.RunsFilter(statuses=IN_FLIGHT)))


def _printed_stop_seconds(text: str) -> float:
    (seconds,) = re.findall(r"stopped in ([0-9.]+) ?s", text)
    return float(seconds)


def test_sigterm_stops_every_process_within_10_s_and_cancels_the_run_in_flight(
    mesh: SlowMesh, serve: list[Up]
) -> None:
    up = _up(mesh, serve)
    run_id = _launch_slow_run(up)
    with mesh.instance() as instance:
        _wait_until_the_slow_step_runs(instance, run_id)
    # mesh up, dagster dev, webserver, daemon, code server, run worker, its step: and the rest.
    recorded = process_tree(up.process.pid)
    assert len(recorded) >= 7, recorded
    took = stop_mesh_up(up.process, signal.SIGTERM)
    print(f"SIGTERM: every process of mesh up gone in {took:.1f} s ({len(recorded)} processes)")
    assert still_alive(recorded) == []
    assert took < STOP_BOUND_SECONDS, up.text()
    assert up.process.returncode == 0, up.text()
    assert _printed_stop_seconds(up.text()) < STOP_BOUND_SECONDS
    assert "Traceback" not in up.text()
    with mesh.instance() as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.CANCELED, run
    # Started again, it finds nothing in flight.
    again = _up(mesh, serve)
    with mesh.instance() as instance:
        assert _in_flight(instance) == []
    assert stop_mesh_up(again.process) < STOP_BOUND_SECONDS


def _held_run(mesh: SlowMesh, how: str, marker: Path) -> subprocess.Popen[bytes]:
    script = mesh.root / "held_job.py"
    script.write_text(HELD_JOB)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_"))}
    env["DAGSTER_HOME"] = str(mesh.dagster_home)
    with (mesh.root / f"held-{how}.log").open("wb") as log:
        return subprocess.Popen(
            [sys.executable, str(script), how, str(marker)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_for_run(instance: dg.DagsterInstance, count: int) -> list[dg.DagsterRun]:
    deadline = time.monotonic() + RUN_SECONDS
    while len(runs := _in_flight(instance)) < count:
        assert time.monotonic() < deadline, f"{len(runs)} runs in flight, not {count}"
        time.sleep(0.2)
    return runs


def test_a_run_whose_process_is_gone_is_failed_on_start_and_a_live_one_is_left(
    mesh: SlowMesh, serve: list[Up]
) -> None:
    marker = mesh.root / "release"
    with mesh.instance() as instance:
        assert _in_flight(instance) == []
        dead = _held_run(mesh, "die", marker)
        assert dead.wait(timeout=RUN_SECONDS) == -signal.SIGKILL
        (stale,) = _wait_for_run(instance, 1)
        live = _held_run(mesh, "hold", marker)
        try:
            (held,) = [r for r in _wait_for_run(instance, 2) if r.run_id != stale.run_id]
            assert stale.status == dg.DagsterRunStatus.STARTED
            up = _up(mesh, serve)
            failed = instance.get_run_by_id(stale.run_id)
            assert failed is not None and failed.status == dg.DagsterRunStatus.FAILURE
            assert f"marked 1 run whose process is gone as FAILED: {stale.run_id}" in up.text()
            running = instance.get_run_by_id(held.run_id)
            assert running is not None and running.status == dg.DagsterRunStatus.STARTED
            marker.touch()
            assert live.wait(timeout=RUN_SECONDS) == 0
        finally:
            if live.poll() is None:
                kill_all(process_tree(live.pid))
                live.wait()
        succeeded = instance.get_run_by_id(held.run_id)
        assert succeeded is not None and succeeded.status == dg.DagsterRunStatus.SUCCESS
    _second_signal_stops_at_once(up)


def _second_signal_stops_at_once(up: Up) -> None:
    """SIGTERM, then Ctrl-C while it stops: everything is killed at once."""
    recorded = process_tree(up.process.pid)
    started = time.monotonic()
    os.kill(up.process.pid, signal.SIGTERM)
    while "stopping" not in up.text() and up.process.poll() is None:
        assert time.monotonic() - started < STOP_BOUND_SECONDS, up.text()
        time.sleep(0.02)
    took = stop_mesh_up(up.process, signal.SIGINT)
    print(f"second signal: every process gone {took:.1f} s after it")
    assert still_alive(recorded) == []
    assert up.process.returncode == 0, up.text()
    assert took < STOP_BOUND_SECONDS / 2, up.text()
