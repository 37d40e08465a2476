"""Domain code beyond Python steps runs in the sandbox: a product module and a step module
are imported there (at load: `mesh validate`, `mesh list`, a code location), and each call of
a template hook runs there (in the run). A module that reads the lake when imported is refused
with its file named, and no value it read reaches the output; a hook that reads the lake or
opens a socket fails the run naming the hook and the product; an honest hook still works.
"""

from __future__ import annotations

import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable, write_deltalake

from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader import mesh as loader_mesh
from mesh_platform.loader import planner_for
from mesh_platform.run.failures import BUSINESS_LOGIC, FAILURE_CLASS, FAILURE_STEP
from mesh_platform.sandbox import client
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.mini_mesh import domain_assets, local_lakehouse, write_mesh

# shop.orders in the lake: its amounts add up to a value nobody outside shop may see.
AMOUNTS = [1234.25, 6543.25]
SECRET = "7777.5"  # sum(AMOUNTS), the value a leaking module would print
assert str(sum(AMOUNTS)) == SECRET
LEAKY_PRODUCT = """\
import polars as pl

from mesh_platform import ProductSpec, SqlStep

TOTAL = pl.read_delta(ORDERS)["amount"].sum()

product = ProductSpec(
    domain="ads",
    name="leaky",
    description=f"Ads, for a shop that sold {TOTAL} in all.",
    inputs={"orders": "shop.orders"},
    steps=(SqlStep(sql="SELECT id FROM orders"),),
)
"""
LEAKY_STEPS = """\
import polars as pl

TOTAL = getattr(pl, "read_" + "delta")(ORDERS)["amount"].sum()  # past the load check


def step(frame):
    return frame
"""
STEPPED = """\
name: stepped
description: Ads through a Python step.
inputs: {orders: shop.orders}
steps:
  - sql: SELECT id FROM orders
  - python: domains.ads.leaky_steps:step
"""


@pytest.fixture(scope="module", autouse=True)
def _zygote_stops_with_the_module() -> Iterator[None]:
    yield
    client.shutdown()


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    """shop.orders written to the lake; ads, a domain whose products/ is a package."""
    with cli_mesh(tmp_path, {"shop": {"orders": ORDERS}, "ads": {}}, monkeypatch) as built:
        (tmp_path / "domains" / "ads" / "products" / "__init__.py").write_text("")
        table = pa.table({"id": pa.array([1, 2], pa.int64()), "amount": AMOUNTS})
        write_deltalake(str(built.lake("shop.orders")), table)
        yield built


def _a_new_process() -> None:
    """Forget the loads this process cached, as a new `mesh` process would."""
    loader_mesh._load_cached.cache_clear()
    loader_mesh._specs_cached.cache_clear()
    planner_for.cache_clear()


def _with_orders(text: str, mesh: CliMesh) -> str:
    return text.replace("ORDERS)", f"{str(mesh.lake('shop.orders'))!r})")


def test_a_product_module_reading_the_lake_at_import_is_refused(
    mesh: CliMesh, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = mesh.root / "domains" / "ads" / "products" / "leaky.py"
    path.write_text(_with_orders(LEAKY_PRODUCT, mesh))
    validated = mesh.run("validate")
    assert validated.exit_code == 1
    assert f"{path}:5: the product module tried to read {mesh.lake('shop.orders')}" in (
        validated.output
    )
    assert "product modules are imported in a sandbox" in validated.output
    listed = mesh.run("list")
    for output in (validated.output, listed.output):
        assert SECRET not in output
    # The premise: imported in the CLI's own process, the module leaks the value into `list`.
    monkeypatch.setenv("MESH_SANDBOX", "off")
    _a_new_process()
    assert SECRET in mesh.run("list").output


def test_a_step_module_reading_the_lake_at_import_is_refused_at_validate(mesh: CliMesh) -> None:
    (mesh.root / "domains" / "ads" / "products" / "stepped.yaml").write_text(STEPPED)
    module = mesh.root / "domains" / "ads" / "leaky_steps.py"
    module.write_text(_with_orders(LEAKY_STEPS, mesh))
    validated = mesh.run("validate")
    assert validated.exit_code == 1, validated.output
    assert "python step 'step_2': module 'domains.ads.leaky_steps' does not import" in (
        validated.output
    )
    assert f"it tried to read {mesh.lake('shop.orders')}" in validated.output
    assert f"({module}:3)" in validated.output  # the module's line that read
    assert SECRET not in validated.output


EVENTS = """\
name: events
description: Landing copy of events.
source: {landing: events}
columns:
  - {name: id, type: bigint}
"""
HOOKS = """\
import socket

from mesh_platform.spec.model import ProductSpec

LAKE = LAKE_ROOT


def honest(event, spec, facts):
    if not isinstance(spec, ProductSpec) or facts["product"] != spec.qualified_name:
        raise TypeError(f"unexpected arguments: {type(spec).__name__}, {facts}")
    if event not in ("start", "success", "failure"):
        raise ValueError(event)
    return {"seen": event}


def reads_the_lake(event, spec, facts):
    if event == "success":
        open(f"{LAKE}/shop/events/_delta_log/00000000000000000000.json").read()


def calls_home(event, spec, facts):
    socket.create_connection(("127.0.0.1", PORT), timeout=2)


def raises(event, spec, facts):
    raise ValueError("the hook's own bug")
"""


def _shop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: str, port: int = 9
) -> tuple[str, list[dg.AssetsDefinition], Lakehouse]:
    """The domain shop (events from a landing file) with the hook `hook` of a module written
    for the test (`LAKE`: this test's lake; `PORT`: where `calls_home` calls)."""
    name = f"shop_hooks_{uuid.uuid4().hex[:8]}"
    text = HOOKS.replace("LAKE_ROOT", repr(str(tmp_path / "lake"))).replace("PORT", str(port))
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    root = write_mesh(
        tmp_path / "mesh",
        {"shop": {"events": EVENTS}},
        domain_extra=f"template_hooks: ['{name}:{hook}']\n",
    )
    lakehouse = local_lakehouse(tmp_path)
    pq.write_table(
        pa.table({"id": pa.array([1, 2], pa.int64())}), tmp_path / "landing/events.parquet"
    )
    return name, domain_assets(root, "shop"), lakehouse


def _materialize(
    tmp_path: Path, assets: list[dg.AssetsDefinition], lakehouse: Lakehouse
) -> dg.ExecuteInProcessResult:
    catalog = CatalogResource(url=f"sqlite:///{tmp_path / 'catalog.db'}")
    return dg.materialize(
        assets, resources={"lakehouse": lakehouse, "catalog": catalog}, raise_on_error=False
    )


def _failure(result: dg.ExecuteInProcessResult) -> tuple[str, dict[str, object]]:
    event = next(e for e in result.all_events if e.is_step_failure)
    data = event.step_failure_data.user_failure_data
    assert data is not None
    return str(data.description), {k: v.value for k, v in data.metadata.items()}


def test_an_honest_hook_runs_in_the_sandbox_and_the_run_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, assets, lakehouse = _shop(tmp_path, monkeypatch, "honest")
    result = _materialize(tmp_path, assets, lakehouse)
    assert result.success
    table = DeltaTable(str(tmp_path / "lake" / "shop" / "events")).to_pyarrow_table()
    assert sorted(table.column("id").to_pylist()) == [1, 2]


def test_a_hook_reading_the_lake_fails_the_run_naming_hook_and_product(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, assets, lakehouse = _shop(tmp_path, monkeypatch, "reads_the_lake")
    result = _materialize(tmp_path, assets, lakehouse)
    assert not result.success
    description, metadata = _failure(result)
    log = tmp_path / "lake" / "shop" / "events" / "_delta_log" / "00000000000000000000.json"
    assert (
        f"the template hook '{name}:reads_the_lake' (success) of product 'shop.events' tried "
        f"to read {log}: template hooks run in a sandbox that cannot read the lake"
    ) in description
    assert metadata[FAILURE_CLASS] == BUSINESS_LOGIC
    assert metadata[FAILURE_STEP] == f"hook:{name}:reads_the_lake"


def test_a_hook_opening_a_socket_fails_the_run_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    try:
        port = listener.getsockname()[1]
        name, assets, lakehouse = _shop(tmp_path, monkeypatch, "calls_home", port)
        result = _materialize(tmp_path, assets, lakehouse)
        with pytest.raises(TimeoutError):
            listener.accept()  # nobody called
    finally:
        listener.close()
    assert not result.success
    description, _ = _failure(result)
    assert (
        f"the template hook '{name}:calls_home' (start) of product 'shop.events' tried to connect "
        f"to 127.0.0.1:{port}: template hooks run in a sandbox"
    ) in description
    assert not (tmp_path / "lake" / "shop" / "events").exists()


def test_a_failing_hook_fails_the_run_as_the_domains_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name, assets, lakehouse = _shop(tmp_path, monkeypatch, "raises")
    result = _materialize(tmp_path, assets, lakehouse)
    assert not result.success
    description, metadata = _failure(result)
    assert (
        f"the template hook '{name}:raises' (start) of product 'shop.events' failed: "
        "ValueError: the hook's own bug"
    ) in description
    assert metadata[FAILURE_CLASS] == BUSINESS_LOGIC
