"""Python steps run in a sandbox: a step that reaches past its inputs (the lake, the landing
files, the network) fails with an error naming the product and step, and writes nothing; an
honest step gives exactly the result it gave in the code location's process.

The steps below dodge the load check on purpose (a storage call through `getattr`, a module
imported by name): the check is an early warning, the sandbox is the boundary (docs/access.md).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from mesh_platform.dagster.location import location_definitions
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.engine import python_steps
from mesh_platform.engine.duckdb import DuckDBEngine
from mesh_platform.engine.python_steps import SandboxUnavailable, StepRefused, call_python
from mesh_platform.errors import EngineFailure, PlatformError, SpecError, StepFailed
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.run.materialize import materialize_product
from mesh_platform.sandbox import client, landlock
from tests.mini_mesh import write_mesh

PEOPLE = """\
name: people
description: People.
visibility: published
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: city, type: string}
"""
SNEAKY = """\
name: sneaky
description: A step that reaches past its inputs.
inputs: {people: hr.people}
steps:
  - sql: SELECT id, city FROM people
  - python: MODULE:step
"""
ROWS = pl.DataFrame({"id": [1, 2], "city": ["Paris", "Rome"]})
WHY = (
    "Python steps receive their inputs as frames and cannot read the lake, the landing files "
    "or the network"
)


@pytest.fixture(scope="module", autouse=True)
def _zygote_stops_with_the_module() -> Iterator[None]:
    yield
    client.shutdown()


class Shop:
    """hr.people materialized from its landing file; ads runs a step of the test's module."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        write_mesh(root, {"hr": {"people": PEOPLE}})
        self.platform = Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"))
        (root / "landing").mkdir()
        ROWS.write_parquet(root / "landing" / "people.parquet")
        loaded = load_mesh(root)
        key = ("hr", "people")
        materialize_product(loaded.products[key].spec, loaded.plans[key], self.platform)
        self.people = root / "lake" / "hr" / "people"
        self.version = DeltaTable(str(self.people)).version()
        monkeypatch.syspath_prepend(str(root))

    def module(self, body: str) -> str:
        """A step module of ads, with the lake's and landing's paths at hand."""
        name = f"ads_steps_{uuid.uuid4().hex[:8]}"
        header = (
            "import importlib\nimport socket\n\nimport polars as pl\n\n"
            f"PEOPLE = {str(self.people)!r}\n"
            f"LOG = {str(self.people / '_delta_log' / '00000000000000000000.json')!r}\n"
            f"LANDING = {str(self.root / 'landing')!r}\n\n"
        )
        (self.root / f"{name}.py").write_text(header + body)
        self.monkeypatch.delitem(sys.modules, name, raising=False)
        write_mesh(self.root, {"hr": {"people": PEOPLE}, "ads": {"sneaky": self._spec(name)}})
        return name

    @staticmethod
    def _spec(module: str) -> str:
        return SNEAKY.replace("MODULE", module)

    def run_ads(self) -> pl.DataFrame:
        """Materialize ads.sneaky as its code location would (its lakehouse bound to ads)."""
        loaded = load_mesh(self.root)
        key = ("ads", "sneaky")
        ads = Lakehouse(
            root=str(self.root / "lake"), landing_root=str(self.root / "landing"), domain="ads"
        )
        done = materialize_product(loaded.products[key].spec, loaded.plans[key], ads)
        frame = pl.from_arrow(done.table)
        assert isinstance(frame, pl.DataFrame)
        return frame

    def refused(self, body: str) -> StepRefused:
        """Run a step that must be refused; check nothing was written anywhere."""
        self.module(body)
        with pytest.raises(StepRefused) as caught:
            self.run_ads()
        assert isinstance(caught.value, StepFailed)  # the domain's business-logic error
        assert DeltaTable(str(self.people)).version() == self.version
        assert pl.read_delta(str(self.people)).sort("id").equals(ROWS)
        assert not (self.root / "lake" / "ads").exists()
        return caught.value


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Shop:
    return Shop(tmp_path, monkeypatch)


def _says(error: Exception, action: str, target: str | Path) -> None:
    assert str(error).startswith(
        f"the Python step 'step_2' of product 'ads.sneaky' tried to {action} {target}: {WHY}"
    ), str(error)


def test_opening_a_delta_file_of_another_domain_is_refused(shop: Shop) -> None:
    error = shop.refused("def step(frame):\n    open(LOG).read()\n    return frame\n")
    _says(error, "read", shop.people / "_delta_log" / "00000000000000000000.json")


@pytest.mark.parametrize(
    "reading",
    [
        "read = pl.read_delta\n    return read(PEOPLE)",
        "table = getattr(importlib.import_module('deltalake'), 'DeltaTable')(PEOPLE)\n"
        "    return pl.from_arrow(table.to_pyarrow_table())",
    ],
    ids=["read_delta", "DeltaTable"],
)
def test_reading_a_delta_table_of_the_lake_is_refused(shop: Shop, reading: str) -> None:
    error = shop.refused(f"def step(frame):\n    {reading}\n")
    assert str(error).startswith(
        f"the Python step 'step_2' of product 'ads.sneaky' tried to read {shop.people}"
    ), str(error)
    assert WHY in str(error)


def test_appending_to_another_domains_table_is_refused_and_writes_nothing(shop: Shop) -> None:
    body = (
        "def step(frame):\n"
        "    write = getattr(importlib.import_module('deltalake'), 'write_deltalake')\n"
        "    write(PEOPLE, frame.collect().to_arrow(), mode='append')\n"
        "    return frame\n"
    )
    error = shop.refused(body)
    assert str(error).startswith(
        f"the Python step 'step_2' of product 'ads.sneaky' tried to write {shop.people}"
    ), str(error)
    assert pl.read_delta(str(shop.people)).height == ROWS.height


def test_a_tcp_connection_is_refused(shop: Shop) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    try:
        body = (
            "def step(frame):\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=5).close()\n"
            "    return frame\n"
        )
        error = shop.refused(body)
        _says(error, "connect to", f"127.0.0.1:{port}")
        with pytest.raises(BlockingIOError):  # nothing ever connected
            listener.accept()
    finally:
        listener.close()


@pytest.mark.parametrize(
    "reading", ["os.listdir(LANDING)", "open(LANDING + '/people.parquet', 'rb').read()"]
)
def test_reading_the_landing_folder_is_refused(shop: Shop, reading: str) -> None:
    error = shop.refused(f"import os\n\ndef step(frame):\n    {reading}\n    return frame\n")
    target = shop.root / "landing" / ("people.parquet" if "open" in reading else "")
    _says(error, "read", str(target).rstrip("/"))


def test_a_module_reading_the_lake_when_imported_is_refused(shop: Shop) -> None:
    # The load imports the module in the sandbox too (compile/step_modules.py): refused there,
    # naming the module's file; the run's own import (call_python) is refused the same way.
    body = "SECRET = open(LOG).read()\n\ndef step(frame):\n    return frame\n"
    name = shop.module(body)
    log = shop.people / "_delta_log" / "00000000000000000000.json"
    with pytest.raises(SpecError) as at_load:
        shop.run_ads()
    assert f"tried to read {log}" in str(at_load.value)
    assert f"{shop.root / name}.py:10" in str(at_load.value)  # the line of the read
    with pytest.raises(StepRefused) as caught:
        call_python(f"{name}:step", ROWS.lazy(), dict, step="step_2", product="ads.sneaky")
    _says(caught.value, "read", log)
    assert not (shop.root / "lake" / "ads").exists()


def test_a_refusal_in_a_dagster_run_names_the_product_and_step(shop: Shop) -> None:
    shop.module("def step(frame):\n    open(LOG).read()\n    return frame\n")
    assets = [
        a
        for a in location_definitions(shop.root, "ads").assets or []
        if isinstance(a, dg.AssetsDefinition)
    ]
    ads = Lakehouse(
        root=str(shop.root / "lake"), landing_root=str(shop.root / "landing"), domain="ads"
    )
    catalog = CatalogResource(url=f"sqlite:///{shop.root / 'catalog.db'}")
    result = dg.materialize(
        assets, resources={"lakehouse": ads, "catalog": catalog}, raise_on_error=False
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert "the Python step 'step_2' of product 'ads.sneaky' tried to read" in failure.message
    assert DeltaTable(str(shop.people)).version() == shop.version


def test_an_exception_in_a_step_is_reported_as_before(shop: Shop) -> None:
    shop.module("def step(frame):\n    raise ValueError('no city may be Rome')\n")
    with pytest.raises(StepFailed) as caught:
        shop.run_ads()
    assert not isinstance(caught.value, StepRefused)
    assert str(caught.value) == "step 'step_2' (python) failed: ValueError: no city may be Rome"
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_step_process_killed_is_the_platforms_failure_and_the_next_step_runs(
    shop: Shop,
) -> None:
    shop.module("import os\n\ndef step(frame):\n    os.kill(os.getpid(), 9)\n")
    with pytest.raises(EngineFailure, match="sandboxed process was killed by signal 9"):
        shop.run_ads()
    zygote = client._CURRENT
    assert zygote is not None
    zygote.process.kill()  # a zygote that is gone is replaced by the next step
    zygote.process.wait()
    shop.module("def step(frame):\n    return frame\n")
    assert shop.run_ads().sort("id").equals(ROWS)


def test_an_honest_step_gives_the_same_result_as_in_process(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "def step(frame, inputs):\n"
        "    people = inputs['people'].collect()\n"
        "    return frame.join(people.lazy(), on='id').with_columns(\n"
        "        pl.col('city').str.to_uppercase().alias('loud'), (pl.col('id') * 1.5).alias('x')\n"
        "    ).sort('id')\n"
    )
    shop.module(body)
    sandboxed = shop.run_ads()
    monkeypatch.setenv("MESH_SANDBOX", "off")
    assert sandboxed.equals(shop.run_ads())
    assert sandboxed["loud"].to_list() == ["PARIS", "ROME"]


def test_the_demo_python_product_gives_the_same_result_as_in_process(
    materialized_mesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = ("marketing", "nation_reach")
    spec = materialized_mesh.mesh.products[key].spec
    plan = materialized_mesh.mesh.plans[key]
    lake = Lakehouse(
        root=str(materialized_mesh.lake_root), landing_root=str(materialized_mesh.landing_root)
    )
    inputs = {port: lake.dataset(ref) for port, ref in spec.input_refs().items()}
    sandboxed = DuckDBEngine(threads=1).run(plan, inputs).table
    monkeypatch.setenv("MESH_SANDBOX", "off")
    in_process = DuckDBEngine(threads=1).run(plan, inputs).table
    assert sandboxed.num_rows > 0
    assert sandboxed.equals(in_process)
    stored = materialized_mesh.read("marketing.nation_reach").sort("nation")
    fresh = pl.DataFrame(sandboxed).sort("nation")
    assert stored["revenue_share_pct"].to_list() == fresh["revenue_share_pct"].to_list()


def test_without_landlock_python_steps_fail_closed_unless_the_sandbox_is_off(
    shop: Shop, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    name = shop.module("def step(frame):\n    open(LOG).read()\n    return frame\n")
    frame = ROWS.lazy()
    monkeypatch.setattr(landlock, "abi", lambda: 3)
    with pytest.raises(SandboxUnavailable) as caught:
        call_python(f"{name}:step", frame, dict, step="s")
    assert isinstance(caught.value, PlatformError)
    assert "Landlock ABI >= 4" in str(caught.value) and "ABI is 3" in str(caught.value)
    assert "MESH_SANDBOX=off" in str(caught.value)
    # Off (a development machine): the step runs in this process, lake in reach, with a warning.
    monkeypatch.setenv("MESH_SANDBOX", "off")
    monkeypatch.setattr(python_steps._warn_unsandboxed, "done", False, raising=False)
    with caplog.at_level(logging.WARNING, logger="mesh_platform.engine.python_steps"):
        assert call_python(f"{name}:step", frame, dict, step="s").equals(ROWS)
    assert "MESH_SANDBOX=off: Python steps run in this process, unsandboxed" in caplog.text
    monkeypatch.setenv("MESH_SANDBOX", "sometimes")
    with pytest.raises(PlatformError, match="MESH_SANDBOX='sometimes' is not a sandbox"):
        call_python(f"{name}:step", frame, dict, step="s")


def test_the_zygote_runs_no_polars_work_and_has_a_minimal_environment(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.shutdown()
    monkeypatch.setattr(client, "IDLE_SECONDS", 60.0)  # alive until the checks are done
    shop.module(
        "def step(frame):\n"
        "    return frame.with_columns(pl.col('city').str.len_chars().alias('n')).collect()\n"
    )
    for _ in range(2):
        assert shop.run_ads()["n"].to_list() == [5, 4]
    zygote = client._CURRENT
    assert zygote is not None and zygote.alive()
    pid = zygote.process.pid
    threads = [Path(t, "comm").read_text().strip() for t in Path(f"/proc/{pid}/task").iterdir()]
    # Import-time threads only (jemalloc, polars' spill cleaner): no pool thread ever ran.
    assert not [t for t in threads if t.startswith("polars-") and t[7:].isdigit()], threads
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    assert not [e for e in environ if e.startswith((b"MESH_", b"PYTEST", b"DAGSTER"))]
    fds = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
    assert len(fds) <= 6, fds  # stdio, the control socket, the wake-up pipe
    client.shutdown()
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
