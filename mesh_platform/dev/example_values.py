"""The values written in product tests, checked and converted to a column's contract type.

A test row is YAML: `1995-03-01` may arrive as a date or a string, `12` as an int, `2.5` as a
float. Each value is converted to the Python value of the column's type (a `date` for `date`,
a `Decimal` for `decimal(p,s)`, ...); one that cannot be (`"abc"` for a `bigint`, `"1995-13-01"`
for a `date`, a fraction for an integer) is refused with a message saying what was expected.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mesh_platform.column_types import UNKNOWN, family
from mesh_platform.errors import SpecError

_INTEGER_BITS = {"tinyint": 8, "smallint": 16, "int": 32, "bigint": 64}


class BadValue(SpecError, ValueError):
    """A value that does not fit the column's type; the message says what would."""


def convert(value: Any, type_name: str) -> Any:
    """`value` as a value of `type_name` (unchanged for `unknown` and null); BadValue if not."""
    if value is None or type_name == UNKNOWN:
        return value
    if type_name in _INTEGER_BITS:
        return _integer(value, type_name)
    if type_name in ("double", "float"):
        return float(_number(value, type_name))
    if type_name.startswith("decimal"):
        return _decimal(value, type_name)
    if type_name == "string":
        if isinstance(value, str):
            return value
        raise BadValue(f'{value!r} is not text; quote it ("{value}") for a string column')
    if type_name == "boolean":
        return _boolean(value)
    if type_name == "date":
        return _date(value)
    if type_name == "timestamp":
        return _timestamp(value)
    return value


def check_family(value: Any, type_name: str) -> None:
    """Refuse only a value that cannot belong to the type's family (for inferred types).

    An inferred type may be narrower than what the engine produces (an integer where the
    engine gives a double), so only the family is held against the value: text that is not a
    number for a number, a value that is not a date for a date or timestamp.
    """
    kind = family(type_name)
    if value is None or kind is None:
        return
    if kind == "number":
        _number(value, type_name)
    elif kind == "time" and not isinstance(value, date):
        _timestamp(value)
    elif kind == "boolean":
        _boolean(value)
    elif kind == "string" and isinstance(value, bool | date):
        raise BadValue(f"{value!r} is not text; quote it for a string column")


def _number(value: Any, type_name: str) -> int | float | Decimal:
    if isinstance(value, bool | date):
        raise BadValue(f"{value!r} is not a number ({type_name})")
    if isinstance(value, int | float | Decimal):
        return value
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            pass
    raise BadValue(f"{value!r} is not a number ({type_name})")


def _integer(value: Any, type_name: str) -> int:
    number = _number(value, type_name)
    if isinstance(number, float | Decimal):
        if number != number or number in (float("inf"), float("-inf")) or number != int(number):
            raise BadValue(f"{value!r} is not a whole number ({type_name})")
        number = int(number)
    bits = _INTEGER_BITS[type_name]
    if not -(2 ** (bits - 1)) <= number < 2 ** (bits - 1):
        raise BadValue(f"{value!r} is out of the range of {type_name}")
    return int(number)


def _decimal(value: Any, type_name: str) -> Decimal:
    number = _number(value, type_name)
    precision, scale = (int(p) for p in type_name[len("decimal(") : -1].split(","))
    exact = Decimal(str(number)) if isinstance(number, float) else Decimal(number)
    if not exact.is_finite():
        raise BadValue(f"{value!r} is not a finite number ({type_name})")
    try:
        quantized = exact.quantize(Decimal(1).scaleb(-scale))
    except InvalidOperation:
        raise BadValue(f"{value!r} has more than {precision} digits ({type_name})") from None
    if quantized != exact:
        raise BadValue(f"{value!r} has more than {scale} decimal places ({type_name})")
    if len(quantized.as_tuple().digits) > precision and quantized != 0:
        raise BadValue(f"{value!r} has more than {precision} digits ({type_name})")
    return quantized


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise BadValue(f"{value!r} is not a boolean (true or false)")


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        raise BadValue(f"{value!r} is a timestamp; a date column takes YYYY-MM-DD")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise BadValue(f"{value!r} is not a date (YYYY-MM-DD)")


def _timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise BadValue(f"{value!r} is not a timestamp (YYYY-MM-DD HH:MM:SS)")
