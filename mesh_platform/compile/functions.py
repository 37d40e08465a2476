"""Which functions domain SQL may call: Spark SQL's built-ins and the platform's SQL functions.

sqlglot parses every function it models into a typed expression (`exp.DateFormat`,
`exp.ArrayAgg`, ...) and everything else into `exp.Anonymous`. A typed function is therefore one
the Spark dialect knows; an anonymous one is either a platform function (`pseudonymize`,
`sales_region`, ... from the registry), one of the few genuine Spark built-ins sqlglot happens
not to model (`SPARK_UNMODELLED` below), or a name Spark would refuse at run time. Refusing the
last kind at load turns a failed nightly run into an error on the author's screen.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from functools import cache

from sqlglot import exp

from mesh_platform.registry import registry

# Spark SQL built-ins (Spark 3.4+) that sqlglot 30.30 parses as `exp.Anonymous`, checked one
# by one: common Spark functions such as date_format, datediff, months_between, nvl,
# collect_list, percentile_approx, regexp_extract, split, concat_ws, array_contains and explode
# are typed and need no entry. Kept small on purpose: add a name only after checking that it is
# a Spark built-in and that sqlglot leaves it anonymous (tests/test_sql_checks.py checks the
# second, so an entry sqlglot starts to model shows up). Some of these have no DuckDB
# equivalent (pmod, bround, isnull, ...), so a product using them runs on Spark only.
#
# Deliberately left out although Spark has them: aes_encrypt / aes_decrypt /
# try_aes_decrypt (key material in SQL text; use encrypt_det / decrypt_det, whose use is
# policed), input_file_name / spark_partition_id / monotonically_increasing_id (engine
# internals, different on every run), raise_error / assert_true (use quality rules),
# window / session_window (streaming time windows).
SPARK_UNMODELLED_AGGREGATES = frozenset({"mean", "std", "every", "some", "try_sum", "try_avg"})
SPARK_UNMODELLED = SPARK_UNMODELLED_AGGREGATES | frozenset(
    {
        "array_union",
        "arrays_overlap",
        "bround",
        "btrim",
        "cardinality",
        "crc32",
        "date_part",
        "datepart",
        "expm1",
        "find_in_set",
        "format_number",
        "isnotnull",
        "isnull",
        "log1p",
        "make_date",
        "map_concat",
        "map_values",
        "now",
        "pmod",
        "timestamp_millis",
        "timestamp_seconds",
        "url_decode",
        "weekday",
        "xxhash64",
    }
)


def platform_functions() -> frozenset[str]:
    """The names of the platform's SQL functions (built-ins and registered business rules)."""
    return frozenset(f.name.lower() for f in registry().functions.all())


@cache
def _typed_function_names(dialect: str) -> tuple[str, ...]:
    """Function names sqlglot's parser for `dialect` types (the pool for spelling hints)."""
    from sqlglot.dialects.dialect import Dialect

    parser = Dialect.get_or_raise(dialect).parser_class
    return tuple(sorted(name.lower() for name in parser.FUNCTIONS))


def is_aggregate(node: exp.Expression) -> bool:
    """Whether `node` is an aggregate function call (typed, or an unmodelled Spark one)."""
    if isinstance(node, exp.AggFunc):
        return True
    if isinstance(node, exp.Any):
        # Spark's any(bool) aggregate (bool_or) parses as exp.Any, which is also the
        # `x = ANY (...)` comparison: only the call outside a comparison aggregates.
        return not isinstance(node.parent, exp.Predicate)
    return isinstance(node, exp.Anonymous) and node.name.lower() in SPARK_UNMODELLED_AGGREGATES


def unknown_calls(query: exp.Expr) -> Iterator[exp.Anonymous]:
    """The calls in `query` to functions neither Spark SQL nor the platform provides.

    A function in FROM is a table function, which `sql.validate` refuses by name.
    """
    allowed = platform_functions() | SPARK_UNMODELLED
    for call in query.find_all(exp.Anonymous):
        if not isinstance(call.parent, exp.Table) and call.name.lower() not in allowed:
            yield call


def close_matches(name: str, dialect: str) -> list[str]:
    """Up to three known function names close to `name`, the platform's first."""
    pool = [*sorted(platform_functions() | SPARK_UNMODELLED), *_typed_function_names(dialect)]
    return difflib.get_close_matches(name.lower(), list(dict.fromkeys(pool)), n=3)
