"""The builder's palette (issue 16, item 2): every registry block with its form, a standard
registered later appearing with no builder change, and each transform's SQL giving, through the
preview path (`mesh preview`'s `preview_product`), the rows an independent polars computation
gives."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any, Literal, cast

import polars as pl
import pytest
from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from mesh_platform.builder.palette import (
    block,
    expression_functions,
    palette,
    previous_name,
    step_for,
)
from mesh_platform.builder.transforms import BlockRefused, JoinKind, check_expression
from mesh_platform.column_types import Schema
from mesh_platform.dev.preview import preview_product
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.registry import ENTRY_POINT_GROUP, Registry, StandardStepDefinition, registry
from mesh_platform.registry import core as registry_core
from mesh_platform.security.keys import Keyring
from mesh_platform.spec import sequences
from tests.mini_mesh import local_lakehouse, validate_errors, write_mesh

ORDERS: dict[str, list[Any]] = {
    "id": [1, 2, 3, 4, 5],
    "customer": [10, 11, 10, 12, 13],
    "amount": [12.5, 3.25, 40.0, 7.75, 100.0],
    "region": ["EU", "US", "EU", "EU", None],
}
MORE_ORDERS: dict[str, list[Any]] = {
    "id": [6, 1],
    "customer": [11, 10],
    "amount": [1.5, 12.5],
    "region": ["US", "EU"],
}
CUSTOMERS: dict[str, list[Any]] = {
    "id": [10, 11, 12, 14],
    "name": ["Alice", "Bob", "Chandra", "Dmitri"],
}
ORDER_TYPES = {"id": "bigint", "customer": "bigint", "amount": "double", "region": "string"}
TYPES = {
    "orders": ORDER_TYPES,
    "more_orders": ORDER_TYPES,
    "customers": {"id": "bigint", "name": "string"},
}
INPUTS = {name: list(types) for name, types in TYPES.items()}


def _landing(name: str, types: Schema) -> str:
    columns = "\n".join(f"  - {{name: {c}, type: {t}}}" for c, t in types.items())
    return f"name: {name}\ndescription: {name} as landed.\nsource: {{landing: {name}}}\n" + (
        f"columns:\n{columns}\n"
    )


def _product(name: str, steps: list[dict[str, Any]]) -> str:
    spec = {
        "name": name,
        "description": f"Built from the palette: {name}.",
        "inputs": {n: n for n in TYPES},
        "steps": steps,
    }
    out = io.StringIO()
    YAML().dump(spec, out)  # as the builder's draft writes a step dict
    return out.getvalue()


def _preview(tmp_path: Path, steps: list[dict[str, Any]]) -> pl.DataFrame:
    """The last step's rows of a product made of `steps`, through `preview_product`."""
    files = {name: _landing(name, types) for name, types in TYPES.items()}
    write_mesh(tmp_path, {"shop": {**files, "built": _product("built", steps)}})
    lakehouse = local_lakehouse(tmp_path)
    for name, data in (("orders", ORDERS), ("more_orders", MORE_ORDERS), ("customers", CUSTOMERS)):
        lakehouse.write(("shop", name), pl.DataFrame(data, schema_overrides=_pl(name)).to_arrow())
    mesh = load_mesh(tmp_path)
    previews = preview_product(mesh, "shop.built", lakehouse, Keyring({}, None), rows=100)
    return previews[-1].sample


def _pl(name: str) -> dict[str, Any]:
    return {
        c: {"bigint": pl.Int64, "double": pl.Float64, "string": pl.String}[t]
        for c, t in TYPES[name].items()
    }


def _rows(frame: pl.DataFrame) -> list[tuple[Any, ...]]:
    """Rows as tuples in column order, sorted (None first), for order-free comparison."""
    return sorted(frame.rows(), key=lambda r: [(v is not None, v) for v in r])


def _frame(name: str) -> pl.DataFrame:
    source = {"orders": ORDERS, "more_orders": MORE_ORDERS, "customers": CUSTOMERS}[name]
    return pl.DataFrame(source, schema_overrides=_pl(name))


def test_every_registered_block_is_in_the_palette_with_its_form() -> None:
    blocks = {b.key: b for b in palette()}
    found = registry()
    rules = {r.name for r in found.rule_sets}
    assert rules and found.steps.all() and found.functions.all()
    for step in found.steps.all():
        kind = "rule" if step.name in rules else "standard"
        assert blocks[f"{kind}:{step.name}"].schema == step.params.model_json_schema()
    for function in found.functions.all():
        form = blocks[f"function:{function.name}"].schema
        assert form["properties"]["columns"]["type"] == "array", function.name
    for spec in sequences.available():
        form = blocks[f"sequence:{spec.name}"].schema
        assert set(form["properties"]) == set(spec.params)
    transforms = {k for k in blocks if k.startswith("transform:")}
    assert {f"transform:{t}" for t in ("filter", "select", "derived", "join")} <= transforms
    assert {f"transform:{t}" for t in ("aggregate", "union", "sql")} <= transforms
    # Column pickers come from the schemas: multi where the block takes several columns.
    assert blocks["standard:pseudonymize"].multi_columns == ("columns",)
    assert blocks["standard:deduplicate"].multi_columns == ("keys",)
    assert blocks["rule:sales_segmentation"].column_params == ("nation", "revenue")
    assert blocks["rule:sales_segmentation"].multi_columns == ()
    assert blocks["standard:rename"].column_maps == ("columns",)
    assert blocks["standard:mask"].column_params == ("columns",)  # not `style` nor `keep`
    assert blocks["sequence:protect_contacts"].multi_columns == ("encrypt", "pseudonymize")
    assert blocks["transform:join"].multi_columns == ("left_keys", "right_keys")
    assert blocks["transform:aggregate"].column_params == ("group_by", "measures.column")
    assert blocks["transform:derived"].column_params == ()  # `name` is a new name


class HashParams(BaseModel):
    """Hash columns, salted by another column."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: tuple[str, ...] = Field(min_length=1, description="the columns to hash")
    salt: str = Field(description="the column holding the salt")
    bits: Literal[256, 512] = 256
    label: str = Field(default="hashed", description="a note for the catalog")


def _hash_select(schema: Schema, p: HashParams) -> list[str]:
    return [
        f"sha2(concat(CAST({c} AS STRING), CAST({p.salt} AS STRING)), {p.bits}) AS {c}"
        if c in p.columns
        else c
        for c in schema
    ]


HASH = StandardStepDefinition(
    name="salted_hash",
    version="0.1.0",
    description="Replace columns by a salted SHA-2 hash.",
    params=HashParams,
    sql=_hash_select,
    output_schema=lambda schema, p: {
        c: "string" if c in p.columns else t for c, t in schema.items()
    },
)


def register_test_standard(found: Registry) -> None:
    """A standards package's entry point, as a platform team would publish it."""
    found.steps.register(HASH)


@pytest.fixture
def test_standard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The registry rebuilt with one more standards package behind the entry point."""
    real = registry_core.entry_points

    def with_test_package(group: str) -> list[EntryPoint]:
        extra = EntryPoint("test", f"{__name__}:register_test_standard", ENTRY_POINT_GROUP)
        return [*real(group=group), *([extra] if group == ENTRY_POINT_GROUP else [])]

    monkeypatch.setattr(registry_core, "entry_points", with_test_package)
    registry.cache_clear()
    yield
    monkeypatch.undo()
    registry.cache_clear()


@pytest.mark.usefixtures("test_standard")
def test_a_standard_registered_later_appears_with_its_generated_form(tmp_path: Path) -> None:
    hashed = block("standard:salted_hash")
    assert hashed.schema == HashParams.model_json_schema()
    assert (hashed.title, hashed.version) == ("salted_hash", "0.1.0")
    assert hashed.column_params == ("columns", "salt") and hashed.multi_columns == ("columns",)
    assert hashed.schema["properties"]["bits"]["enum"] == [256, 512]
    columns = list(ORDER_TYPES)
    with pytest.raises(BlockRefused, match="unknown column"):
        step_for("standard:salted_hash", {"columns": ["nope"], "salt": "id"}, columns, INPUTS)
    step = step_for("standard:salted_hash", {"columns": ["region"], "salt": "id"}, columns, INPUTS)
    assert step == {"use": "salted_hash", "with": {"columns": ["region"], "salt": "id"}}
    first = step_for("transform:select", {"columns": columns}, columns, INPUTS, previous="orders")
    got = _preview(tmp_path, [first, step])
    want = [
        hashlib.sha256(f"{r}{i}".encode()).hexdigest() if r else None
        for r, i in zip(ORDERS["region"], ORDERS["id"], strict=True)
    ]
    assert got["region"].to_list() == want


def test_filter_select_derived(tmp_path: Path) -> None:
    columns = list(ORDER_TYPES)
    orders = _frame("orders")
    cases: list[tuple[str, dict[str, Any], pl.DataFrame]] = [
        (
            "filter",
            {"condition": "amount > 5 AND region = 'EU'"},
            orders.filter((pl.col("amount") > 5) & (pl.col("region") == "EU")),
        ),
        (
            "select",
            {"columns": ["region", "amount"], "renames": {"amount": "value"}},
            orders.select("region", pl.col("amount").alias("value")),
        ),
        (
            "derived",
            {"name": "net", "expression": "round(amount * 0.8, 2)"},
            orders.with_columns(net=(pl.col("amount") * 0.8).round(2)),
        ),
        (
            "derived",  # a column of the same name is replaced in place
            {"name": "amount", "expression": "amount + customer"},
            orders.with_columns(amount=pl.col("amount") + pl.col("customer")),
        ),
    ]
    for index, (name, params, want) in enumerate(cases):
        step = step_for(f"transform:{name}", params, columns, INPUTS, previous="orders")
        got = _preview(tmp_path / str(index), [step])
        assert got.columns == want.columns, name
        assert _rows(got) == _rows(want), name


@pytest.mark.parametrize("kind", ["inner", "left", "right", "full", "semi", "anti"])
def test_join(tmp_path: Path, kind: str) -> None:
    params = {"input": "customers", "left_keys": ["customer"], "right_keys": ["id"], "kind": kind}
    step = step_for("transform:join", params, list(ORDER_TYPES), INPUTS, previous="orders")
    got = _preview(tmp_path, [step])
    right = _frame("customers").rename({"id": "customers_id"})
    want = _frame("orders").join(
        right, left_on="customer", right_on="customers_id", how=cast(JoinKind, kind), coalesce=False
    )
    if kind in ("inner", "left", "right", "full"):
        want = want.select(*ORDER_TYPES, "customers_id", "name")
    assert got.columns == want.columns
    assert _rows(got) == _rows(want)


def test_join_on_keys_named_alike_keeps_one_key_column(tmp_path: Path) -> None:
    params = {"input": "more_orders", "left_keys": ["id"], "right_keys": ["id"], "kind": "full"}
    step = step_for("transform:join", params, list(ORDER_TYPES), INPUTS, previous="orders")
    got = _preview(tmp_path, [step])
    right = _frame("more_orders").rename({c: f"more_orders_{c}" for c in ORDER_TYPES})
    want = _frame("orders").join(right, left_on="id", right_on="more_orders_id", how="full")
    want = want.with_columns(id=pl.coalesce("id", "more_orders_id")).drop("more_orders_id")
    assert got.columns == want.columns
    assert _rows(got) == _rows(want)


def test_aggregate_union_and_free_sql(tmp_path: Path) -> None:
    columns = list(ORDER_TYPES)
    measures = [
        {"column": "amount", "fn": "sum", "as": "total"},
        {"fn": "count", "as": "n"},
        {"column": "customer", "fn": "count_distinct", "as": "customers"},
        {"column": "amount", "fn": "max", "as": "order"},  # a keyword as a name: quoted
    ]
    orders = _frame("orders")
    agg = step_for(
        "transform:aggregate",
        {"group_by": ["region"], "measures": measures},
        columns,
        INPUTS,
        previous="orders",
    )
    want = orders.group_by("region").agg(
        total=pl.col("amount").sum(),
        n=pl.len().cast(pl.Int64),
        customers=pl.col("customer").n_unique().cast(pl.Int64),
        order=pl.col("amount").max(),
    )
    got = _preview(tmp_path / "agg", [agg])
    assert got.columns == want.columns and _rows(got) == _rows(want)
    for distinct in (False, True):
        union = step_for(
            "transform:union",
            {"input": "more_orders", "distinct": distinct},
            columns,
            INPUTS,
            previous="orders",
        )
        want = pl.concat([orders, _frame("more_orders")])
        want = want.unique() if distinct else want
        got = _preview(tmp_path / f"union{distinct}", [union])
        assert _rows(got) == _rows(want)
    sql = "SELECT region, count(*) AS n FROM orders GROUP BY region"
    assert step_for("transform:sql", {"sql": sql}, columns, INPUTS) == {"sql": sql + "\n"}


def test_steps_chain_and_functions_apply(tmp_path: Path) -> None:
    """A pipeline as the builder assembles it: each step reads the previous one by the name
    the planner gives it (`previous_name`), a declared `name:` included."""
    columns = list(ORDER_TYPES)
    steps: list[dict[str, Any]] = []

    def add(key: str, params: dict[str, Any], cols: list[str]) -> None:
        previous = previous_name(steps, len(steps), INPUTS)
        steps.append(step_for(key, params, cols, INPUTS, previous=previous))

    add(
        "transform:join",
        {"input": "customers", "left_keys": ["customer"], "right_keys": ["id"]},
        columns,
    )
    joined = [*columns, "customers_id", "name"]
    add("function:mask_partial", {"columns": ["name"], "keep": 2}, joined)
    steps[-1] = {"name": "masked", **steps[-1]}
    add("standard:rename", {"columns": {"region": "area"}}, joined)
    renamed = [c if c != "region" else "area" for c in joined]
    add("function:sales_region", {"columns": ["area"], "as": "sales_region"}, renamed)
    assert "FROM step_1" in steps[1]["sql"] and "FROM step_3" in steps[3]["sql"]
    assert previous_name(steps, 2, INPUTS) == "masked"
    got = _preview(tmp_path, steps)
    want = (
        _frame("orders")
        .join(_frame("customers"), left_on="customer", right_on="id", coalesce=False)
        .rename({"id_right": "customers_id", "region": "area"})
        .with_columns(
            name=pl.col("name").str.head(2) + pl.col("name").str.slice(2).str.replace_all(".", "*"),
            sales_region=pl.lit("OTHER"),  # EU/US are no TPC-H nations: the rule's default
        )
    )
    assert got.columns == want.columns
    assert _rows(got) == _rows(want)


def test_previous_name_counts_the_steps_an_include_expands_to() -> None:
    include = {"include": "protect_contacts", "with": {"encrypt": ["a"], "pseudonymize": ["b"]}}
    steps: list[dict[str, Any]] = [
        {"sql": "SELECT a, b FROM orders"},
        include,
        {"use": "trim", "name": "trimmed"},
        {"sql": "x"},
    ]
    names = [previous_name(steps, i, INPUTS) for i in range(5)]
    assert names == ["orders", "step_1", "step_3", "trimmed", "step_5"]
    # Without `previous`, a step reads the last of `inputs` (ports, then earlier steps) with
    # its columns; none with them is refused rather than guessed.
    filtered = step_for("transform:filter", {"condition": "id > 1"}, ["id", "name"], INPUTS)
    assert "FROM customers" in filtered["sql"]
    with pytest.raises(BlockRefused, match="pass `previous`"):
        step_for("transform:filter", {"condition": "id > 1"}, ["id"], INPUTS)


def test_refusals_name_the_problem() -> None:
    columns = list(ORDER_TYPES)
    bad: list[tuple[str, dict[str, Any], str]] = [
        ("transform:filter", {"condition": "amount > 1) FROM orders; --"}, "does not parse"),
        ("transform:filter", {"condition": "(SELECT 1)"}, "not a query"),
        ("transform:select", {"columns": ["nope"]}, "unknown column"),
        ("transform:derived", {"name": "Bad Name", "expression": "1"}, "bad parameters"),
        (
            "transform:join",
            {"input": "nowhere", "left_keys": ["id"], "right_keys": ["id"]},
            "unknown input",
        ),
        ("transform:union", {"input": "customers"}, "unknown column"),
        ("standard:pseudonymize", {"columns": []}, "bad parameters"),
        ("sequence:protect_contacts", {"encrypt": "id"}, "must be a columns"),
        ("transform:nothing", {}, "unknown block"),
    ]
    for key, params, message in bad:
        with pytest.raises(BlockRefused, match=message):
            step_for(key, params, columns, INPUTS, previous="orders")


def test_check_expression_says_what_validate_says(tmp_path: Path) -> None:
    columns = list(ORDER_TYPES)
    assert check_expression("amount * 2 + length(region)", columns) is None
    listed = {f["name"] for f in expression_functions()}
    assert {"mask_partial", "sales_region", "pseudonymize"} <= listed
    assert all(check_expression(f"{name}(region)", columns) is None for name in ("sales_region",))
    bad = ["amont * 2", "sum_of(amount)", "amount +", "sum(amount)"]
    messages = [check_expression(e, columns) for e in bad]
    assert all(messages), messages
    files = {name: _landing(name, types) for name, types in TYPES.items()}
    for index, (expression, message) in enumerate(zip(bad[:2], messages[:2], strict=True)):
        sql = f"SELECT id, customer, amount, region, {expression} AS x FROM orders"
        spec = _product("broken", [{"sql": sql}])
        root = write_mesh(tmp_path / str(index), {"shop": {**files, "broken": spec}})
        (error,) = validate_errors(root)
        assert message is not None and message in error.problem, (message, error.problem)
