"""SQL that Spark would refuse or mis-type is refused at load, with the file, line and fix."""

from __future__ import annotations

from pathlib import Path

import sqlglot
from sqlglot import exp

from mesh_platform.compile.functions import SPARK_UNMODELLED
from mesh_platform.errors import SpecError
from mesh_platform.loader.mesh import load_mesh
from tests.mini_mesh import validate_errors, write_mesh

SOURCE = """\
name: source
description: A landing copy.
source: {landing: source}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
  - {name: region, type: string}
  - {name: sold_on, type: date}
visibility: published
"""

REGIONS = """\
name: regions
description: Regions by id.
source: {landing: regions}
columns:
  - {name: id, type: bigint}
  - {name: region_name, type: string}
visibility: published
"""


def product(sql: str, extra: str = "") -> str:
    """A product over `other.source` (as `src`) and `other.regions` whose one step is `sql`.

    The SQL starts on line 6 of the file, so its line n is the file's line n + 5.
    """
    body = "\n".join(f"      {line}" for line in sql.strip().splitlines())
    return (
        "name: p\ndescription: A product.\ninputs: {src: other.source, regions: other.regions}\n"
        f"steps:\n  - sql: |\n{body}\n{extra}"
    )


def only_error(tmp_path: Path, sql: str, extra: str = "") -> SpecError:
    root = write_mesh(
        tmp_path, {"other": {"source": SOURCE, "regions": REGIONS}, "d": {"p": product(sql, extra)}}
    )
    errors = validate_errors(root)  # also checks that the code locations agree
    assert len(errors) == 1, "\n".join(map(str, errors))
    error = errors[0]
    assert error.file == root / "domains/d/products/p.yaml"
    return error


def test_an_unknown_function_is_named_with_close_matches(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT id,\n  pseudonymise(region) AS token\nFROM src")
    assert error.problem == (
        "step 'step_1': unknown function 'pseudonymise': neither a Spark SQL function nor one "
        "of the platform's SQL functions"
    )
    assert error.line == 7
    assert error.fix and error.fix.startswith("did you mean pseudonymize")
    assert "`mesh standards`" in error.fix


def test_a_misspelt_spark_function_suggests_the_spark_one(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT id, date_formatt(sold_on, 'yyyy') AS y FROM src")
    assert "unknown function 'date_formatt'" in error.problem
    assert error.line == 6
    assert error.fix and "did you mean date_format" in error.fix


def test_reserved_calls_keep_their_message(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT getvariable('mesh_token_ipad') AS k FROM src")
    assert "SQL may not call getvariable here: getvariable is reserved" in error.problem
    assert error.line == 6


def test_an_idiom_without_sparks_meaning_is_refused_with_the_line_and_fix(
    tmp_path: Path,
) -> None:
    # The local engine cannot split with a positive limit as Spark does (the last element keeps
    # the rest): a product that validates must give Spark's answer on every engine.
    error = only_error(tmp_path, "SELECT id,\n  split(region, '-', 2) AS parts\nFROM src")
    assert error.problem.startswith(
        "step 'step_1': split(str, regex, limit) with a positive limit cannot be given Spark's "
        "meaning here"
    )
    assert error.line == 7
    assert error.fix and "element_at" in error.fix


def test_a_quality_rule_with_an_idiom_without_sparks_meaning_is_refused(tmp_path: Path) -> None:
    rule = (
        "quality:\n  - rule: sql\n    name: odd_dates\n"
        "    sql: SELECT id FROM p WHERE date_format(sold_on, 'QQ') = '05'\n"
    )
    error = only_error(tmp_path, "SELECT id, sold_on FROM src", rule)
    assert error.problem.startswith("quality rule 'odd_dates': date_format(): datetime pattern")
    assert "'Q'" in error.problem


def test_a_quality_rule_calling_an_unknown_function_is_refused_with_its_fix(
    tmp_path: Path,
) -> None:
    rule = (
        "quality:\n  - rule: sql\n    name: long_regions\n"
        "    sql: SELECT id FROM p WHERE lenght(region) > 3\n"
    )
    error = only_error(tmp_path, "SELECT id, region FROM src", rule)
    assert error.problem.startswith("quality rule 'long_regions': unknown function 'lenght'")
    assert error.fix is not None and "did you mean" in error.fix and "length" in error.fix


def test_a_hash_without_a_local_equivalent_is_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT id, xxhash64(region) AS h FROM src")
    assert "xxhash64() cannot be given Spark's meaning here" in error.problem
    assert error.line == 6
    assert error.fix and "sha2(..., 256)" in error.fix


def test_a_column_missing_from_group_by(tmp_path: Path) -> None:
    sql = "SELECT region,\n  amount,\n  sum(amount) AS total\nFROM src\nGROUP BY region"
    error = only_error(tmp_path, sql)
    assert error.problem == (
        "step 'step_1': column 'amount' is neither in GROUP BY nor inside an aggregate function"
    )
    assert error.line == 7
    assert error.fix == "add amount to GROUP BY, or aggregate it (e.g. max(amount))"


def test_a_column_of_an_aggregate_without_group_by(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT region, count(*) AS n FROM src")
    assert "column 'region' is neither in GROUP BY nor inside an aggregate" in error.problem
    assert error.line == 6


def test_a_group_by_alias_does_not_group_the_source_column_of_that_name(tmp_path: Path) -> None:
    # Spark resolves GROUP BY names against the input first: `region` here is src.region,
    # so the selected `id` (aliased region) is not grouped.
    sql = "SELECT id AS region, count(*) AS n\nFROM src\nGROUP BY region"
    error = only_error(tmp_path, sql)
    assert "column 'id' is neither in GROUP BY" in error.problem
    assert error.line == 6


def test_a_trailing_comma_before_from(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT id,\n  amount,\nFROM src")
    assert error.problem == (
        "step 'step_1': trailing comma before FROM: Spark SQL refuses a comma after the last "
        "item of a list"
    )
    assert error.line == 7
    assert error.fix == "remove the comma before FROM"


def test_a_trailing_comma_in_group_by(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT region, count(*) AS n FROM src\nGROUP BY region,")
    assert "trailing comma before the end of the query" in error.problem
    assert error.line == 7


def test_a_declared_type_of_another_family(tmp_path: Path) -> None:
    columns = "columns:\n  - {name: id, type: bigint}\n  - {name: label, type: bigint}\n"
    error = only_error(tmp_path, "SELECT id, upper(region) AS label FROM src", columns)
    assert error.problem == (
        "d.p breaks its contract: column 'label' is string but the contract says bigint; "
        "CAST it in the last step or correct the declared type"
    )
    assert error.line == 9
    assert error.fix == (
        "select `CAST(... AS BIGINT) AS label` in the last step, or declare `type: string`"
    )


def test_numeric_widening_and_unknown_types_are_allowed(tmp_path: Path) -> None:
    columns = (
        "columns:\n  - {name: id, type: 'decimal(20,0)'}\n  - {name: total, type: int}\n"
        "  - {name: region, type: string}\n"
    )
    text = product(
        "SELECT id, CAST(sum(amount) AS INT) AS total, sales_region(region) AS region\n"
        "FROM src GROUP BY id, region",
        columns,
    )
    root = write_mesh(tmp_path, {"other": {"source": SOURCE, "regions": REGIONS}, "d": {"p": text}})
    mesh = load_mesh(root)
    assert mesh.schema(("d", "p")) == {"id": "decimal(20,0)", "total": "int", "region": "string"}


def test_an_ambiguous_column_names_the_inputs(tmp_path: Path) -> None:
    sql = "SELECT region_name,\n  id\nFROM src JOIN regions r ON src.id = r.id"
    error = only_error(tmp_path, sql)
    assert error.problem == (
        "step 'step_1': column 'id' is ambiguous: src, regions (as r) all have it"
    )
    assert error.line == 7
    assert error.fix == "qualify it with the input it comes from, e.g. src.id"


def test_a_table_function_is_named_not_empty(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT *\nFROM read_csv('/etc/passwd')")
    assert error.problem.startswith(
        "step 'step_1': table function 'read_csv' may not be read: domain SQL reads only its "
        "inputs and earlier steps (regions, src)"
    )
    assert "''" not in error.problem
    assert error.line == 7
    assert error.fix and "`inputs:`" in error.fix


def test_an_anonymous_table_function_is_named(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT id FROM range(10)")
    assert "table function 'range' may not be read" in error.problem
    assert error.line == 6


def test_a_database_qualified_table_is_refused(tmp_path: Path) -> None:
    error = only_error(tmp_path, "SELECT id FROM finance.src")
    assert "'finance.src' names a database, catalog or file" in error.problem
    assert error.line == 6
    assert error.fix and "`inputs:`" in error.fix


VALID = """\
WITH totals AS (
  SELECT region, sold_on, sum(amount) AS amount, count(*) AS n
  FROM src
  GROUP BY 1, 2
  HAVING sum(amount) > 0
),
by_all AS (
  SELECT region, date_format(sold_on, 'yyyy-MM') AS month, avg(amount) AS avg_amount
  FROM src
  GROUP BY ALL
)
SELECT t.region, sales_region(t.region) AS sales_region, mask_partial(t.region, 1) AS masked,
  pseudonymize(t.region) AS token, t.sold_on, t.amount, b.avg_amount,
  row_number() OVER (PARTITION BY t.region ORDER BY t.amount DESC) AS rank_in_region,
  sum(t.amount) OVER (PARTITION BY t.region) AS region_amount,
  nvl(t.n, 0) AS n, datediff(t.sold_on, DATE '2020-01-01') AS days,
  months_between(t.sold_on, DATE '2020-01-01') AS months, pmod(t.n, 7) AS bucket,
  concat_ws('-', split(t.region, ' ')) AS words,
  (SELECT max(r.region_name) FROM regions r WHERE r.region_name = t.region) AS named
FROM totals t JOIN by_all b ON t.region = b.region AND date_format(t.sold_on, 'yyyy-MM') = b.month
"""

GROUPED = """\
SELECT upper(region) AS region, year(sold_on) AS year, percentile_approx(amount, 0.5) AS median,
  collect_list(id) AS ids, max(amount) - min(amount) AS spread,
  count(*) FILTER (WHERE amount > 10) AS big, regexp_extract(upper(region), '(A)', 1) AS a,
  rank() OVER (ORDER BY sum(amount) DESC) AS amount_rank, 'x' AS constant
FROM src
GROUP BY upper(region), year
ORDER BY year, sum(amount)
"""


def test_valid_spark_sql_still_validates(tmp_path: Path) -> None:
    second = product(GROUPED).replace("name: p\n", "name: q\n")
    root = write_mesh(
        tmp_path,
        {"other": {"source": SOURCE, "regions": REGIONS}, "d": {"p": product(VALID), "q": second}},
    )
    mesh = load_mesh(root)
    assert "rank_in_region" in mesh.schema(("d", "p"))
    assert list(mesh.schema(("d", "q")))[:3] == ["region", "year", "median"]


def test_the_unmodelled_spark_functions_are_still_unmodelled() -> None:
    # If sqlglot starts to type one of these, it no longer needs to be on the list.
    for name in sorted(SPARK_UNMODELLED):
        parsed = sqlglot.parse_one(f"SELECT {name}(a) FROM t", read="spark")
        assert isinstance(parsed.selects[0], exp.Anonymous), name
