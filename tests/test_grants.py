"""`mesh grants --dialect databricks`: the access policy as Unity Catalog GRANTs, views and
column masks, from the catalog's approved subscriptions only, matching a reviewed snapshot, and
masking as the engine masks on read."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlglot
from click.testing import CliRunner

from mesh_platform.access import approve, deny, request_subscription, revoke
from mesh_platform.access.grantees import Subscribed
from mesh_platform.access.grants import databricks_grants, mask_expression
from mesh_platform.access.policy import access_policy
from mesh_platform.catalog import Catalog
from mesh_platform.cli import main
from mesh_platform.compile.contracts import contract_of
from mesh_platform.engine import get_engine
from mesh_platform.loader.mesh import load_mesh
from tests.cli_mesh import ORDERS, CliMesh, cli_mesh
from tests.mini_mesh import write_mesh
from tests.test_catalog import catalog_url  # noqa: F401  (the SQLite + PostgreSQL fixture)

SNAPSHOT = Path(__file__).parent / "snapshots" / "grants_platform_silver_customer.databricks.sql"
SCOPE = ("c_custkey", "c_name", "c_nationkey")


def subscribe(
    catalog: Catalog, consumer: str, product: str, *decisions: str, columns: Sequence[str] = ()
) -> int:
    """`consumer` requests `product`, then each decision (approve, deny, revoke) in order."""
    ident = request_subscription(
        catalog, consumer, product, actor=consumer, purpose="test", columns=columns
    ).subscription.id
    for decision in decisions:
        act = {"approve": approve, "deny": deny, "revoke": revoke}[decision]
        act(catalog, ident, actor="platform-team", reason="test")
    return ident


@pytest.fixture
def demo_catalog(tmp_path: Path) -> Iterator[str]:
    """A catalog for the demo mesh: sales approved for platform.silver_customer, finance
    approved for three of its columns, marketing approved then revoked."""
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    catalog = Catalog(url)
    subscribe(catalog, "sales", "platform.silver_customer", "approve")
    subscribe(catalog, "finance", "platform.silver_customer", "approve", columns=SCOPE)
    subscribe(catalog, "marketing", "platform.silver_customer", "approve", "revoke")
    catalog.engine.dispose()
    yield url


def test_the_grants_of_a_product_match_the_reviewed_snapshot(demo_catalog: str) -> None:
    result = CliRunner().invoke(
        main,
        ["grants", "platform.silver_customer", "--dialect", "databricks"],
        env={"MESH_CATALOG_URL": demo_catalog},
    )
    assert result.exit_code == 0, result.output
    assert result.output == SNAPSHOT.read_text()
    # What the review checked, said again so that a changed snapshot is read with it:
    sql = result.output
    table = "mesh.platform.silver_customer"
    assert f"GRANT SELECT, MODIFY ON TABLE {table} TO `data-platform`;" in sql
    assert "MODIFY ON TABLE mesh.platform.silver_customer TO `sales" not in sql  # read-only
    # Only the approved subscriber reads the table; the scoped one reads a view of its columns.
    assert [line for line in sql.splitlines() if line.startswith("GRANT SELECT")] == [
        f"GRANT SELECT, MODIFY ON TABLE {table} TO `data-platform`;",
        f"GRANT SELECT ON VIEW {table}__finance TO `finance-analytics`;",
        f"GRANT SELECT ON TABLE {table} TO `sales-analytics`;",
    ]
    assert (
        f"CREATE OR REPLACE VIEW {table}__finance AS SELECT {', '.join(SCOPE)} FROM {table};"
        in (sql)
    )
    assert f"REVOKE ALL PRIVILEGES ON TABLE {table} FROM `finance-analytics`;" in sql
    # marketing's revoked subscription: nothing granted, the earlier grant revoked, and why.
    assert "-- marketing (marketing-analytics): nothing granted: no approved subscription " in sql
    assert "(subscription 3 is revoked)" in sql
    assert f"REVOKE ALL PRIVILEGES ON TABLE {table} FROM `marketing-analytics`;" in sql
    for column in ("c_name", "c_address", "c_phone"):  # the PII columns, and only those
        assert f"ALTER COLUMN {column} SET MASK" in sql
    assert sql.count("SET MASK") == 3
    # finance has no `pii` clearance: it gets the mask (its view reads through it); sales sees
    # clear values; marketing, not subscribed, is in no branch (NULL, as anyone unknown).
    assert (
        "WHEN is_account_group_member('finance-analytics') THEN concat(left(value, 1), '***')"
        in sql
    )
    assert "is_account_group_member('marketing-analytics')" not in sql


def test_json_lists_the_statements_of_every_product(demo_catalog: str) -> None:
    result = CliRunner().invoke(
        main, ["grants", "--json", "--catalog", "lakehouse"], env={"MESH_CATALOG_URL": demo_catalog}
    )
    assert result.exit_code == 0, result.output
    exports = {e["product"]: e for e in json.loads(result.output)}
    assert "sales.customer_revenue" in exports and "platform.bronze_customer" in exports
    internal = exports["platform.bronze_customer"]["statements"]
    # An internal product is granted to its own domain only.
    assert [s for s in internal if s.startswith("GRANT SELECT")] == [
        "GRANT SELECT, MODIFY ON TABLE lakehouse.platform.bronze_customer TO `data-platform`;"
    ]


def test_an_unknown_product_is_one_clean_error(demo_catalog: str) -> None:
    result = CliRunner().invoke(
        main, ["grants", "sales.nope"], env={"MESH_CATALOG_URL": demo_catalog}
    )
    assert result.exit_code == 1 and "no product 'sales.nope'" in result.output
    assert "Traceback" not in result.output


def test_the_exported_mask_computes_what_the_engine_masks_on_read() -> None:
    rule = access_policy().column_rules(["pii"])[0]
    databricks = mask_expression(rule.mask, "string", "p", "c")
    duck = sqlglot.transpile(databricks, read="databricks", write="duckdb")[0]
    values = ["Customer#000000001", "IVhzIApeRb ot,c,E", "25-989-741-2988", "x", ""]
    con = duckdb.connect()
    exported = [
        (con.execute(f"SELECT {duck} FROM (SELECT ? AS value)", [v]).fetchone() or [None])[0]
        for v in values
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
    # `platform`: the domain that may declare landing sources.
    mesh = load_mesh(
        write_mesh(tmp_path, {"platform": {"payroll": restricted, "staff": staff}, "ads": {}})
    )
    domains = [d.spec for d in mesh.domains.values()]
    # ads has approved subscriptions to both: the policy still hides payroll from it.
    approved = {
        ("ads", f"platform.{name}"): Subscribed("ads", f"platform.{name}", "approved", ident)
        for ident, name in enumerate(("payroll", "staff"), start=1)
    }

    def grants(name: str) -> str:
        source = mesh.products[("platform", name)]
        return databricks_grants(
            contract_of(source), domains, spec_tags=source.spec.tags, subscribed=approved
        ).text()

    payroll = grants("payroll")
    assert (
        "-- ads (ads-team): nothing granted: the access policy hides it "
        "(tag 'sensitivity=restricted'" in payroll
    )
    assert "GRANT USE CATALOG ON CATALOG mesh TO `ads-team`" not in payroll
    assert "SET MASK" not in payroll  # only the owner reads it
    staff_sql = grants("staff")
    assert "GRANT SELECT ON TABLE mesh.platform.staff TO `ads-team`;" in staff_sql
    # `secret` is hidden from domains without the clearance: clear for the owner, NULL else.
    assert (
        "WHEN is_account_group_member('platform-team') THEN value\n    ELSE CAST(NULL AS DOUBLE)"
        in staff_sql
    )
    assert "ALTER TABLE mesh.platform.staff ALTER COLUMN salary SET MASK" in staff_sql
    # Without the subscription, ads gets nothing, and the mask still guards the column.
    source = mesh.products[("platform", "staff")]
    alone = databricks_grants(contract_of(source), domains, spec_tags=source.spec.tags).text()
    assert "GRANT SELECT ON TABLE mesh.platform.staff TO `ads-team`" not in alone
    assert "none requested: `mesh subscribe platform.staff --as ads" in alone
    assert "ALTER TABLE mesh.platform.staff ALTER COLUMN salary SET MASK" in alone


CUSTOMERS = """\
name: customers
description: Customers with their email.
visibility: published
source: {landing: customers}
columns:
  - {name: id, type: bigint}
  - {name: email, type: string, tags: [pii]}
  - {name: city, type: string}
"""


@pytest.fixture
def shop(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    catalog_url: str,  # noqa: F811
) -> Iterator[CliMesh]:
    """shop's customers and orders, five reader domains, and a real catalog (SQLite and
    PostgreSQL) holding a subscription in every state."""
    readers = ("books", "ads", "news", "audit", "crm")
    products = {"platform": {"orders": ORDERS, "customers": CUSTOMERS}} | {r: {} for r in readers}
    with cli_mesh(tmp_path, products, monkeypatch) as mesh:
        catalog = Catalog(catalog_url)
        subscribe(catalog, "books", "platform.customers", "approve")
        subscribe(catalog, "ads", "platform.customers")  # requested
        subscribe(catalog, "news", "platform.customers", "deny")
        subscribe(catalog, "audit", "platform.customers", "approve", "revoke")
        subscribe(catalog, "crm", "platform.customers", "approve", columns=("id", "city"))
        subscribe(catalog, "books", "platform.orders", "approve", "revoke")
        catalog.engine.dispose()
        monkeypatch.setenv("MESH_CATALOG_URL", catalog_url)
        yield mesh


def selects(statements: list[str]) -> dict[str, str]:
    """Grantee team -> what it may SELECT (`TABLE x` or `VIEW y`), from the GRANT statements."""
    found = {}
    for line in statements:
        if line.startswith("GRANT SELECT") and " ON " in line:
            target, _, team = line.removesuffix(";").partition(" ON ")[2].partition(" TO ")
            found[team.strip("`")] = target
    return found


def test_only_approved_subscribers_are_granted(shop: CliMesh) -> None:
    result = shop.run("grants", "--json")
    assert result.exit_code == 0, result.output
    exports = {e["product"]: e["statements"] for e in json.loads(result.stdout)}
    customers = exports["platform.customers"]
    table = "mesh.platform.customers"
    assert selects(customers) == {
        "platform-team": f"TABLE {table}",  # the owner (SELECT, MODIFY)
        "books-team": f"TABLE {table}",  # approved
        "crm-team": f"VIEW {table}__crm",  # approved for id and city only
    }
    assert f"GRANT SELECT, MODIFY ON TABLE {table} TO `platform-team`;" in customers
    assert f"CREATE OR REPLACE VIEW {table}__crm AS SELECT id, city FROM {table};" in customers
    text = "\n".join(customers)
    for team, state in (("ads", "requested"), ("news", "denied"), ("audit", "revoked")):
        assert f"-- {team} ({team}-team): nothing granted: no approved subscription" in text
        assert f"is {state})" in text.split(f"-- {team} ({team}-team)")[1].splitlines()[0]
        assert f"REVOKE ALL PRIVILEGES ON TABLE {table} FROM `{team}-team`;" in customers
    # The email mask: clear for the owner, masked for the approved readers without clearance
    # (crm's view does not hold the column: crm is not in the mask), NULL for anyone else.
    mask = text[text.index("FUNCTION mesh.platform.customers_email_mask") :]
    assert "WHEN is_account_group_member('platform-team') THEN value" in mask
    assert "WHEN is_account_group_member('books-team') THEN concat(left(value, 1), '***')" in mask
    assert "crm-team" not in mask and "ads-team" not in mask
    # books' subscription to orders was revoked: only the owner reads orders.
    assert selects(exports["platform.orders"]) == {"platform-team": "TABLE mesh.platform.orders"}


def test_an_unreachable_catalog_is_one_clean_error(tmp_path: Path) -> None:
    (tmp_path / "not_a_folder").write_text("")
    url = f"sqlite:///{tmp_path / 'not_a_folder' / 'catalog.db'}"
    result = CliRunner().invoke(
        main, ["grants", "platform.silver_customer"], env={"MESH_CATALOG_URL": url}
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: the catalog database {url} is unavailable")
    assert "Traceback" not in result.output
