"""A materialization's metadata shows no clear value of a column the access policy protects:
its sample rows (`mesh/preview`) are what a reader of another domain without clearance sees,
and `mesh/preview_masked` says which columns were masked or left out (issue 20, item 3)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from mesh_platform.dagster.resources import CatalogResource
from tests.mini_mesh import domain_assets, local_lakehouse, write_mesh
from tests.test_access_policy import PEOPLE  # the same landed people, one spec

# The platform ingests the landing exports (issue 20 item 4: landing belongs to it).
# `loud_name` is PII by propagation, though nobody tagged it.
SHOUTED = """\
name: shouted
description: People's names, loud.
inputs: {people: people}
steps:
  - sql: SELECT id, upper(name) AS loud_name, city FROM people
"""
PAYROLL = """\
name: payroll
description: The payroll, restricted.
tags: {sensitivity: restricted}
inputs: {people: people}
steps:
  - sql: SELECT id, city, salary * 12 AS yearly FROM people
"""
NAMES = ["Alice Liddell", "Bartholomew Quince"]
BORN = [dt.date(1990, 5, 17), dt.date(1985, 11, 2)]
SALARIES = [98765.25, 45678.75]
CITIES = ["Springfield", "Shelbyville"]


@pytest.fixture(scope="module")
def materialized(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Each product's materialization metadata, after one Dagster run of the domain."""
    root = tmp_path_factory.mktemp("mesh")
    write_mesh(root, {"platform": {"people": PEOPLE, "shouted": SHOUTED, "payroll": PAYROLL}})
    lakehouse = local_lakehouse(root)
    pl.DataFrame(
        {"id": [1, 2], "name": NAMES, "born": BORN, "city": CITIES, "salary": SALARIES}
    ).write_parquet(root / "landing" / "people.parquet")
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        domain_assets(root, "platform"),
        resources={
            "lakehouse": lakehouse,
            "catalog": CatalogResource(url=f"sqlite:///{root / 'catalog.db'}"),
        },
        instance=instance,
    )
    assert result.success
    found: dict[str, dict[str, Any]] = {}
    for product in ("people", "shouted", "payroll"):
        (record,) = instance.fetch_materializations(
            dg.AssetKey(["platform", product]), limit=5
        ).records
        materialization = record.asset_materialization
        assert materialization is not None
        found[product] = {"metadata": dict(materialization.metadata), "root": root}
    return found


def _text(metadata: dict[str, Any]) -> str:
    """Every metadata value as text: what anyone with the UI can read."""
    return "\n".join(
        f"{key}: {value!r} {getattr(value, 'value', '')}" for key, value in metadata.items()
    )


def _clear_values(root: Path, product: str, columns: list[str]) -> list[str]:
    """The clear values of `columns` in the product's Delta table."""
    table = pl.read_delta(str(root / "lake" / "platform" / product))
    values = [str(v) for c in columns for v in table[c].to_list()]
    assert values
    return values


def test_no_clear_value_of_a_protected_column_is_in_the_metadata(
    materialized: dict[str, dict[str, Any]],
) -> None:
    people = materialized["people"]
    text = _text(people["metadata"])
    clear = _clear_values(people["root"], "people", ["name", "born", "salary"])
    assert sorted(clear) == sorted(
        [*NAMES, *(d.isoformat() for d in BORN), *(str(s) for s in SALARIES)]
    )
    leaks = [value for value in clear if value in text]
    assert leaks == []
    # The sample is still there: the unprotected column in clear, `name` as the policy masks
    # it for a reader without clearance (`redact`, keep 1), `born` (a date) nullified.
    preview = people["metadata"]["mesh/preview"].value
    assert "Springfield" in preview and "A***" in preview and "B***" in preview
    assert "| id | name | born | city |" in preview
    assert "salary" not in preview.split("\n\n", 1)[1]  # hidden: left out of the rows
    said = people["metadata"]["mesh/preview_masked"].value
    assert sorted(said) == ["born", "name", "salary"]
    assert said["name"].startswith("masked (redact: tag 'pii'")
    assert said["born"].startswith("masked (nullify: tag 'pii'")
    assert said["salary"].startswith("left out (tag 'secret'")


def test_a_column_pii_by_propagation_is_masked_too(
    materialized: dict[str, dict[str, Any]],
) -> None:
    shouted = materialized["shouted"]
    text = _text(shouted["metadata"])
    clear = _clear_values(shouted["root"], "shouted", ["loud_name"])
    assert clear and [value for value in clear if value in text] == []
    assert "ALICE LIDDELL" in clear
    preview = shouted["metadata"]["mesh/preview"].value
    assert "A***" in preview and "Shelbyville" in preview
    assert list(shouted["metadata"]["mesh/preview_masked"].value) == ["loud_name"]


def test_a_product_no_uncleared_reader_may_read_shows_no_rows(
    materialized: dict[str, dict[str, Any]],
) -> None:
    payroll = materialized["payroll"]
    text = _text(payroll["metadata"])
    clear = _clear_values(payroll["root"], "payroll", ["yearly", "city"])
    assert [value for value in clear if value in text] == []
    preview = payroll["metadata"]["mesh/preview"].value
    assert preview.startswith("_No sample rows: tag 'sensitivity=restricted'")
    assert payroll["metadata"]["dagster/row_count"].value == 2
