"""The Spark engine: the catalogue's SQL functions and the standard steps one by one, quality
rules, partitions, failures, and selection by configuration, each against the local engine
(the reference the platform already checks) and, where it applies, an independent computation.

One Spark session (local[2]) serves the whole test session: `spark_session` is process-wide.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pyarrow as pa
import pytest
from dagster_pyspark import PySparkResource
from polars.testing import assert_frame_equal

from mesh_platform.dagster.location import location_definitions
from mesh_platform.dagster.resources import CatalogResource
from mesh_platform.engine import get_engine
from mesh_platform.engine.registry import (
    default_engine,
    engine_kinds,
    engine_resource_keys,
    engine_resources,
)
from mesh_platform.engine.spark import SparkEngine, spark_session
from mesh_platform.errors import ConfigurationError, StepFailed
from mesh_platform.loader import planner_for
from mesh_platform.registry import registry
from mesh_platform.security import crypto
from mesh_platform.security.keys import Keyring, KeyUnavailable
from tests.mini_mesh import local_lakehouse, write_approvals

pytestmark = pytest.mark.spark

TEST_SPARK = {"spark.sql.shuffle.partitions": "4"}  # small data: fewer shuffle tasks

PEOPLE = pa.table(
    {
        "id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
        "email": ["jane.doe@example.com", "a@b.c", "@x.org", "no-at-sign", None, "ünï@cödé.de"],
        "phone": ["25-989-741-2988", "123", "", None, "+1 555 0100", "1234"],
        "name": ["Customer#000000001", "Al", "", None, "Zoë  ", "  x"],
        "born": [
            date(1990, 5, 17),
            date(2000, 1, 1),
            date(2024, 2, 29),
            None,
            date(1999, 12, 31),
            date(1970, 1, 31),
        ],
        "balance": pa.array(
            [
                Decimal(v) if v else None
                for v in ("1234.56", "-999.99", "0.00", "", "9999.99", "37")
            ],
            pa.decimal128(15, 2),
        ),
        "amount": [37.0, -0.5, 2500000.0, None, 1e6, 999999.99],
        "nation": ["FRANCE", "UNITED STATES", "JAPAN", None, "ATLANTIS", "KENYA"],
        "revenue": [2_600_000.0, 1_000_000.0, 999_999.99, None, 2_500_000.0, 0.0],
    }
)

# Every catalogue function, called as domain SQL calls it.
CALLS = {
    "mask_email": "mask_email(email)",
    "mask_phone": "mask_phone(phone)",
    "mask_partial": "mask_partial(name, 3)",
    "mask_partial_0": "mask_partial(name, 0)",
    "generalize_month": "generalize_month(born)",
    "generalize_number_decimal": "generalize_number(balance, 1000)",
    "generalize_number_double": "generalize_number(amount, 1000.0)",
    "pseudonymize": "pseudonymize(name)",
    "pseudonymize_number": "pseudonymize(id)",
    "encrypt_det": "encrypt_det(phone)",
    "decrypt_det": "decrypt_det(encrypt_det(phone))",
    "sales_region": "sales_region(nation)",
    "sales_segment": "sales_segment(revenue)",
    "mask_redact": "mask_redact(name, 2)",
    "nested": "mask_partial(sales_region(nation), 1)",
}


@pytest.fixture(scope="module")
def spark() -> SparkEngine:
    spark_session("local[2]", TEST_SPARK)
    return SparkEngine(keys=Keyring.dev())


@pytest.fixture(scope="module")
def calls(spark: SparkEngine) -> tuple[pa.Table, pa.Table]:
    """Every call over PEOPLE on Spark and on the local engine (one query each)."""
    sql = "SELECT id, " + ", ".join(f"{c} AS {n}" for n, c in CALLS.items()) + " FROM people"
    local = get_engine("local", keys=Keyring.dev()).query(sql, {"people": PEOPLE})
    return spark.query(sql, {"people": PEOPLE}).sort_by("id"), local.sort_by("id")


def test_every_catalogue_function_is_provided(spark: SparkEngine) -> None:
    names = {f.name for f in registry().functions.all()}
    assert set(spark.sql_functions()) == names
    assert {n.partition("(")[0] for n in CALLS.values()} == names


@pytest.mark.parametrize("column", list(CALLS))
def test_a_function_gives_the_local_engines_values(
    calls: tuple[pa.Table, pa.Table], column: str
) -> None:
    on_spark, local = calls
    assert on_spark.column(column).to_pylist() == local.column(column).to_pylist()
    assert on_spark.column(column).to_pylist() != [None] * PEOPLE.num_rows


def test_functions_against_an_independent_computation(calls: tuple[pa.Table, pa.Table]) -> None:
    on_spark, _ = calls
    keyring = Keyring.dev()
    names = PEOPLE.column("name").to_pylist()
    assert on_spark.column("pseudonymize").to_pylist() == [crypto.token(keyring, n) for n in names]
    assert on_spark.column("pseudonymize_number").to_pylist() == [
        crypto.token(keyring, str(i)) for i in PEOPLE.column("id").to_pylist()
    ]
    ciphertexts = on_spark.column("encrypt_det").to_pylist()
    assert [crypto.decrypt(keyring, c) for c in ciphertexts] == PEOPLE.column("phone").to_pylist()
    assert on_spark.column("decrypt_det").to_pylist() == PEOPLE.column("phone").to_pylist()
    assert on_spark.column("mask_email").to_pylist()[:2] == ["j***@example.com", "a***@b.c"]
    assert on_spark.column("mask_phone").to_pylist()[0] == "***********2988"
    assert on_spark.column("generalize_month").to_pylist()[0] == date(1990, 5, 1)
    assert on_spark.column("generalize_number_decimal").to_pylist()[:2] == [1000.0, -1000.0]
    regions = ["EMEA", "AMER", "APAC", "OTHER", "OTHER", "EMEA"]
    assert on_spark.column("sales_region").to_pylist() == regions
    segments = ["high", "medium", "low", "low", "high", "low"]
    assert on_spark.column("sales_segment").to_pylist() == segments


def test_no_key_material_reaches_the_query_plan(spark: SparkEngine) -> None:
    keyring = Keyring.dev()
    session = spark.session().newSession()
    import sqlglot

    from mesh_platform.engine.spark.functions import register_keyed, to_spark_sql

    register_keyed(session, keyring)
    session.createDataFrame(PEOPLE.select(["name"])).createOrReplaceTempView("people")
    sql = to_spark_sql(sqlglot.parse_one("SELECT pseudonymize(name) FROM people", read="spark"))
    plan = session.sql(sql)._jdf.queryExecution().toString()  # type: ignore[operator]
    assert "mesh_hmac_sha256" in plan
    assert keyring.token_key().decode() not in plan and keyring.token_key().decode() not in sql


# --- standard steps, one by one, in products planned as the platform plans them -------------

PEOPLE_SPEC = """\
name: people
description: People.
source: {landing: people}
columns:
  - {name: id, type: bigint}
  - {name: email, type: string, tags: [pii]}
  - {name: phone, type: string, tags: [pii]}
  - {name: name, type: string, tags: [pii]}
  - {name: born, type: date}
  - {name: balance, type: "decimal(15,2)"}
  - {name: amount, type: double}
  - {name: nation, type: string}
  - {name: revenue, type: double}
"""
STEPS = {
    "deduplicate": "{use: deduplicate, with: {keys: [nation]}}",
    "rename": "{use: rename, with: {columns: {name: full_name}}}",
    "trim": "{use: trim, with: {columns: [name]}}",
    "encrypt": "{use: encrypt, with: {columns: [phone, email]}}",
    "pseudonymize": "{use: pseudonymize, with: {columns: [name]}}",
    "mask_email": "{use: mask, with: {columns: [email], style: email}}",
    "mask_phone": "{use: mask, with: {columns: [phone], style: phone}}",
    "mask_partial": "{use: mask, with: {columns: [name], style: partial, keep: 2}}",
    "generalize_month": "{use: generalize, with: {columns: [born], to: month}}",
    "generalize_bucket": "{use: generalize, with: {columns: [balance], to: bucket, width: 500}}",
    "nullify": "{use: nullify, with: {columns: [email]}}",
    "redact": "{use: redact, with: {columns: [name, email], keep: 1}}",
    "sales_segmentation": "{use: sales_segmentation, with: {nation: nation, revenue: revenue}}",
    "include_protect_contacts": (
        "{include: protect_contacts, with: {encrypt: [phone], pseudonymize: [name]}}"
    ),
}


@pytest.fixture(scope="module")
def step_plans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("spark_steps")
    products = root / "domains" / "people" / "products"
    products.mkdir(parents=True)
    (root / "domains/people/domain.yaml").write_text("name: people\nteam: people\n")
    (products / "people.yaml").write_text(PEOPLE_SPEC)
    for name, step in STEPS.items():
        (products / f"{name}.yaml").write_text(
            f"name: {name}\ndescription: {name}.\ninputs: {{people: people}}\nsteps:\n"
            f"  - sql: SELECT * FROM people\n  - {step}\n"
        )
    write_approvals(root)  # names people, which ingests here, as a landing domain
    plans = planner_for(root, "people").plan_all()
    return {key[1]: plan for key, plan in plans.items()}


def test_every_standard_step_is_covered() -> None:
    used = {s.partition("use: ")[2].partition(",")[0] for s in STEPS.values()}
    assert {s.name for s in registry().steps.all()} <= used | {"protect_contacts"}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_standard_step_gives_the_local_engines_result(
    spark: SparkEngine, step_plans: dict[str, object], step: str
) -> None:
    plan = step_plans[step]
    local = get_engine("local", keys=Keyring.dev()).run(plan, {"people": PEOPLE})  # type: ignore[arg-type]
    on_spark = spark.run(plan, {"people": PEOPLE})  # type: ignore[arg-type]
    expected = pl.from_arrow(local.table)
    got = pl.from_arrow(on_spark.table)
    assert isinstance(expected, pl.DataFrame) and isinstance(got, pl.DataFrame)
    assert got.columns == expected.columns
    assert_frame_equal(got.sort("id"), expected.sort("id"), check_dtypes=False)
    assert on_spark.usage.rows_out == local.usage.rows_out and on_spark.usage.cpu_seconds > 0


# --- quality rules, partitions, failures --------------------------------------------------


def test_a_sql_quality_rule_finds_the_same_rows(spark: SparkEngine) -> None:
    rule = "SELECT id, name FROM people WHERE length(trim(name)) < 3 OR name IS NULL ORDER BY id"
    expected = get_engine("local").query(rule, {"people": PEOPLE})
    assert spark.query(rule, {"people": PEOPLE}).to_pylist() == expected.to_pylist()
    assert [r["id"] for r in expected.to_pylist()] == [2, 3, 4, 6]


def test_a_failing_step_is_the_steps_failure_naming_it(
    spark: SparkEngine, step_plans: dict[str, object]
) -> None:
    plan = step_plans["sales_segmentation"]
    with pytest.raises(StepFailed) as failed:
        spark.run(plan, {"people": PEOPLE.drop_columns(["nation"])})  # type: ignore[arg-type]
    assert failed.value.step == "step_2" and "nation" in str(failed.value)
    ciphertext = PEOPLE.set_column(2, "phone", pa.array(["not ciphertext"] * 6))
    with pytest.raises(Exception, match="not Mesh ciphertext"):
        spark.query("SELECT decrypt_det(phone) FROM people", {"people": ciphertext})


def test_a_keyed_plan_without_a_key_fails_before_any_step(
    step_plans: dict[str, object],
) -> None:
    with pytest.raises(KeyUnavailable, match="MESH_KEY"):
        SparkEngine(keys=None).run(step_plans["pseudonymize"], {"people": PEOPLE})  # type: ignore[arg-type]


def test_preview_shows_each_steps_schema_rows_and_sample(
    spark: SparkEngine, step_plans: dict[str, object]
) -> None:
    previews = spark.preview(step_plans["sales_segmentation"], {"people": PEOPLE}, rows=2)  # type: ignore[arg-type]
    assert [p.rows for p in previews] == [6, 6]
    assert previews[1].schema["sales_region"] == "string" and previews[1].sample.height == 2


# --- selection by configuration, the Dagster resource, a real Dagster run ------------------


def test_the_deployment_default_engine_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESH_ENGINE", raising=False)
    assert default_engine() == "local"
    monkeypatch.setenv("MESH_ENGINE", "spark")
    assert default_engine() == "spark" and isinstance(get_engine(None), SparkEngine)
    assert engine_kinds(None) == ("spark",)
    monkeypatch.setenv("MESH_ENGINE", "flink")
    with pytest.raises(ConfigurationError, match=r"MESH_ENGINE='flink'.*local, spark"):
        default_engine()


def test_the_engine_takes_its_session_from_the_pyspark_resource(
    spark: SparkEngine, step_plans: dict[str, object]
) -> None:
    assert engine_resource_keys("spark") == ("pyspark",) and engine_resource_keys("local") == ()
    with dg.build_resources(engine_resources("spark")) as resources:
        engine = get_engine("spark", keys=Keyring.dev(), pyspark=resources.pyspark)
        assert isinstance(engine, SparkEngine)
        assert engine.session() is resources.pyspark.spark_session
        result = engine.run(step_plans["sales_segmentation"], {"people": PEOPLE})  # type: ignore[arg-type]
    assert result.table.column("value_segment").to_pylist()[0] == "high"
    conf = resources.pyspark.spark_session.conf
    assert conf.get("spark.sql.ansi.enabled") == "false"
    assert conf.get("spark.sql.session.timeZone") == "UTC"


EVENTS = """\
name: events
description: Events.
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: kind, type: string}
  - {name: amount, type: double}
  - {name: at, type: timestamp}
"""
TOTALS = """\
name: totals
description: Total per kind and day, on Spark.
engine: spark
inputs: {events: events}
steps:
  - sql: |
      SELECT kind, CAST(at AS DATE) AS day, sum(amount) AS total, count(*) AS events,
        max(at) AS last_at
      FROM events GROUP BY kind, CAST(at AS DATE)
quality:
  - {rule: sql, name: no_negative_total, sql: "SELECT * FROM totals WHERE total < 0"}
"""


@pytest.fixture
def spark_mesh(tmp_path: Path, spark: SparkEngine) -> Iterator[Path]:
    folder = tmp_path / "domains" / "shop"
    (folder / "products").mkdir(parents=True)
    (folder / "domain.yaml").write_text("name: shop\nteam: shop\n")
    (folder / "products/events.yaml").write_text(EVENTS)
    (folder / "products/totals.yaml").write_text(textwrap.dedent(TOTALS))
    (tmp_path / "landing").mkdir()
    write_approvals(tmp_path)  # names shop, which ingests here, as a landing domain
    yield tmp_path


def test_a_spec_on_spark_materializes_through_dagster(spark_mesh: Path) -> None:
    events = pl.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "kind": ["a", "b", "a", "a"],
            "amount": [1.5, 2.0, 3.25, 4.0],
            "at": [datetime(2024, 1, 1, 23, 59, 59, 123456), datetime(2024, 1, 2)] * 2,
        }
    )
    events.write_parquet(spark_mesh / "landing/events.parquet")
    defs = location_definitions(spark_mesh, "shop")
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]
    totals = next(a for a in assets if a.key.path[-1] == "totals")
    assert "spark" in totals.specs_by_key[totals.key].kinds
    # The Spark product takes its session from the location's PySpark resource.
    assert "pyspark" in totals.required_resource_keys
    assert isinstance((defs.resources or {})["pyspark"], PySparkResource)
    lakehouse = local_lakehouse(spark_mesh)
    result = dg.materialize(
        assets,
        resources={
            "lakehouse": lakehouse,
            "catalog": CatalogResource(url=f"sqlite:///{spark_mesh / 'catalog.db'}"),
            "pyspark": defs.resources["pyspark"],
        },
    )
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["no_negative_total"] and checks["contract"]
    written = pl.read_delta(lakehouse.uri(("shop", "totals"))).sort("kind", "day")
    expected = (
        events.group_by("kind", pl.col("at").dt.date().alias("day"))
        .agg(
            pl.col("amount").sum().alias("total"),
            pl.len().cast(pl.Int64).alias("events"),
            pl.col("at").max().alias("last_at"),
        )
        .sort("kind", "day")
    )
    assert_frame_equal(written, expected, check_dtypes=False)
    assert written.schema["last_at"] == pl.Datetime("us")  # a plain timestamp, as locally


def test_the_idiom_suite_holds_on_the_spark_engine(spark: SparkEngine) -> None:
    """The Spark meaning the local engine reproduces (tests/test_spark_idioms.py) is what the
    Spark engine's sessions answer: its settings (ANSI off, UTC) are in force."""
    import sqlglot
    from sqlglot import exp

    from tests.test_spark_idioms import IDIOMS, G, Idiom, T, arrow_family

    batches: dict[tuple[str, bool], list[Idiom]] = {}
    for idiom in IDIOMS:
        aggregate = sqlglot.parse_one(idiom.expr, read="spark").find(exp.AggFunc) is not None
        batches.setdefault((idiom.table, aggregate), []).append(idiom)
    wrong = []
    for (table, _), idioms in batches.items():
        columns = ", ".join(f"{i.expr} AS v{n}" for n, i in enumerate(idioms))
        result = spark.query(f"SELECT {columns} FROM {table}", {"t": T, "g": G})
        for n, idiom in enumerate(idioms):
            value = result.column(n)[0].as_py()
            family = arrow_family(result.schema.types[n])
            same = (
                value == pytest.approx(idiom.value, rel=1e-12)
                if isinstance(idiom.value, float)
                else value == idiom.value
            )
            if not same or family != idiom.family:
                wrong.append((idiom.expr, value, family, idiom.value, idiom.family))
    assert wrong == [], wrong
    assert sum(len(b) for b in batches.values()) == len(IDIOMS) > 200


class _RecordingSpark(SparkEngine):
    """The real Spark engine, remembering what each run was handed as inputs."""

    handed: list[dict[str, Any]] = []

    def run(self, plan: Any, inputs: Any, partition: Any = None) -> Any:
        self.handed.append(dict(inputs))
        return super().run(plan, inputs, partition)


def test_a_run_hands_spark_the_lake_uris_of_its_inputs(spark_mesh: Path) -> None:
    """Spark reads the Delta tables itself: no Arrow copy of an input passes through here."""
    from mesh_platform.run.materialize import materialize_product

    lakehouse = local_lakehouse(spark_mesh)
    events = pa.table({"id": [1, 2], "kind": ["a", "a"], "amount": [1.0, 2.5]})
    planner = planner_for(spark_mesh, "shop")
    plans = planner.plan_all()
    spec = planner.products[("shop", "totals")].spec
    events_at = pa.array([datetime(2024, 1, 1), datetime(2024, 1, 1)], pa.timestamp("us"))
    lakehouse.write(("shop", "events"), events.append_column("at", events_at))
    engine = _RecordingSpark(keys=Keyring.dev())
    done = materialize_product(spec, plans[("shop", "totals")], lakehouse, engine=engine)
    assert engine.handed == [{"events": lakehouse.uri(("shop", "events"))}]
    assert done.table.to_pylist() == [
        {
            "kind": "a",
            "day": date(2024, 1, 1),
            "total": 3.5,
            "events": 2,
            "last_at": datetime(2024, 1, 1),
        }
    ]
