"""`mesh grants --dialect databricks`: the access policy as Unity Catalog GRANTs and column
masks, matching a reviewed snapshot, and masking as the engine masks on read."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import sqlglot
from click.testing import CliRunner

from mesh_platform.access.grants import databricks_grants, mask_expression
from mesh_platform.access.policy import access_policy
from mesh_platform.cli import main
from mesh_platform.compile.contracts import contract_of
from mesh_platform.engine import get_engine
from mesh_platform.loader.mesh import load_mesh
from tests.mini_mesh import write_mesh

SNAPSHOT = Path(__file__).parent / "snapshots" / "grants_platform_silver_customer.databricks.sql"


def test_the_grants_of_a_product_match_the_reviewed_snapshot() -> None:
    result = CliRunner().invoke(
        main, ["grants", "platform.silver_customer", "--dialect", "databricks"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == SNAPSHOT.read_text()
    # What the review checked, said again so that a changed snapshot is read with it:
    sql = result.output
    assert "GRANT SELECT, MODIFY ON TABLE mesh.platform.silver_customer TO `data-platform`;" in sql
    assert "MODIFY ON TABLE mesh.platform.silver_customer TO `sales" not in sql  # read-only
    for column in ("c_name", "c_address", "c_phone"):  # the PII columns, and only those
        assert f"ALTER COLUMN {column} SET MASK" in sql
    assert sql.count("SET MASK") == 3
    # finance has no `pii` clearance: it gets the mask; sales and marketing see clear values.
    assert (
        "WHEN is_account_group_member('finance-analytics') THEN concat(left(value, 1), '***')"
        in sql
    )


def test_json_lists_the_statements_of_every_product() -> None:
    result = CliRunner().invoke(main, ["grants", "--json", "--catalog", "lakehouse"])
    assert result.exit_code == 0, result.output
    exports = {e["product"]: e for e in json.loads(result.output)}
    assert "sales.customer_revenue" in exports and "platform.bronze_customer" in exports
    internal = exports["platform.bronze_customer"]["statements"]
    # An internal product is granted to its own domain only.
    assert [s for s in internal if s.startswith("GRANT SELECT")] == [
        "GRANT SELECT, MODIFY ON TABLE lakehouse.platform.bronze_customer TO `data-platform`;"
    ]


def test_an_unknown_product_is_one_clean_error() -> None:
    result = CliRunner().invoke(main, ["grants", "sales.nope"])
    assert result.exit_code == 1 and "no product 'sales.nope'" in result.output
    assert "Traceback" not in result.output


def test_the_exported_mask_computes_what_the_engine_masks_on_read() -> None:
    rule = access_policy().column_rules(["pii"])[0]
    databricks = mask_expression(rule.mask, "string", "p", "c")
    duck = sqlglot.transpile(databricks, read="databricks", write="duckdb")[0]
    values = ["Customer#000000001", "IVhzIApeRb ot,c,E", "25-989-741-2988", "x", ""]
    con = duckdb.connect()
    exported = [
        con.execute(f"SELECT {duck} FROM (SELECT ? AS value)", [v]).fetchone()[0] for v in values
    ]
    engine = get_engine(None).query(
        "SELECT mask_redact(value, 1) AS v FROM t", {"t": pa.table({"value": values})}
    )
    assert exported == engine.column("v").to_pylist() == [v[:1] + "***" for v in values]


def test_a_hidden_product_is_not_granted_and_hidden_columns_read_null(tmp_path: Path) -> None:
    people = (
        "name: NAME\ndescription: x\nvisibility: published\nTAGSsource: {landing: people}\n"
        "columns:\n  - {name: id, type: bigint}\n  - {name: salary, type: double, tags: [secret]}\n"
    )
    restricted = people.replace("NAME", "payroll").replace(
        "TAGS", "tags: {sensitivity: restricted}\n"
    )
    staff = people.replace("NAME", "staff").replace("TAGS", "")
    mesh = load_mesh(
        write_mesh(tmp_path, {"hr": {"payroll": restricted, "staff": staff}, "ads": {}})
    )
    domains = [d.spec for d in mesh.domains.values()]

    def grants(name: str) -> str:
        source = mesh.products[("hr", name)]
        return databricks_grants(contract_of(source), domains, spec_tags=source.spec.tags).text()

    payroll = grants("payroll")
    assert "-- ads (ads-team): not granted (tag 'sensitivity=restricted'" in payroll
    assert "TO `ads-team`" not in payroll and "SET MASK" not in payroll  # only the owner reads
    staff_sql = grants("staff")
    assert "GRANT SELECT ON TABLE mesh.hr.staff TO `ads-team`;" in staff_sql
    # `secret` is hidden from domains without the clearance: clear for the owner, NULL else.
    assert "WHEN is_account_group_member('hr-team') THEN value\n    ELSE CAST(NULL AS DOUBLE)" in (
        staff_sql
    )
    assert "ALTER TABLE mesh.hr.staff ALTER COLUMN salary SET MASK mesh.hr.staff_salary_mask;" in (
        staff_sql
    )
