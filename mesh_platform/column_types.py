"""The one vocabulary of column types: contract names, families, and their Arrow and SQL forms.

A product's contract writes types as `string`, `bigint`, `decimal(15,2)`, ... (Spark SQL's
names). Every layer speaks this vocabulary: the spec validates it, SQL planning infers it,
the contract check casts to it, standard steps check parameters against it. `unknown` is a
column whose type is not known at load (after a Python step, or an untyped input).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlglot import exp

UNKNOWN = "unknown"
Schema = dict[str, str]  # column name -> contract type name
Family = Literal["number", "string", "time", "boolean"]

MAX_DECIMAL_PRECISION = 38
_DECIMAL = re.compile(r"^decimal\((\d{1,2}),\s*(\d{1,2})\)$")


@dataclass(frozen=True)
class ColumnType:
    """A simple (parameterless) contract type: its family and its Arrow type's factory name."""

    name: str
    family: Family
    arrow: str


SIMPLE_TYPES: dict[str, ColumnType] = {
    t.name: t
    for t in (
        ColumnType("string", "string", "string"),
        ColumnType("bigint", "number", "int64"),
        ColumnType("int", "number", "int32"),
        ColumnType("smallint", "number", "int16"),
        ColumnType("tinyint", "number", "int8"),
        ColumnType("double", "number", "float64"),
        ColumnType("float", "number", "float64"),
        ColumnType("boolean", "boolean", "bool_"),
        ColumnType("date", "time", "date32"),
        ColumnType("timestamp", "time", "timestamp"),
    )
}
TYPE_NAMES = ", ".join([*SIMPLE_TYPES, "decimal(p,s)"])


def normalize(text: str) -> str:
    """A written type as its canonical name (`Decimal(15, 2)` -> `decimal(15,2)`).

    Raises ValueError naming the allowed types when `text` is not one of them.
    """
    value = text.strip().lower()
    if value in SIMPLE_TYPES:
        return value
    match = _DECIMAL.match(value)
    if match:
        precision, scale = int(match[1]), int(match[2])
        if not 1 <= precision <= MAX_DECIMAL_PRECISION or scale > precision:
            raise ValueError(
                f"column type {value!r}: precision must be 1-{MAX_DECIMAL_PRECISION} and "
                "scale at most the precision"
            )
        return f"decimal({precision},{scale})"
    raise ValueError(f"column type {value!r} is not one of: {TYPE_NAMES}")


def family(type_name: str) -> Family | None:
    """The family of a contract type (None for `unknown`)."""
    if type_name in SIMPLE_TYPES:
        return SIMPLE_TYPES[type_name].family
    return "number" if type_name.startswith("decimal") else None


def is_numeric(type_name: str) -> bool:
    """Whether values of the type are numbers (integers, floating point, decimals)."""
    return family(type_name) == "number"


def is_temporal(type_name: str) -> bool:
    """Whether values of the type are dates or timestamps."""
    return family(type_name) == "time"


def arrow_type(type_name: str) -> pa.DataType | None:
    """The Arrow type of a contract type, None for `unknown`."""
    import pyarrow as pa

    simple = SIMPLE_TYPES.get(type_name)
    if simple is not None:
        factory = getattr(pa, simple.arrow)
        return factory("us") if simple.arrow == "timestamp" else factory()
    match = _DECIMAL.match(type_name)
    if match:
        return pa.decimal128(int(match[1]), int(match[2]))
    return None


def arrow_family(arrow: pa.DataType) -> str:
    """The family of an Arrow type (its own name when it has none in the vocabulary)."""
    import pyarrow as pa

    if pa.types.is_integer(arrow) or pa.types.is_floating(arrow) or pa.types.is_decimal(arrow):
        return "number"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_string_view(
        arrow
    ):
        return "string"
    if pa.types.is_date(arrow) or pa.types.is_timestamp(arrow):
        return "time"
    if pa.types.is_boolean(arrow):
        return "boolean"
    return str(arrow)


def from_arrow(arrow: pa.DataType) -> str:
    """The contract type name of an Arrow type (its Arrow name when it has none)."""
    import pyarrow as pa

    if pa.types.is_decimal(arrow):
        return f"decimal({arrow.precision},{arrow.scale})"
    if arrow_family(arrow) == "string":
        return "string"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    for name in SIMPLE_TYPES:
        if arrow_type(name) == arrow:
            return name
    return str(arrow)


def from_sqlglot(data_type: exp.DataType | None) -> str:
    """A type sqlglot inferred, as a contract type name (`unknown` when it has none)."""
    if data_type is None:
        return UNKNOWN
    from sqlglot import exp

    t = exp.DataType.Type
    simple = {
        t.VARCHAR: "string",
        t.TEXT: "string",
        t.CHAR: "string",
        t.NVARCHAR: "string",
        t.INT: "int",
        t.BIGINT: "bigint",
        t.SMALLINT: "smallint",
        t.TINYINT: "tinyint",
        t.DOUBLE: "double",
        t.FLOAT: "double",
        t.BOOLEAN: "boolean",
        t.DATE: "date",
        t.TIMESTAMP: "timestamp",
        t.DATETIME: "timestamp",
    }
    if data_type.this in simple:
        return simple[data_type.this]
    if data_type.this == t.DECIMAL:
        params = [p.sql() for p in data_type.expressions]
        return f"decimal({','.join(params)})" if params else "decimal(38,18)"
    return UNKNOWN


def unknown_columns_message(
    columns: Iterable[str], available: Mapping[str, str] | Iterable[str], what: str
) -> str | None:
    """The one "unknown column" check: None when every column exists, else the message.

    The message names each missing column, a close match when there is one, and every
    available column, so the author can fix the spelling without opening another file.
    """
    known = list(available)
    missing = [c for c in columns if c not in known]
    if not missing or not known:
        return None
    hints = []
    for column in missing:
        close = difflib.get_close_matches(column, known, n=1)
        if close:
            hints.append(f"{column!r} (did you mean {close[0]!r}?)")
    suggestion = f"; {', '.join(hints)}" if hints else ""
    return (
        f"{what}: unknown column(s) {', '.join(missing)}{suggestion}; "
        f"available: {', '.join(known)}"
    )


def require_columns(
    columns: Iterable[str], available: Mapping[str, str] | Iterable[str], what: str
) -> None:
    """Raise ValueError (see `unknown_columns_message`) unless every column is available."""
    message = unknown_columns_message(columns, available, what)
    if message is not None:
        raise ValueError(message)
