"""Issue 17, item 2: a run whose inputs wait for a decision is an access wait, not a failure of
the product: `mesh materialize` says, one block per input, who decides and the command they
run; no contract check result is recorded (nothing for quality scores or the contract pass
rate), and no alert is drafted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from mesh_platform.access.enforcement import AccessWait
from mesh_platform.loader.mesh import MeshSpecs
from mesh_platform.notify import Notifier
from mesh_platform.ops.routing import facts_from_event, route_run_failure
from mesh_platform.run.failures import BUSINESS_LOGIC, classify, tells_platform
from mesh_platform.spec.model import ProductSpec, SqlStep
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.test_instant_approval import PEOPLE

NAMED = """\
name: named
description: Amounts by name.
inputs: {orders: shop.orders, people: shop.people, parts: parts.list}
steps:
  - sql: SELECT o.id, p.name, o.amount, l.part FROM orders o JOIN people p ON o.id = p.id
      JOIN parts l ON l.id = o.id
"""
PARTS = """\
name: list
description: Parts.
visibility: published
source: {landing: parts}
columns:
  - {name: id, type: bigint}
  - {name: part, type: string}
"""


@pytest.fixture
def mesh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliMesh]:
    products = {
        "shop": {"orders": ORDERS, "people": PEOPLE},
        "parts": {"list": PARTS},
        "books": {"named": NAMED},
    }
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        monkeypatch.setenv("MESH_CATALOG_URL", f"sqlite:///{mesh.home / 'catalog.db'}")
        (tmp_path / "subscriptions.yaml").write_text("approved: []\nlanding: [shop, parts]\n")
        mesh.land("orders", {"id": [1], "amount": [1.5]})
        mesh.land("people", {"id": [1], "name": ["Ada"]})
        mesh.land("parts", {"id": [1], "part": ["bolt"]})
        yield mesh


def _check_evaluations(home: Path) -> list[dg.AssetCheckEvaluation]:
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    found = []
    for run in instance.get_runs():
        for event in instance.all_logs(run.run_id):
            data = event.get_dagster_event() if event.is_dagster_event else None
            evaluation = data.event_specific_data if data is not None else None
            if isinstance(evaluation, dg.AssetCheckEvaluation):
                found.append(evaluation)
    return found


def test_a_waiting_input_is_an_access_wait_with_one_block_per_input(mesh: CliMesh) -> None:
    # validate approves shop.orders and parts.list (no sensitive tag), routes shop.people.
    assert mesh.run("validate").exit_code == 0
    for upstream in ("shop.orders", "shop.people", "parts.list"):
        assert mesh.run("materialize", upstream).exit_code == 0
    run = mesh.run("materialize", "books.named")
    assert run.exit_code != 0
    out = run.output
    assert "books.named waits for access to 1 input(s) of other domains:" in out
    assert "books may not read shop.people: subscription 2 is requested" in out
    assert "who decides: the platform team" in out
    assert 'they run: mesh approve 2 --by THEIR-NAME --reason "..."' in out
    assert "shop.orders" not in out.split("waits for access", 1)[1].split("fix:")[0].replace(
        "shop.people", ""
    )  # the approved input has no block
    # Not a contract or quality failure.
    assert "breaks its own contract" not in out
    assert "failed (business_logic)" not in out
    assert "None row(s)" not in out
    evaluations = _check_evaluations(mesh.home)
    assert any(e.asset_key.path[-1] == "orders" for e in evaluations)  # the upstream runs' checks
    named = [e for e in evaluations if e.asset_key.path[-1] == "named"]
    assert named == []  # no contract check result: quality scores and pass rate untouched
    assert not mesh.lake("books.named").exists()


def test_an_access_wait_is_classified_apart_and_alerts_nobody(mesh: CliMesh) -> None:
    found = classify(AccessWait("books", "books.named", {"shop.people": "b1"}), _spec())
    assert found.failure_class == BUSINESS_LOGIC and found.step == "access:shop.people"
    assert not tells_platform(found.failure_class, found.step)
    assert mesh.run("validate").exit_code == 0
    for upstream in ("shop.orders", "shop.people", "parts.list"):
        assert mesh.run("materialize", upstream).exit_code == 0
    assert mesh.run("materialize", "books.named").exit_code != 0
    # The run failure sensor's routing, on the real failed run: no alert at all.
    instance = dg.DagsterInstance.from_config(str(mesh.home / "dagster"))
    (run,) = [r for r in instance.get_runs() if r.status == dg.DagsterRunStatus.FAILURE]
    failures = [
        e.get_dagster_event()
        for e in instance.all_logs(run.run_id)
        if e.is_dagster_event and e.get_dagster_event().is_step_failure
    ]
    assert [facts_from_event(e, MeshSpecs.load(mesh.root)).failed_step for e in failures] == [
        "access:shop.people"
    ]
    notifier = Notifier(catalog_url=f"sqlite:///{mesh.home / 'catalog.db'}")
    assert route_run_failure(run, failures, notifier, MeshSpecs.load(mesh.root)) == []


def _spec() -> ProductSpec:
    return ProductSpec(
        domain="books",
        description="Amounts by name.",
        name="named",
        inputs={"people": "shop.people"},
        steps=[SqlStep(sql="SELECT * FROM people")],
    )
