"""The Dagster UI over the whole mesh: every location loads, cross-domain edges, metadata."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mesh_platform.spec.workspace import repo_root
from tests.ui_support import free_port, graphql, stop_mesh_up

pytestmark = pytest.mark.slow  # a real `mesh up`

LOCATIONS = ("platform", "sales", "finance", "marketing")
VENV_BIN = Path(sys.executable).parent


def _env(materialized_mesh) -> dict[str, str]:
    env = dict(os.environ)
    env["MESH_HOME"] = str(materialized_mesh.home)
    env["DAGSTER_HOME"] = str(materialized_mesh.home / "dagster_home")
    return env


LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""

ASSETS_QUERY = """{ assetNodes {
  assetKey { path } groupName kinds
  owners { __typename ... on TeamAssetOwner { team } ... on UserAssetOwner { email } }
  dependencyKeys { path } dependedByKeys { path }
  repository { location { name } }
  metadataEntries { label __typename
    ... on TableSchemaMetadataEntry { schema { columns { name type description } } }
    ... on TableColumnLineageMetadataEntry { lineage { columnName
        columnDeps { assetKey { path } columnName } } } } } }"""


DAEMON_QUERY = """{ instance { daemonHealth { allDaemonStatuses { daemonType healthy
  required } } } }"""


@pytest.fixture(scope="module")
def ui_process(materialized_mesh, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    """`mesh up` as the README runs it (UI + daemon) on a free port; stopped afterwards.
    Yields the UI's URL and the file holding what mesh up printed."""
    port = free_port()
    output = tmp_path_factory.mktemp("ui") / "mesh-up.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [str(VENV_BIN / "mesh"), "up", "--port", str(port)],
            cwd=repo_root(),
            env=_env(materialized_mesh),
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                entries = graphql(url, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
                loaded = entries and all(e["loadStatus"] == "LOADED" for e in entries)
                # mesh up announces the URL on its own poll of the UI, which may come later.
                if loaded and f"serving at {url}" in output.read_text():
                    break
            except OSError:
                pass
            assert process.poll() is None, "mesh up exited"
            assert time.monotonic() < deadline, "no location load and 'serving at' in 240 s"
            time.sleep(1)
        yield url, output
    finally:
        # Ctrl-C (SIGINT), as a user stops it (tests/test_shutdown.py checks every process);
        # whatever it started is killed only if it fails to, and the test then fails.
        stop_mesh_up(process, signal.SIGINT)


@pytest.fixture(scope="module")
def ui(ui_process: tuple[str, Path]) -> str:
    return ui_process[0]


def test_mesh_up_starts_without_warnings_and_materializes_only_what_is_missing(
    ui_process: tuple[str, Path],
) -> None:
    url, output = ui_process
    text = output.read_text()
    assert "nothing to materialize" in text  # the session's mesh has every table already
    assert f"serving at {url}" in text
    # Neither `dagster dev`'s supersession notice nor a dagster.yaml beside the workspace, nor
    # any Python warning. (A Dagster WARNING record, e.g. a late daemon heartbeat on a loaded
    # machine, is the service reporting on itself, not configuration: it is shown.)
    for noise in ("superseded", "dagster.yaml", "Warning:", "Traceback"):
        assert noise not in text, text


def test_every_location_loads(ui: str) -> None:
    entries = graphql(ui, LOCATIONS_QUERY)["workspaceOrError"]["locationEntries"]
    assert sorted(e["name"] for e in entries) == sorted(LOCATIONS)
    for entry in entries:
        assert entry["locationOrLoadError"]["__typename"] == "RepositoryLocation", entry


def test_cross_domain_edges_owners_and_metadata(ui: str, materialized_mesh) -> None:
    nodes = {tuple(n["assetKey"]["path"]): n for n in graphql(ui, ASSETS_QUERY)["assetNodes"]}
    mesh = materialized_mesh.mesh
    assert set(nodes) == set(mesh.products)
    cross = 0
    for key, source in mesh.products.items():
        node = nodes[key]
        assert node["repository"]["location"]["name"] == key[0]
        assert node["groupName"] == key[0]
        teams = [o["team"] for o in node["owners"] if o["__typename"] == "TeamAssetOwner"]
        assert teams[0] == mesh.domains[key[0]].spec.team
        deps = {tuple(d["path"]) for d in node["dependencyKeys"]}
        assert deps == set(source.spec.input_refs().values())
        for dep in deps:
            assert key in {tuple(d["path"]) for d in nodes[dep]["dependedByKeys"]}
            if dep[0] not in (key[0], "platform"):
                cross += 1
    assert cross >= 3

    gold = [k for k in mesh.products if k[0] in ("sales", "finance", "marketing")]
    for key in gold:
        entries = {m["label"]: m for m in nodes[key]["metadataEntries"]}
        columns = entries["dagster/column_schema"]["schema"]["columns"]
        assert [c["name"] for c in columns] == list(mesh.schema(key)), key
        lineage = entries["dagster/column_lineage"]["lineage"]
        assert lineage, key
        for column in lineage:
            for dep in column["columnDeps"]:
                assert tuple(dep["assetKey"]["path"]) in mesh.upstream(key)

    summary = {m["label"]: m for m in nodes[("sales", "pricing_summary")]["metadataEntries"]}
    columns = {c["name"]: c for c in summary["dagster/column_schema"]["schema"]["columns"]}
    assert "SUM(l_extendedprice * (1 - l_discount))" in columns["sum_disc_price"]["description"]


def test_the_daemon_runs_schedules_and_sensors(ui: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        statuses = graphql(ui, DAEMON_QUERY)["instance"]["daemonHealth"]["allDaemonStatuses"]
        required = {s["daemonType"]: s["healthy"] for s in statuses if s["required"]}
        if {"SCHEDULER", "SENSOR"} <= set(required) and all(required.values()):
            break
        assert time.monotonic() < deadline, f"daemons not healthy: {required}"
        time.sleep(2)


def test_every_location_passes_definitions_validate(materialized_mesh) -> None:
    modules = [arg for loc in LOCATIONS for arg in ("-m", f"domains.{loc}.definitions")]
    result = subprocess.run(
        [str(VENV_BIN / "dagster"), "definitions", "validate", *modules],
        cwd=repo_root(),
        env=_env(materialized_mesh),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    for location in LOCATIONS:
        assert f"Validation successful for code location domains.{location}.definitions" in output
