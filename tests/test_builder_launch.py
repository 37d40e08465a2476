"""The builder's "Materialize" (issue 16, item 6): a real Dagster run of the product's code
location launched through the webserver's GraphQL of a real `mesh up`, its missing upstream of
another domain built first, its status and page followed until it ends. The product is saved
after `mesh up` loaded its location (as the builder saves it): `launch` reloads the location."""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from mesh_platform.builder.launch import launch, run_status
from tests.mini_mesh import write_mesh
from tests.test_up import READER, SOURCE, START_SECONDS, _locations, _write_workspace
from tests.ui_support import free_port, start_mesh_up, stop_mesh_up

# Saved once `mesh up` is serving: its location knows only `reader` until it is reloaded.
TRIPLED = """\
name: tripled
description: Saved from the builder while `mesh up` runs.
inputs: {src: producer.source}
steps:
  - sql: SELECT id, amount * 3 AS tripled FROM src
"""

pytestmark = pytest.mark.slow  # a real `mesh up`


def test_launch_runs_the_product_and_its_missing_upstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_mesh(tmp_path, {"producer": {"source": SOURCE}, "consumer": {"reader": READER}})
    workspace = _write_workspace(root, ("producer", "consumer"))
    home = root / "var"
    (home / "landing").mkdir(parents=True)
    amounts = [1.5, 2.0, 4.25]
    pl.DataFrame({"id": [1, 2, 3], "amount": amounts}).write_parquet(
        home / "landing" / "source.parquet"
    )
    monkeypatch.setenv("MESH_HOME", str(home))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    output = root / "mesh-up.log"
    process = start_mesh_up(root, workspace, port, output)
    try:
        deadline = time.monotonic() + START_SECONDS
        while "serving at" not in output.read_text():
            assert process.poll() is None, output.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.5)
        while not all(e["loadStatus"] == "LOADED" for e in _locations(url).values()):
            assert time.monotonic() < deadline
            time.sleep(1)
        (root / "domains" / "consumer" / "products" / "tripled.yaml").write_text(TRIPLED)
        run_id = launch(root, "consumer.tripled", url)  # producer.source has no table yet
        status = run_status(url, run_id)
        assert status["url"] == f"{url}/runs/{run_id}"
        while status["status"] not in ("SUCCESS", "FAILURE", "CANCELED"):
            assert time.monotonic() < deadline + START_SECONDS, status
            time.sleep(1)
            status = run_status(url, run_id)
        assert status["status"] == "SUCCESS", output.read_text()[-3000:]
        table = DeltaTable(str(home / "lake" / "consumer" / "tripled")).to_pyarrow_table()
        assert sorted(table.column("tripled").to_pylist()) == sorted(a * 3 for a in amounts)
        assert (home / "lake" / "producer" / "source" / "_delta_log").is_dir()
    finally:
        stop_mesh_up(process)
