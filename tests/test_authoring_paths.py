"""YAML (through the DataProduct component) and Python produce identical definitions."""

from __future__ import annotations

import dagster as dg

from mesh_platform import ColumnSpec, DataProduct, Mesh, ProductSpec, SqlStep

SQL = """\
SELECT o_orderpriority, count(*) AS order_count
FROM orders
GROUP BY o_orderpriority
"""

YAML_ATTRIBUTES = {
    "domain": "sales",
    "name": "orders_by_priority",
    "description": "How many orders per priority?",
    "owners": ["team:sales-analytics"],
    "inputs": {"orders": "platform.silver_orders"},
    "steps": [{"sql": SQL}],
    "columns": [
        {"name": "o_orderpriority", "type": "string", "description": "Order priority"},
        {"name": "order_count", "type": "bigint", "description": "Orders"},
    ],
    "schedule": "0 6 * * *",
}


def _spec_of(defs: dg.Definitions) -> dg.AssetSpec:
    (assets_def,) = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    (spec,) = assets_def.specs
    return spec


def test_yaml_and_python_build_the_same_asset() -> None:
    from_yaml = DataProduct.from_attributes_dict(attributes={"product": YAML_ATTRIBUTES})
    assert isinstance(from_yaml, DataProduct)
    from_python = DataProduct(
        ProductSpec(
            domain="sales",
            name="orders_by_priority",
            description="How many orders per priority?",
            owners=("team:sales-analytics",),
            inputs={"orders": "platform.silver_orders"},
            steps=(SqlStep(sql=SQL),),
            columns=(
                ColumnSpec(name="o_orderpriority", type="string", description="Order priority"),
                ColumnSpec(name="order_count", type="bigint", description="Orders"),
            ),
            schedule="0 6 * * *",
        )
    )
    context = dg.ComponentTree.for_test().load_context
    yaml_defs, python_defs = from_yaml.build_defs(context), from_python.build_defs(context)
    a, b = _spec_of(yaml_defs), _spec_of(python_defs)
    assert a.key == b.key == dg.AssetKey(["sales", "orders_by_priority"])
    for field in (
        "deps",
        "group_name",
        "owners",
        "kinds",
        "tags",
        "description",
        "metadata",
        "code_version",
        "automation_condition",
        "partitions_def",
    ):
        assert getattr(a, field) == getattr(b, field), field
    assert a.group_name == "sales"
    assert [d.asset_key for d in a.deps] == [dg.AssetKey(["platform", "silver_orders"])]
    schedules = [s.name for s in yaml_defs.schedules or []]
    assert (
        schedules == [s.name for s in python_defs.schedules or []] == ["sales__orders_by_priority"]
    )


def test_component_rejects_bad_attributes_like_the_yaml_loader() -> None:
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError, match="visibility"):
        DataProduct.from_attributes_dict(
            attributes={"product": {**YAML_ATTRIBUTES, "visibility": "public"}}
        )


def test_domain_identity_is_stamped_by_the_platform() -> None:
    mesh = Mesh.load()
    for key, source in mesh.products.items():
        domain = mesh.domains[key[0]].spec
        assert source.spec.owners[0] == domain.default_owner, key
        assert source.spec.domain == key[0]
