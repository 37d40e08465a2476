"""ODCS: every published product of the demo mesh exports a contract that validates against the
standard's own model and JSON schema, with formulas, classification, quality and SLA; the
exported quality checks count exactly the rows the rules refuse."""

from __future__ import annotations

import json

import duckdb
import jsonschema
import pytest
import yaml
from open_data_contract_standard.model import OpenDataContractStandard

from mesh_platform.loader.mesh import Mesh
from mesh_platform.marketplace.impact_load import mesh_for_product
from mesh_platform.marketplace.odcs import ContractError, odcs_document, odcs_yaml
from tests.cli_mesh import cli_mesh


@pytest.fixture(scope="module")
def demo() -> Mesh:
    return Mesh.load_healthy()


def _published(mesh: Mesh) -> list[str]:
    return [
        s.spec.qualified_name for s in mesh.products.values() if s.spec.visibility == "published"
    ]


def test_every_published_product_validates_against_the_standard(demo: Mesh) -> None:
    validator = jsonschema.Draft201909Validator(json.loads(OpenDataContractStandard.json_schema()))
    names = _published(demo)
    assert len(names) >= 12  # silver_* of the platform, sales, marketing, finance
    for name in names:
        document = odcs_document(demo, name)
        errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(document)]
        assert errors == [], name
        model = OpenDataContractStandard.model_validate(document)
        assert model.id == name and model.kind == "DataContract"
        # The YAML form is the same document, read back by the standard's own reader.
        reread = OpenDataContractStandard.from_string(odcs_yaml(demo, name))
        assert reread.model_dump(by_alias=True, exclude_none=True) == model.model_dump(
            by_alias=True, exclude_none=True
        )
        spec = demo.product(name).spec
        (table,) = document["schema"]
        assert [p["name"] for p in table["properties"]] == [c.name for c in spec.columns]
        assert [p["physicalType"] for p in table["properties"]] == [c.type for c in spec.columns]


def test_formulas_classification_and_sla(demo: Mesh) -> None:
    document = odcs_document(demo, "sales.customer_revenue")
    # `mesh contract` plans only the product's domain: the same document.
    assert (
        odcs_document(
            mesh_for_product(demo.root, "sales.customer_revenue"), "sales.customer_revenue"
        )
        == document
    )
    columns = {p["name"]: p for p in document["schema"][0]["properties"]}
    revenue = columns["revenue"]
    assert revenue["transformLogic"] == "SUM(SUM(l_extendedprice * (1 - l_discount)))"  # per order
    assert sorted(revenue["transformSourceObjects"]) == [
        "platform.silver_lineitem.l_discount",
        "platform.silver_lineitem.l_extendedprice",
    ]
    assert revenue["logicalType"] == "number"
    assert columns["nation"]["transformSourceObjects"] == ["platform.silver_nation.n_name"]
    assert columns["c_name"]["classification"] == "pii"
    assert "classification" not in columns["revenue"]
    assert columns["order_count"]["logicalType"] == "integer"
    assert {"property": "latency", "value": 26.0, "unit": "h"}.items() <= document["slaProperties"][
        0
    ].items()
    assert {"property": "frequency", "value": "0 5 * * *"}.items() <= document["slaProperties"][
        1
    ].items()
    assert document["team"]["name"] == "sales-analytics"
    assert {"username": "sales-data@example.com", "role": "owner"} in document["team"]["members"]
    assert document["support"][0]["url"] == "mailto:sales-oncall@example.com"


def test_rules_become_quality_checks(demo: Mesh) -> None:
    document = odcs_document(demo, "finance.revenue_by_region")
    table = document["schema"][0]
    columns = {p["name"]: p for p in table["properties"]}
    assert columns["revenue"]["required"] is True
    not_null, between = columns["revenue"]["quality"]
    assert (not_null["metric"], not_null["mustBe"], not_null["severity"]) == (
        "nullValues",
        0,
        "error",
    )
    assert between["type"] == "sql" and between["severity"] == "warning"
    (unique,) = table["quality"]  # a compound key is a check of the table
    assert unique["metric"] == "duplicateValues"
    assert unique["arguments"] == {"properties": ["order_year", "region"]}
    (references,) = columns["region"]["quality"]
    assert "FROM platform.silver_region" in references["query"]


def test_exported_sql_checks_count_the_rows_the_rules_refuse(demo: Mesh) -> None:
    """Run the exported checks on a table with known bad rows (counted independently)."""
    document = odcs_document(demo, "finance.revenue_by_region")
    columns = {p["name"]: p for p in document["schema"][0]["properties"]}
    db = duckdb.connect()
    db.execute("CREATE SCHEMA finance; CREATE SCHEMA platform")
    db.execute(
        "CREATE TABLE finance.revenue_by_region AS SELECT * FROM (VALUES "
        "(1995, 'ASIA', 5, 10.0), (1995, 'EUROPE', 3, -1.0), (1996, 'MARS', 1, -2.0), "
        "(1996, 'ASIA', 2, 4.0)) AS t(order_year, region, order_count, revenue)"
    )
    db.execute(
        "CREATE TABLE platform.silver_region AS SELECT 'ASIA' AS r_name UNION ALL SELECT 'EUROPE'"
    )
    between = next(q for q in columns["revenue"]["quality"] if q["type"] == "sql")
    (references,) = columns["region"]["quality"]
    assert db.execute(between["query"]).fetchone() == (2,)  # -1.0 and -2.0 are below 0
    assert db.execute(references["query"]).fetchone() == (1,)  # MARS is no region


def test_an_internal_product_has_no_contract(demo: Mesh) -> None:
    with pytest.raises(ContractError, match=r"sales.pricing_summary is internal to domain sales"):
        odcs_document(demo, "sales.pricing_summary")
    with pytest.raises(ContractError, match=r"no product 'sales.nope'"):
        odcs_document(demo, "sales.nope")


SHOP = {
    "shop": {
        "orders": """\
            name: orders
            description: Orders, as the shop exports them.
            visibility: published
            version: 2.1.0
            source: {landing: orders}
            columns:
              - {name: id, type: bigint, description: Order id}
              - {name: status, type: string}
            quality:
              - {rule: accepted_values, column: status, values: [open, shipped]}
              - {rule: row_count, min: 1}
            """
    }
}


def test_mesh_contract_prints_yaml_and_json(tmp_path, monkeypatch) -> None:
    with cli_mesh(tmp_path, SHOP, monkeypatch) as cli:
        shown = cli.run("contract", "shop.orders")
        assert shown.exit_code == 0, shown.output
        document = yaml.safe_load(shown.output)
        assert document["version"] == "2.1.0" and document["apiVersion"] == "v3.1.0"
        status = document["schema"][0]["properties"][1]["quality"][0]
        assert status["metric"] == "invalidValues"
        assert status["arguments"] == {"validValues": ["open", "shipped"]}
        assert document["schema"][0]["quality"][0]["mustBeGreaterOrEqualTo"] == 1
        as_json = cli.run("contract", "shop.orders", "--json")
        assert json.loads(as_json.output) == document
        missing = cli.run("contract", "shop.order")
        assert missing.exit_code == 1 and "no product 'shop.order'" in missing.output
