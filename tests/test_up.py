"""`mesh up` as a service, against the running daemon: it announces the UI when it answers,
every location's automation sensor runs, an upstream materialization in one domain makes the
`eager` product of another domain materialize, alert links use the real port, and Ctrl-C
stops every process quietly.

The tests of this module share one `mesh up` over a small temporary mesh and run in order; the
last one stops it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from mesh_platform.cli.processes import group_members
from tests.mini_mesh import domain_assets, write_mesh
from tests.ui_support import free_port, graphql, start_mesh_up, stop_mesh_up

pytestmark = pytest.mark.slow  # real `mesh up`s

# The machine running the tests is slow and shared: bounds are generous, and every wait ends
# as soon as what it waits for is seen.
START_SECONDS = 300
AUTOMATION_SECONDS = 360
UPSTREAM = dg.AssetKey(["producer", "source"])
DOWNSTREAM = dg.AssetKey(["consumer", "reader"])

SOURCE = """\
name: source
description: A landing copy.
visibility: published
source: {landing: source}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
"""

READER = """\
name: reader
description: Reads another domain's published product; refreshed after it.
automation: eager
inputs: {src: producer.source}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM src
"""


@dataclass
class Served:
    """A running `mesh up --no-materialize` over a temporary two-domain mesh."""

    root: Path
    home: Path
    url: str
    process: subprocess.Popen[bytes]
    output: Path
    announced_answering: bool

    def text(self) -> str:
        return self.output.read_text(errors="replace")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _write_workspace(root: Path, domains: tuple[str, ...]) -> Path:
    lines = ["load_from:"]
    for domain in domains:
        (root / "domains" / domain / "definitions.py").write_text(
            "from mesh_platform import load_domain\n\ndefs = load_domain(__file__)\n"
        )
        lines += [
            "  - python_file:",
            f"      relative_path: domains/{domain}/definitions.py",
            f"      location_name: {domain}",
            f"      working_directory: {root}",
        ]
    workspace = root / "workspace.yaml"
    workspace.write_text("\n".join(lines) + "\n")
    return workspace


LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus
  locationOrLoadError { __typename ... on PythonError { message }
    ... on RepositoryLocation { repositories { sensors { name sensorState { status } } } } }
} } } }"""


def _locations(url: str) -> dict[str, dict]:
    data = graphql(url, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
    return {entry["name"]: entry for entry in data}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = write_mesh(
        tmp_path_factory.mktemp("up"),
        {"producer": {"source": SOURCE}, "consumer": {"reader": READER}},
    )
    workspace = _write_workspace(root, ("producer", "consumer"))
    home = root / "var"
    (home / "landing").mkdir(parents=True)
    pl.DataFrame({"id": [1, 2, 3], "amount": [1.5, 2.0, 4.25]}).write_parquet(
        home / "landing" / "source.parquet"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    output = root / "mesh-up.log"
    process = start_mesh_up(root, workspace, port, output)
    try:
        deadline = time.monotonic() + START_SECONDS
        while "serving at" not in output.read_text():
            assert process.poll() is None, f"mesh up exited:\n{output.read_text()}"
            assert time.monotonic() < deadline, f"not serving after {START_SECONDS} s"
            time.sleep(0.2)
        announced_answering = _answers(url)
        while True:
            entries = _locations(url)
            if len(entries) == 2 and all(e["loadStatus"] == "LOADED" for e in entries.values()):
                break
            assert time.monotonic() < deadline, f"locations not loaded: {entries}"
            time.sleep(1)
        yield Served(root, home, url, process, output, announced_answering)
    finally:
        if process.poll() is None:  # the last test stops it; else SIGTERM, then a forced kill
            stop_mesh_up(process)


def test_serving_is_announced_once_the_ui_answers(served: Served) -> None:
    assert served.announced_answering, served.text()
    assert f"serving at {served.url}" in served.text()


def test_every_location_runs_its_automation_sensor(served: Served) -> None:
    for name, entry in _locations(served.url).items():
        location = entry["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", location
        (repository,) = location["repositories"]
        sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
        assert sensors == {"mesh_automation": "RUNNING"}, (name, sensors)


RESOURCES_QUERY = """{ allTopLevelResourceDetailsOrError(repositorySelector: {
  repositoryLocationName: "%s", repositoryName: "__repository__" }) {
  ... on ResourceDetailsList { results { name configuredValues { key value } } } } }"""


def test_alert_links_use_the_address_the_ui_is_served_at(served: Served) -> None:
    data = graphql(served.url, RESOURCES_QUERY % "consumer")
    resources = data["allTopLevelResourceDetailsOrError"]["results"]
    (notifier,) = [r for r in resources if r["name"] == "notifier"]
    values = {v["key"]: v["value"] for v in notifier["configuredValues"]}
    assert json.loads(values["ui_base_url"]) == served.url


TICKS_QUERY = """{ sensorOrError(sensorSelector: { repositoryLocationName: "consumer",
  repositoryName: "__repository__", sensorName: "mesh_automation" }) {
  ... on Sensor { sensorState { ticks(limit: 5) { status timestamp } } } } }"""


def test_an_upstream_run_makes_the_eager_downstream_domain_materialize(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MESH_HOME", str(served.home))
    monkeypatch.setenv("DAGSTER_HOME", str(served.home / "dagster_home"))
    from mesh_platform.dagster.resources import build_resources

    # Progress, not a fixed sleep: the consumer's sensor has evaluated at least once, and with
    # its upstream never materialized it requested nothing.
    deadline = time.monotonic() + AUTOMATION_SECONDS
    while not graphql(served.url, TICKS_QUERY)["sensorOrError"]["sensorState"]["ticks"]:
        assert time.monotonic() < deadline, "the automation sensor never ticked"
        time.sleep(1)
    with dg.DagsterInstance.get() as instance:
        assert instance.get_latest_materialization_event(DOWNSTREAM) is None
        result = dg.materialize(
            domain_assets(served.root, "producer"), instance=instance, resources=build_resources()
        )
        assert result.success
        upstream_at = time.monotonic()
        while (event := instance.get_latest_materialization_event(DOWNSTREAM)) is None:
            assert time.monotonic() < deadline, (
                f"consumer.reader not materialized {AUTOMATION_SECONDS} s after its upstream"
            )
            time.sleep(2)
        seen_after = time.monotonic() - upstream_at
        while not (run := instance.get_run_by_id(event.run_id)) or not run.is_finished:
            assert time.monotonic() < deadline, "the automation's run did not finish"
            time.sleep(1)
        assert run.status == dg.DagsterRunStatus.SUCCESS
    print(f"eager downstream materialized {seen_after:.0f} s after its upstream")
    # Launched by the consumer location's automation sensor, not by anyone else.
    assert run.tags.get("dagster/sensor_name") == "mesh_automation", run.tags
    table = pl.read_delta(str(served.home / "lake" / "consumer" / "reader"))
    assert sorted(table["doubled"].to_list()) == [3.0, 4.0, 8.5]


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def test_ctrl_c_stops_every_process_quietly(served: Served) -> None:
    # mesh runs `dagster dev` in a process group of its own (the child's pid).
    (child,) = _children(served.process.pid)
    groups = (served.process.pid, child)
    assert len(group_members(child)) >= 5  # dagster dev, webserver, daemon, code servers
    took = stop_mesh_up(served.process, signal.SIGINT)
    assert served.process.returncode == 0, served.text()
    assert took < 10, served.text()
    for group in groups:
        assert group_members(group) == [], "processes started by mesh up outlived it"
    text = served.text()
    assert "stopped in" in text
    # Run workers' step logs and an interrupted run's stack trace stay in the full log.
    noise = ("Traceback", "Stack Trace", "TimeoutExpired", "Warning", "warning", "superseded")
    for word in (*noise, " - DEBUG - ", " - INFO - "):
        assert word not in text, text
    full_log = (served.home / "logs" / "mesh-up.log").read_text(errors="replace")
    assert f"full log: {served.home / 'logs' / 'mesh-up.log'}" in text
    assert "dagster" in full_log


def test_sigterm_right_after_start_stops_every_process_quietly(tmp_path: Path) -> None:
    """SIGTERM (a service manager stopping it) while code locations are still loading."""
    root = write_mesh(tmp_path, {"producer": {"source": SOURCE}})
    workspace = _write_workspace(root, ("producer",))
    output = root / "mesh-up.log"
    process = start_mesh_up(root, workspace, free_port(), output)
    try:
        deadline = time.monotonic() + START_SECONDS
        while "serving at" not in output.read_text():
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline, f"not serving after {START_SECONDS} s"
            time.sleep(0.2)
        (child,) = _children(process.pid)
        took = stop_mesh_up(process, signal.SIGTERM)
        assert process.returncode == 0, output.read_text()
        assert took < 10, output.read_text()
        assert group_members(child) == [] and group_members(process.pid) == []
        text = output.read_text()
        assert "stopped in" in text
        for noise in ("Traceback", "TimeoutExpired", "Warning", "warning", "superseded"):
            assert noise not in text, text
    finally:
        if process.poll() is None:
            stop_mesh_up(process)


# Without a server ---------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty MESH_HOME for the checkout's mesh (its Dagster home is created by mesh)."""
    for name in ("MESH_ENV", "MESH_LAKE_ROOT", "MESH_LANDING_ROOT", "MESH_CATALOG_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MESH_HOME", str(tmp_path))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    return tmp_path


def _tables(home: Path, keys: list[tuple[str, str]]) -> None:
    """A Delta table (a stand-in: one row) for each product of `keys`."""
    import pyarrow as pa
    from deltalake import write_deltalake

    for domain, name in keys:
        write_deltalake(str(home / "lake" / domain / name), pa.table({"x": [1]}))


def test_only_products_without_a_table_are_materialized(home: Path) -> None:
    from mesh_platform.cli.serve import missing_targets
    from mesh_platform.loader.mesh import Mesh

    mesh = Mesh.load()
    assert missing_targets() is None  # a first start builds everything
    platform = [s.spec.key for s in mesh.of_domain("platform")]
    sales = [s.spec.key for s in mesh.of_domain("sales")]
    _tables(home, [*platform, *sales[1:]])
    expected = [".".join(sales[0])] + [
        domain for domain in mesh.domain_order() if domain not in ("platform", "sales")
    ]
    assert sorted(missing_targets() or []) == sorted(expected)
    _tables(home, [k for k in mesh.order if k not in {*platform, *sales[1:]}])
    assert missing_targets() == []


def test_up_with_every_table_present_materializes_nothing(home: Path) -> None:
    from click.testing import CliRunner

    from mesh_platform.cli import main
    from mesh_platform.loader.mesh import Mesh

    _tables(home, list(Mesh.load().order))
    result = CliRunner().invoke(main, ["up", "--headless"])
    assert result.exit_code == 0, result.output
    assert "nothing to materialize" in result.output
    assert (home / "dagster_home" / "dagster.yaml").read_text().startswith("# The embedded")


def test_the_instance_templates_at_the_top_level_switch_an_older_copy_too(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The templates live at the checkout's top level; a copy of one whose comments are an
    older version's is still that template (so switching MESH_PROFILE switches it)."""
    from mesh_platform.config.environment import dagster_home, instance_template
    from mesh_platform.spec.workspace import repo_root

    assert instance_template("embedded") == repo_root() / "dagster.yaml"
    assert instance_template("prod") == repo_root() / "dagster-prod.yaml"
    config = home / "dagster_home" / "dagster.yaml"
    config.parent.mkdir(parents=True)
    embedded = instance_template("embedded").read_text()
    config.write_text("# An older comment.\n" + embedded.replace("\n# ", "\n#  "))
    monkeypatch.setenv("MESH_PROFILE", "prod")
    dagster_home()
    assert config.read_text() == instance_template("prod").read_text()


def test_serving_another_workspace_needs_no_materialize(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from mesh_platform.cli import main

    workspace = tmp_path / "workspace.yaml"
    workspace.write_text("load_from: []\n")
    result = CliRunner().invoke(main, ["up", "--workspace", str(workspace)])
    assert result.exit_code == 2 and "add --no-materialize" in result.output


def test_a_port_in_use_is_one_message(home: Path) -> None:
    import socket

    from click.testing import CliRunner

    from mesh_platform.cli import main

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(main, ["up", "--no-materialize", "--port", str(port)])
    assert result.exit_code == 1
    assert f"port {port} on 127.0.0.1 is already in use" in result.output
    assert "--port" in result.output and "Traceback" not in result.output


def test_the_terminal_gets_warnings_and_errors_and_nothing_once_stopping(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    from mesh_platform.cli.service_log import ServiceLog

    read, write = os.pipe()
    log = ServiceLog(os.fdopen(read, "rb"), tmp_path / "logs" / "mesh-up.log", verbose=False)
    log.start()
    records = [
        b"2026-11-26 01:39:10 +0000 - dagster - DEBUG - __ASSET_JOB - step started\n",
        b"2026-11-26 01:39:11 +0000 - dagster - INFO - __repository__ - never executed\n",
        b"2026-11-26 01:39:12 +0000 - dagster - WARNING - daemon heartbeat late\n",
        b"2026-11-26 01:39:13 +0000 - dagster - ERROR - __ASSET_JOB - run failed\n",
        b"Stack Trace:\n",
        b'  File "api.py", line 742, in job_execution_iterator\n',
    ]
    with os.fdopen(write, "wb", buffering=0) as pipe:
        pipe.write(b"".join(records))
        deadline = time.monotonic() + 30
        while not log.path.exists() or len(log.path.read_bytes().splitlines()) < len(records):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        log.quiet()
        pipe.write(b"2026-11-26 01:40:00 +0000 - dagster - ERROR - interrupted\nStack Trace:\n")
    log.join(timeout=30)
    shown = capsysbinary.readouterr().out
    assert shown == b"".join(records[2:])  # the warning, the error and its stack trace
    full = log.path.read_bytes()
    assert full.startswith(b"".join(records)) and full.endswith(b"interrupted\nStack Trace:\n")
