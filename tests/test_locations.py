"""A code location loads only its own domain: other domains through their published contracts,
and a broken domain never stops another domain's location, in the UI or in the loader."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import SimpleNamespace

import pytest

from mesh_platform.dagster.location import location_definitions
from mesh_platform.errors import SpecErrors
from mesh_platform.loader import domain as domain_module
from mesh_platform.loader import planner_for
from mesh_platform.loader.domain import planners_offered
from mesh_platform.loader.mesh import load_mesh
from tests.mini_mesh import write_mesh

SOURCE = """\
name: source
description: A landing copy.
visibility: published
source: {landing: source}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double, tags: [pii]}
"""

READER = """\
name: reader
description: Reads another domain's published product.
inputs: {src: producer.source}
steps:
  - sql: SELECT id, amount * 2 AS doubled FROM src
"""

BROKEN = """\
name: broken
description: A spec with an unknown column.
inputs: {src: source}
steps:
  - sql: SELECT id, amont FROM src
"""


def test_a_location_reads_other_domains_by_contract_only(tmp_path: Path) -> None:
    root = write_mesh(
        tmp_path,
        {
            "producer": {"source": SOURCE, "broken": BROKEN},
            "consumer": {"reader": READER},
            "elsewhere": {"bad": "name: bad\ndescription: [unclosed\n"},
        },
    )
    # The producer's own location fails on its broken product ...
    with pytest.raises(SpecErrors, match="amont"):
        planner_for(root, "producer").plan_all()
    # ... the consumer's location loads: it read only `producer/products/source.yaml`.
    defs = location_definitions(root, "consumer")
    (asset,) = [a for a in defs.assets or [] if hasattr(a, "key")]
    assert asset.key.path == ["consumer", "reader"]
    plan = planner_for(root, "consumer").plan_all()[("consumer", "reader")]
    assert plan.schema == {"id": "bigint", "doubled": "double"}
    # Sensitivity tags flow from the producer's published contract.
    assert "pii" in next(c for c in plan.columns if c.name == "doubled").tags


def test_a_command_that_loaded_the_mesh_imports_a_location_without_planning_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_mesh(
        tmp_path, {"producer": {"source": SOURCE}, "consumer": {"reader": READER}}
    ).resolve()
    mesh = load_mesh(root)
    planned: list[tuple[str, str]] = []
    real = domain_module.plan_product

    def counted(source, *args, **kwargs):  # type: ignore[no-untyped-def]
        planned.append(source.spec.key)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(domain_module, "plan_product", counted)
    try:
        with planners_offered(mesh.root, mesh.planners.values()):
            defs = location_definitions(root, "consumer")
        # The location took the mesh's planner: the same plans, none made again.
        assert planned == []
        assert planner_for(root, "consumer") is mesh.planners["consumer"]
        (asset,) = [a for a in defs.assets or [] if hasattr(a, "key")]
        assert asset.key.path == ["consumer", "reader"]
        # Outside the block a location reads and plans its domain itself, as before.
        location_definitions(root, "producer")
        assert planned == [("producer", "source")]
    finally:
        planner_for.cache_clear()


def test_mesh_materialize_imports_each_location_with_the_mesh_planners(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesh_platform.dagster import orchestration

    root = write_mesh(tmp_path, {"producer": {"source": SOURCE}}).resolve()
    mesh = load_mesh(root)
    seen = []

    def location_module(name: str) -> SimpleNamespace:  # what `definitions.py` does on import
        seen.append(name)
        return SimpleNamespace(defs=location_definitions(root, "producer"))

    monkeypatch.setattr(orchestration.importlib, "import_module", location_module)
    try:
        orchestration.imported_definitions("producer", mesh)
        assert seen == ["domains.producer.definitions"]
        assert planner_for(root, "producer") is mesh.planners["producer"]
    finally:
        planner_for.cache_clear()


def test_other_domains_read_only_published_products(tmp_path: Path) -> None:
    internal = SOURCE.replace("visibility: published\n", "")
    root = write_mesh(tmp_path, {"producer": {"source": internal}, "consumer": {"reader": READER}})
    with pytest.raises(SpecErrors) as caught:
        planner_for(root, "consumer").plan_all()
    (error,) = caught.value.errors
    assert "producer.source, an internal product of the producer domain" in error.problem
    assert error.line == 3 and error.fix and "visibility: published" in error.fix


def test_a_published_contract_must_be_complete_and_tag_its_pii(tmp_path: Path) -> None:
    untyped = SOURCE.replace("{name: id, type: bigint}", "{name: id}")
    root = write_mesh(tmp_path, {"producer": {"source": untyped}})
    with pytest.raises(SpecErrors, match=r"does not declare the type of column\(s\) id"):
        planner_for(root, "producer").plan_all()
    copy = """\
        name: copy
        description: Publishes the PII column without saying so.
        visibility: published
        inputs: {src: source}
        steps:
          - sql: SELECT id, amount FROM src
        columns:
          - {name: id, type: bigint}
          - {name: amount, type: double}
        """
    root = write_mesh(tmp_path / "b", {"producer": {"source": SOURCE, "copy": copy}})
    with pytest.raises(SpecErrors) as caught:
        planner_for(root, "producer").plan_all()
    (error,) = caught.value.errors
    assert "published column 'amount' is pii" in error.problem
    assert error.fix and "tags: [pii]" in error.fix


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


LOCATIONS_QUERY = """{ workspaceOrError { ... on Workspace { locationEntries {
  name loadStatus locationOrLoadError { __typename ... on PythonError { message causes { message } }
  ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } } } } } } }"""


def _locations(url: str) -> list[dict]:
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": LOCATIONS_QUERY}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]["workspaceOrError"]["locationEntries"]


@pytest.mark.slow  # a real dagster-webserver
def test_a_broken_domain_does_not_stop_the_others_in_the_ui(tmp_path: Path) -> None:
    root = write_mesh(
        tmp_path, {"producer": {"source": SOURCE}, "consumer": {"reader": READER}, "newcomer": {}}
    )
    (root / "domains/newcomer/products/broken.yaml").write_text(
        BROKEN.replace("{src: source}", "{src: producer.source}")
    )
    lines = ["load_from:"]
    for domain in ("producer", "consumer", "newcomer"):
        folder = root / "domains" / domain
        (folder / "definitions.py").write_text(
            "from mesh_platform import load_domain\n\ndefs = load_domain(__file__)\n"
        )
        lines += [
            "  - python_file:",
            f"      relative_path: domains/{domain}/definitions.py",
            f"      location_name: {domain}",
            f"      working_directory: {root}",
        ]
    (root / "workspace.yaml").write_text("\n".join(lines) + "\n")
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MESH_HOME": str(root / "var")}
    port = _free_port()
    webserver = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        # Wait on the server's progress (every location loaded or failed), not a fixed time.
        while True:
            assert process.poll() is None, "dagster-webserver exited"
            try:
                entries = {e["name"]: e for e in _locations(url)}
                if len(entries) == 3 and all(e["loadStatus"] == "LOADED" for e in entries.values()):
                    break
            except OSError:
                pass
            time.sleep(1)
        broken = entries["newcomer"]["locationOrLoadError"]
        assert broken["__typename"] == "PythonError"
        text = " ".join([broken["message"], *(c["message"] for c in broken["causes"])])
        assert "amont" in text and "broken.yaml" in text
        expected = {"producer": ["producer", "source"], "consumer": ["consumer", "reader"]}
        for name, key in expected.items():
            location = entries[name]["locationOrLoadError"]
            assert location["__typename"] == "RepositoryLocation", location
            (repository,) = location["repositories"]
            assert key in [n["assetKey"]["path"] for n in repository["assetNodes"]]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
