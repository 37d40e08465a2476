"""Spark SQL idioms refused at validate: those no engine of the mesh can answer as Spark does.

A spec is written in Spark SQL and must mean the same on every engine: the local engine
(DuckDB) translates Spark's idioms to Spark's answers (`engine/duckdb/translate.py`, proven by
tests/test_spark_idioms.py). The few it cannot translate faithfully are refused here, before
anything runs, with the function's name, the line and a Spark-valid alternative that does run
everywhere: a product that validates must give the same answer locally and on Spark.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from sqlglot import exp

from mesh_platform.errors import SpecError

# Spark's trunc / date_trunc formats (the local engine maps each to its own date part).
TRUNC_FORMATS = frozenset(
    {"YEAR", "YYYY", "YY", "QUARTER", "MONTH", "MM", "MON", "WEEK", "DAY", "DD", "HOUR",
     "MINUTE", "SECOND", "MILLISECOND", "MICROSECOND"}
)  # fmt: skip
_DATE_FORMATS = frozenset({"YEAR", "YYYY", "YY", "QUARTER", "MONTH", "MM", "MON", "WEEK"})

# Anonymous Spark built-ins (allowed by compile/functions.py) without a faithful translation:
# name -> (why, fix).
REFUSED_FUNCTIONS = {
    "crc32": (
        "its checksum is not computed by the local engine",
        "use md5(...) or sha2(..., 256), which give the same hex text on every engine",
    ),
    "xxhash64": (
        "its hash values are Spark's own and the local engine cannot compute them",
        "use md5(...) or sha2(..., 256), which give the same hex text on every engine",
    ),
    "array_union": (
        "the local engine does not keep Spark's order of the distinct elements",
        "use concat(a, b) (keeps duplicates) or express the union with explode and DISTINCT",
    ),
    "format_number": (
        "its locale formatting (grouping commas, HALF_EVEN rounding) is not reproduced locally",
        "keep the number (round(x, d)) and format it where it is displayed",
    ),
}


# Spark built-ins sqlglot models (typed) that the local engine has no equivalent for.
NO_LOCAL_EQUIVALENT: dict[str, str] = {
    "ArrayInsert": "array_insert",
    "BitmapCount": "bitmap_count",
    "BitmapOrAgg": "bitmap_or_agg",
    "_ExplodeOuter": "explode_outer",
    "PosexplodeOuter": "posexplode_outer",
    "Inline": "inline",
    "ParseUrl": "parse_url",
    "Randn": "randn",
    "Shuffle": "shuffle",
    "Stack": "stack",
    "StrToMap": "str_to_map",
    "WidthBucket": "width_bucket",
}


class Refusal(SpecError):
    """An idiom refused, with the node to point at and the fix."""

    def __init__(self, name: str, node: exp.Expr, message: str, fix: str) -> None:
        super().__init__(message)
        self.name = name
        self.node = node
        self.message = message
        self.fix = fix


def refusals(query: exp.Expr) -> Iterator[Refusal]:
    """Every idiom of `query` that cannot be given Spark's meaning on every engine."""
    for node in query.walk():
        check = _CHECKS.get(type(node))
        if check is not None:
            found = check(node)
            if found is not None:
                yield found


def _anonymous(node: exp.Anonymous) -> Refusal | None:
    name = node.name.lower()
    if name not in REFUSED_FUNCTIONS or isinstance(node.parent, exp.Table):
        return None
    why, fix = REFUSED_FUNCTIONS[name]
    return Refusal(name, node, f"{name}() cannot be given Spark's meaning here: {why}", fix)


def _split(node: exp.RegexpSplit) -> Refusal | None:
    limit = node.args.get("limit")
    value = int_literal(limit) if limit is not None else 0
    if value is not None and value <= 0:  # no limit, or one meaning none
        return None
    return Refusal(
        "split",
        node,
        "split(str, regex, limit) with a positive limit cannot be given Spark's meaning here "
        "(the last element keeps the rest of the text)",
        "split without a limit (or with -1), then pick elements with element_at or slice",
    )


def _trunc(node: exp.DateTrunc | exp.TimestampTrunc) -> Refusal | None:
    name = "trunc" if isinstance(node, exp.DateTrunc) else "date_trunc"
    formats = _DATE_FORMATS if name == "trunc" else TRUNC_FORMATS
    unit = node.args.get("unit")
    text = unit.name.upper() if isinstance(unit, (exp.Literal, exp.Var)) else None
    if text in formats:
        return None
    return Refusal(
        name,
        node,
        f"{name}() needs a literal format that Spark knows; got "
        f"{unit.sql(dialect='spark') if unit is not None else 'none'}",
        f"write the format as a string literal, one of: {', '.join(sorted(formats))}",
    )


# sqlglot reads a Spark datetime pattern into strftime directives (`yyyy` -> `%Y`, marked
# `strict` where Spark requires the width); what it leaves as letters it did not understand.
_DIRECTIVE = re.compile(r"%-?[a-zA-Z](?:strict)?")
QUOTED_TEXT = re.compile(r"'([^']*)'")
MILLIS = re.compile(r"(?<![A-Za-z])SSS(?![A-Za-z])")
_PATTERN_FUNCTIONS: dict[type[exp.Expr], str] = {
    exp.TimeToStr: "date_format",
    exp.TsOrDsToDate: "to_date",
    exp.StrToTime: "to_timestamp",
    exp.StrToDate: "to_date",
    exp.StrToUnix: "unix_timestamp",
    exp.UnixToStr: "from_unixtime",
}


def spark_pattern(text: str) -> str:
    """A pattern as sqlglot's strftime directives. sqlglot converts the patterns of most
    functions when it parses them, not `to_unix_timestamp`'s: one without any directive but
    with letters is converted here."""
    if "%" in text or not any(c.isascii() and c.isalpha() for c in text):
        return text
    from sqlglot.dialects.spark import Spark
    from sqlglot.time import format_time

    return format_time(text, Spark.TIME_MAPPING, Spark.TIME_TRIE) or text


def _pattern(node: exp.Expr) -> Refusal | None:
    """A datetime pattern must be a literal whose every letter the local engine maps."""
    name = _PATTERN_FUNCTIONS[type(node)]
    fmt = node.args.get("format")
    if fmt is None:
        return None
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return Refusal(
            name,
            node,
            f"{name}() needs its datetime pattern as a literal (the local engine maps Spark's "
            "pattern letters when it reads the query)",
            "write the pattern as a string literal, e.g. 'yyyy-MM-dd'",
        )
    text = spark_pattern(fmt.name)
    if any("%" in quoted for quoted in QUOTED_TEXT.findall(text)):
        return Refusal(
            name,
            node,
            f"{name}(): quoted text in a datetime pattern may not hold pattern letters here",
            "concatenate the text instead: concat(date_format(d, 'yyyy'), ' at ', ...)",
        )
    rest = MILLIS.sub("", _DIRECTIVE.sub("", QUOTED_TEXT.sub("", text)))
    letters = sorted({c for c in rest if c.isascii() and c.isalpha()})
    if not letters:
        return None
    return Refusal(
        name,
        node,
        f"{name}(): datetime pattern letter {', '.join(map(repr, letters))} has no equivalent on "
        "the local engine",
        "use the letters y, M, d, D, H, h, m, s, SSS, SSSSSS, a, E, or a function "
        "(quarter(d), weekofyear(d), ...)",
    )


def _soundex(node: exp.Soundex) -> Refusal:
    return Refusal(
        "soundex",
        node,
        "soundex() cannot be given Spark's meaning here: the local engine has no soundex",
        "compare names with levenshtein(a, b) or a normalized form (lower, trim, translate)",
    )


def _no_local_equivalent(node: exp.Expr) -> Refusal:
    name = NO_LOCAL_EQUIVALENT[type(node).__name__]
    return Refusal(
        name,
        node,
        f"{name}() cannot be given Spark's meaning here: the local engine has no equivalent",
        "express it with the functions listed in docs/spark-sql.md (explode, element_at, "
        "regexp_extract, split, concat, ...)",
    )


def _star_argument(node: exp.Star) -> Refusal | None:
    """`*` (or `t.*`) as a function's argument: Spark expands it to the columns (struct(*) is a
    struct of every column, named after it); the local engine cannot expand it there."""
    holder = node.parent if isinstance(node.parent, exp.Column) else node
    function = holder.parent
    if not isinstance(function, exp.Func) or isinstance(function, exp.Count):
        return None  # SELECT *, t.*, count(*)
    name = (
        function.name if isinstance(function, exp.Anonymous) else function.sql_names()[0]
    ).lower()
    return Refusal(
        name,
        function,
        f"{name}(*) cannot be given Spark's meaning here: the local engine cannot expand * "
        "inside a function call",
        "name the columns in place of `*`: "
        + (
            "struct(a, b, ...) gives the same fields, each named after its column"
            if name == "struct"
            else f"{name}(..., a, b) instead of {name}(..., *)"
        ),
    )


def int_literal(node: exp.Expr) -> int | None:
    """The value of an integer literal (`2`, `-1`); None for anything else."""
    if isinstance(node, exp.Neg):
        inner = int_literal(node.this)
        return None if inner is None else -inner
    if isinstance(node, exp.Literal) and node.is_int:
        return int(node.name)
    return None


_CHECKS: dict[type[exp.Expr], Callable[..., Refusal | None]] = {
    exp.Anonymous: _anonymous,
    exp.RegexpSplit: _split,
    exp.DateTrunc: _trunc,
    exp.TimestampTrunc: _trunc,
    exp.Soundex: _soundex,
    exp.Star: _star_argument,
    **{
        getattr(exp, cls): _no_local_equivalent
        for cls in NO_LOCAL_EQUIVALENT
        if hasattr(exp, cls)  # sqlglot may rename a class; the test suite checks each name
    },
    **dict.fromkeys(_PATTERN_FUNCTIONS, _pattern),
}
