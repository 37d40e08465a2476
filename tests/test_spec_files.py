"""Bad files and fields that once passed `mesh validate` and broke later are refused at load,
with the file, the line and the fix; `mesh validate` and the code location agree."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.spec.yaml_source import MAX_EXPANDED_NODES
from tests.fixtures_mesh import forget_domains
from tests.mini_mesh import validate_errors, write_mesh

LANDING = """\
name: events
description: Landing copy.
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: day, type: date}
  - {name: amount, type: double}
"""

DAILY = """\
name: daily
description: Amount per day.
inputs: {events: events}
partitioning: {column: day, granularity: daily, start: 2024-01-01}
steps:
  - sql: SELECT day, sum(amount) AS amount FROM events GROUP BY day
"""


def _errors(root: Path) -> list[SpecError]:
    return validate_errors(root)  # also checks that the code location agrees


def _one(root: Path) -> SpecError:
    (error,) = _errors(root)
    return error


def test_an_owner_dagster_would_refuse(tmp_path: Path) -> None:
    text = LANDING.replace("source:", "owners: [analytics]\nsource:")
    error = _one(write_mesh(tmp_path, {"shop": {"events": text}}))
    assert "owner 'analytics' must be an email address" in error.problem
    assert error.line == 3


def test_decimal_precision_beyond_38(tmp_path: Path) -> None:
    text = LANDING.replace("type: double", 'type: "decimal(50,2)"')
    error = _one(write_mesh(tmp_path, {"shop": {"events": text}}))
    assert "decimal(50,2)" in error.problem and "precision must be 1-38" in error.problem
    assert error.line == 7


def test_a_partition_range_that_ends_before_it_starts(tmp_path: Path) -> None:
    text = DAILY.replace("start: 2024-01-01}", "start: 2024-01-01, end: 2023-01-01}")
    error = _one(write_mesh(tmp_path, {"shop": {"events": LANDING, "daily": text}}))
    assert "`end` (2023-01-01) must come after `start` (2024-01-01)" in error.problem
    assert error.line == 4


def test_a_partition_column_the_sql_does_not_produce(tmp_path: Path) -> None:
    text = DAILY.replace("SELECT day, sum", "SELECT day AS event_day, sum").replace(
        "GROUP BY day", "GROUP BY 1"
    )
    error = _one(write_mesh(tmp_path, {"shop": {"events": LANDING, "daily": text}}))
    assert "partitioned by 'day' but its steps do not produce it" in error.problem
    assert error.line == 4 and error.fix and "select 'day'" in error.fix


def test_a_partition_column_that_is_not_a_date(tmp_path: Path) -> None:
    text = DAILY.replace("column: day", "column: amount")
    error = _one(write_mesh(tmp_path, {"shop": {"events": LANDING, "daily": text}}))
    assert "partition column 'amount' is double" in error.problem


def test_yml_files_are_not_skipped_silently(tmp_path: Path) -> None:
    root = write_mesh(tmp_path, {"shop": {"events": LANDING}})
    (root / "domains/shop/products/daily.yml").write_text(DAILY)
    (root / "domains/shop/products/notes.txt").write_text("todo")
    errors = _errors(root)
    assert [e.file.name if e.file else None for e in errors] == ["daily.yml", "notes.txt"]
    assert errors[0].fix == "rename it to daily.yaml"


def test_a_misnamed_domain_file(tmp_path: Path) -> None:
    root = write_mesh(tmp_path, {"shop": {"events": LANDING}})
    folder = root / "domains/shop"
    (folder / "domain.yaml").rename(folder / "domain.yml")
    with pytest.raises(SpecErrors) as caught:
        load_mesh(root)
    (error,) = caught.value.errors
    assert "named domain.yml" in error.problem and error.fix and "domain.yaml" in error.fix


def test_a_file_that_is_not_utf8_text(tmp_path: Path) -> None:
    root = write_mesh(tmp_path, {"shop": {"events": LANDING}})
    (root / "domains/shop/products/daily.yaml").write_bytes(
        DAILY.encode().replace(b"Amount per day", b"Montant \xe9 jour")
    )
    error = _one(root)
    assert error.file and error.file.name == "daily.yaml"
    assert "not UTF-8 text" in error.problem and error.line == 2


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ["a: &a [" + ", ".join(['"x"'] * 9) + "]"]
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    root = write_mesh(tmp_path, {"shop": {"events": LANDING}})
    (root / "domains/shop/products/bomb.yaml").write_text("\n".join(levels) + "\n")
    started = time.perf_counter()
    error = _one(root)
    assert time.perf_counter() - started < 30  # 9^9 values if expanded: never finishes
    assert f"expand to more than {MAX_EXPANDED_NODES:,} values" in error.problem


PYTHON_PRODUCT = """\
from mesh_platform import ProductSpec, SqlStep

product = ProductSpec(
    domain="shop",
    name="totals",
    description="Totals.",
    inputs={"events": "events"},
    steps=(SqlStep(sql="SELECT sum(amount) AS total FROM events"),),
)
"""


@pytest.mark.parametrize(
    ("text", "problem", "line"),
    [
        (PYTHON_PRODUCT.replace('name="totals",', 'name="totals"'), "syntax error", 5),
        (PYTHON_PRODUCT.replace("SqlStep\n", "SqlStep\nimport not_a_module\n"), "not_a_module", 2),
        (PYTHON_PRODUCT.replace('"totals"', '"Totals"'), "'Totals' must be lowercase", 3),
    ],
)
def test_a_python_product_that_does_not_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, problem: str, line: int
) -> None:
    root = write_mesh(tmp_path, {"shop": {"events": LANDING}})
    for package in ("domains", "domains/shop", "domains/shop/products"):
        (root / package / "__init__.py").write_text("")
    (root / "domains/shop/products/totals.py").write_text(text)
    # This mesh's `domains` package, not the checkout's, for the length of the test.
    monkeypatch.syspath_prepend(str(root))
    previous = forget_domains()
    try:
        with pytest.raises(SpecErrors) as caught:
            load_mesh(root)
    finally:
        forget_domains()  # this mesh's modules must not stay for the next tests
        sys.modules.update(previous)
    (error,) = caught.value.errors
    assert error.file and error.file.name == "totals.py"
    assert problem in error.problem and error.line == line


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ("tags: {team name: sales}\n", "keys and values are at most 63 letters"),
        ("tags: {tier: gold plated}\n", "keys and values are at most 63 letters"),
        ("tags: {domain: other}\n", "tag 'domain' is set by the platform"),
        ("kinds: [a, b, c, d, e, f]\n", "at most 5 kinds"),
    ],
)
def test_tags_and_kinds_dagster_would_refuse(tmp_path: Path, extra: str, problem: str) -> None:
    error = _one(write_mesh(tmp_path, {"shop": {"events": LANDING + extra}}))
    assert problem in error.problem and error.line == 8


def test_a_file_nested_too_deeply(tmp_path: Path) -> None:
    root = write_mesh(tmp_path, {"shop": {"events": LANDING}})
    (root / "domains/shop/products/deep.yaml").write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    error = _one(root)
    assert "nests values too deeply" in error.problem and error.file
    assert error.file.name == "deep.yaml"
