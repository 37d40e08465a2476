"""Which column type changes keep every value a consumer could read (widening)."""

from __future__ import annotations

import re

_INTEGERS = ("tinyint", "smallint", "int", "bigint")
_DIGITS = {"tinyint": 3, "smallint": 5, "int": 10, "bigint": 19}  # decimal digits they need
_DECIMAL = re.compile(r"^decimal\((\d+),(\d+)\)$")
# Doubles hold integers exactly up to 2**53: `int` and smaller fit, `bigint` does not.
_EXACT_IN_DOUBLE = ("tinyint", "smallint", "int", "float")


def widens(old: str, new: str) -> bool:
    """Whether every value of type `old` is a value of type `new`, unchanged.

    Any other change (a smaller integer or decimal, a number to a string, a timestamp to a
    date, `bigint` to `double`, ...) is a narrowing: a consumer may lose values or break.
    """
    if old == new:
        return True
    if old in _INTEGERS and new in _INTEGERS:
        return _INTEGERS.index(new) >= _INTEGERS.index(old)
    if new == "double":
        return old in _EXACT_IN_DOUBLE
    if old == "date" and new == "timestamp":
        return True
    target = _DECIMAL.match(new)
    if target is None:
        return False
    precision, scale = int(target[1]), int(target[2])
    if old in _DIGITS:
        return precision - scale >= _DIGITS[old]
    source = _DECIMAL.match(old)
    if source is None:
        return False
    old_precision, old_scale = int(source[1]), int(source[2])
    return scale >= old_scale and precision - scale >= old_precision - old_scale
