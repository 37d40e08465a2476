"""`mesh materialize`: several targets and Dagster's selection syntax, missing upstream built
first, each failure one block (class, cause, spec line, count and sample, run), an honest
summary. Real Dagster runs in a fresh instance, real Delta tables."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from mesh_platform.cli import main
from mesh_platform.dagster.selection import SelectionError, select
from mesh_platform.loader.mesh import Mesh
from mesh_platform.ops.routing import facts_from_event
from mesh_platform.run.failures import BUSINESS_LOGIC, tells_platform
from tests.cli_mesh import ORDERS, cli_mesh

TOTALS = """\
name: totals
description: Order amounts, which are never negative.
visibility: published
inputs: {orders: shop.orders}
steps:
  - sql: SELECT id, amount FROM orders
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
quality:
  - {rule: not_null, column: id}
  - {rule: between, column: amount, min: 0}
"""

REPORT = """\
name: report
description: How many orders.
inputs: {totals: totals}
steps:
  - sql: SELECT count(*) AS orders FROM totals
"""

SUMMARY = """\
name: summary
description: The books' totals, audited.
inputs: {totals: books.totals}
steps:
  - sql: SELECT sum(amount) AS amount FROM totals
"""

MESH = {
    "shop": {"orders": ORDERS},
    "books": {"totals": TOTALS, "report": REPORT},
    "audit": {"summary": SUMMARY},
}


def _keys(mesh: Mesh, *targets: str) -> list[str]:
    return [".".join(k) for k in select(mesh, list(targets))]


def test_several_targets_and_selections_select_the_right_products() -> None:
    mesh = Mesh.load()
    sales = [".".join(s.spec.key) for s in mesh.of_domain("sales")]
    assert sorted(_keys(mesh, "sales", "finance.revenue_by_region")) == sorted(
        [*sales, "finance.revenue_by_region"]
    )
    assert sorted(_keys(mesh, 'key:"sales/*"')) == sorted(sales)
    upstream = _keys(mesh, '+key:"sales/customer_revenue"')
    assert upstream[-1] == "sales.customer_revenue"  # dependency order: the target last
    assert {"platform.silver_orders", "platform.bronze_orders"} <= set(upstream)
    assert _keys(mesh, "+sales.customer_revenue") == upstream  # DOMAIN.PRODUCT in a selection
    assert _keys(mesh, "sales/customer_revenue+")[0] == "sales.customer_revenue"
    assert "marketing.customer_segments" in _keys(mesh, "sales/customer_revenue+")
    published = {".".join(k) for k, s in mesh.products.items() if s.spec.visibility == "published"}
    assert set(_keys(mesh, "tag:visibility=published")) == published
    assert set(_keys(mesh, 'owner:"team:sales-analytics"')) == set(sales)
    assert set(_keys(mesh, "group:finance")) == {
        ".".join(s.spec.key) for s in mesh.of_domain("finance")
    }
    assert _keys(mesh, 'key:"sales/customer_revenue" or group:sales') == _keys(mesh, "sales")
    assert _keys(mesh) == [".".join(k) for k in mesh.order]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("sales.custmer_revenue", "did you mean 'sales.customer_revenue'"),
        ("sale", "did you mean 'sales'"),
        ("customer_revenue", "did you mean 'sales.customer_revenue'"),
        ('key:"sales/custmer_revenue"', "selects no product; did you mean"),
        ("tag:nothing=here", "selects no product"),
        ("((", "is not a domain, a product or a Dagster asset selection"),
    ],
)
def test_an_unknown_target_is_a_clean_error_with_close_matches(
    target: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(SelectionError) as caught:
        select(Mesh.load(), [target])
    assert message in str(caught.value)
    env = {"MESH_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dagster")}
    result = CliRunner().invoke(main, ["materialize", "sales", target], env=env)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert "materialized" not in result.output  # nothing ran


def test_missing_upstream_of_other_domains_is_built_first_and_announced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_mesh(tmp_path, MESH, monkeypatch) as mesh:
        mesh.land("orders", {"id": [1, 2, 3], "amount": [10.0, 5.0, 7.5]})
        result = mesh.run("materialize", "audit")
        assert result.exit_code == 0, result.output
        lines = result.stdout.splitlines()
        assert lines[0] == "also materializing upstream: shop.orders, books.totals (no table yet)"
        assert [line.split(" -> ")[0] for line in lines[1:4]] == [
            "[1/3] shop: orders",
            "[2/3] books: totals",
            "[3/3] audit: summary",
        ]
        assert lines[-1].startswith("materialized 3 of 3 products in ")
        for product in ("shop.orders", "books.totals", "audit.summary"):
            assert (mesh.lake(product) / "_delta_log").is_dir(), product
        assert not mesh.lake("books.report").exists()  # not needed by the target: not built
        # Now that the inputs have tables, only the target runs.
        again = mesh.run("materialize", "audit.summary", "--json")
        assert again.exit_code == 0, again.output
        assert "also materializing" not in again.output
        assert '"materialized": 1' in again.stdout


def test_a_failing_rule_is_one_block_and_the_summary_counts_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with cli_mesh(tmp_path, MESH, monkeypatch) as mesh:
        mesh.land("orders", {"id": [1, 2, 3, 4], "amount": [10.0, -5.0, 7.5, -1.25]})
        result = mesh.run("materialize", "books", "audit")
        assert result.exit_code == 1, result.output
        spec = tmp_path / "domains/books/products/totals.yaml"
        rule_line = TOTALS.splitlines().index("  - {rule: between, column: amount, min: 0}") + 1
        block = result.stderr[result.stderr.index("books.totals failed") :]
        assert block.startswith(
            "books.totals failed (business_logic): between_amount: 2 failing (50.0%) of 4 rows"
        ), block
        assert "-5.0" in block.splitlines()[0] and "-1.25" in block.splitlines()[0]  # sample
        assert "  step:  quality:between_amount" in block
        assert f"  spec:  {spec}:{rule_line}" in block
        assert "  owner: the books domain" in block
        run_url = next(line for line in block.splitlines() if line.startswith("  run:   "))
        assert run_url.startswith("  run:   http://127.0.0.1:3000/runs/")
        assert "skipped (an input failed in this run): books.report" in result.stderr
        assert "audit.summary -> not run: its input books.totals was not materialized" in (
            result.stderr
        )
        assert result.stdout.splitlines()[-1].startswith("materialized 1 of 4 products in "), (
            result.stdout
        )
        assert result.stdout.splitlines()[-1].endswith("; 1 failed; 2 not run")
        assert "Traceback" not in result.output and "Stack Trace" not in result.output
        assert not mesh.lake("books.totals").exists()  # nothing written
        # The run in the instance is the one the block links to.
        run_id = run_url.rsplit("/", 1)[1]
        with dg.DagsterInstance.from_config(str(mesh.home / "dagster")) as instance:
            run = instance.get_run_by_id(run_id)
            assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        # The same, as JSON (stdout is the document alone); --verbose adds Dagster's log.
        as_json = mesh.run("materialize", "books", "--json")
        assert as_json.exit_code == 1
        report = json.loads(as_json.stdout)
        assert (report["products"], report["materialized"]) == (2, 0)
        (failure,) = report["failures"]
        assert failure["product"] == "books.totals" and failure["line"] == rule_line
        assert failure["class"] == "business_logic" and "2 failing" in failure["cause"]
        assert report["not_run"] == [
            {"product": "books.report", "reason": "an input failed in this run"}
        ]
        verbose = mesh.run("materialize", "books.totals", "--verbose")
        assert verbose.exit_code == 1 and "Stack Trace" in verbose.output


def test_a_missing_upstream_is_the_consuming_domains_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mesh_platform.dagster.orchestration import materialize_selection

    with cli_mesh(tmp_path, MESH, monkeypatch) as mesh:
        for name, value in mesh.env.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value)
        loaded = Mesh.load(tmp_path)
        with dg.DagsterInstance.from_config(str(mesh.home / "dagster")) as instance:
            # What a run launched from the UI or by automation does: no upstream first.
            (summary,) = materialize_selection(
                loaded,
                [("books", "totals")],
                instance,
                raise_on_failure=False,
                log_level="CRITICAL",
            )
            assert not summary.success and summary.materialized == ()
            (failure,) = summary.failures
            assert failure.failure_class == BUSINESS_LOGIC
            assert failure.step == "input:orders"
            assert "reads shop.orders, which has no table yet" in failure.cause
            assert "`mesh materialize shop.orders`" in failure.guidance
            assert failure.owner() == "the books domain"
            spec = tmp_path / "domains/books/products/totals.yaml"
            assert (failure.file, failure.line) == (
                spec,
                TOTALS.splitlines().index("inputs: {orders: shop.orders}") + 1,
            )
            # Failure routing reads the same class: the domain's problem, not the platform's.
            (event,) = [
                r.event_log_entry.dagster_event
                for r in instance.get_records_for_run(
                    summary.run_id, of_type=dg.DagsterEventType.STEP_FAILURE
                ).records
            ]
            assert event is not None
            facts = facts_from_event(event, loaded)
            assert facts.failure_class == BUSINESS_LOGIC
            assert not tells_platform(facts.failure_class, facts.failed_step)
            assert tells_platform(BUSINESS_LOGIC, "quality:between_amount")


def test_a_failure_points_at_the_spec_line_it_is_about(tmp_path: Path) -> None:
    from mesh_platform.run.failures import spec_location
    from tests.mini_mesh import write_mesh

    root = write_mesh(tmp_path, {"shop": {"orders": ORDERS}, "books": {"totals": TOTALS}})
    source = Mesh.load(root).products[("books", "totals")]
    lines = TOTALS.splitlines()

    def line_of(text: str) -> int:
        return lines.index(text) + 1

    assert spec_location(source, "step_1") == (source.path, line_of("steps:") + 1)
    assert spec_location(source, "input:orders")[1] == line_of("inputs: {orders: shop.orders}")
    assert spec_location(source, "quality:not_null_id")[1] == line_of(
        "  - {rule: not_null, column: id}"
    )
    assert spec_location(source, "")[1] == line_of("columns:")  # the contract
