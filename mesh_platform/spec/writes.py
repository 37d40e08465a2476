"""How a product's run writes its table: the write mode, its keys, and incremental by time.

`write: overwrite` (the default) replaces the table; `append` inserts only new rows; `merge`
upserts by `keys:` (deleting the rows `delete_when:` matches); `scd2` keeps each key's history
(valid_from / valid_to / is_current). `incremental: {column, lookback}` makes a run read only
the input rows at or after the table's high-water mark of `column` minus `lookback`
(docs/incremental.md).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from mesh_platform.spec.fields import Frozen, Name, invalid

WriteMode = Literal["overwrite", "append", "merge", "scd2"]
# The columns an `scd2` table adds to the contract's: when each version of a key held.
SCD2_COLUMNS = ("valid_from", "valid_to", "is_current")

_UNITS = {"minute": 60, "hour": 3600, "day": 86400, "week": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*(minute|hour|day|week)s?\s*$")


def parse_duration(value: Any) -> timedelta:
    """`3 days`, `12 hours`, `1 week`, `0` (or a timedelta) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    text = str(value).strip().lower()
    if text == "0":
        return timedelta(0)
    found = _DURATION.match(text)
    if found is None:
        raise invalid(
            f"lookback {value!r} is not a duration",
            "write a whole number and a unit: `3 days`, `12 hours`, `1 week` (or `0`)",
        )
    return timedelta(seconds=int(found.group(1)) * _UNITS[found.group(2)])


class Incremental(Frozen):
    """A run reads only the input rows at or after the high-water mark minus the lookback."""

    column: Name = Field(
        description="A date or timestamp column of the contract, taken unchanged from one "
        "input's column: the input rows are filtered on it."
    )
    lookback: timedelta = Field(
        default=timedelta(0),
        description="How far before the high-water mark a run reads again, for late rows "
        "(e.g. `3 days`).",
    )

    @field_validator("lookback", mode="before")
    @classmethod
    def _lookback(cls, v: Any) -> timedelta:
        return parse_duration(v)


def write_shape_problems(
    write: WriteMode,
    keys: tuple[str, ...],
    delete_when: str | None,
    incremental: Incremental | None,
    *,
    landing: bool,
    partitioned: bool,
    folder: bool = False,
) -> list[tuple[str, str, str]]:
    """What cannot work in a product's write settings, as (field, problem, fix)."""
    changes = write != "overwrite" or incremental is not None
    checks = (
        (
            write in ("merge", "scd2") and not keys,
            "write",
            f"`write: {write}` needs `keys:`",
            "name the columns that identify a row, e.g. `keys: [order_key]`",
        ),
        (
            bool(keys) and write not in ("merge", "scd2"),
            "keys",
            f"`keys:` is used by `write: merge` or `scd2`, not `{write}`",
            "remove `keys:`, or write `write: merge`",
        ),
        (
            delete_when is not None and write != "merge",
            "delete_when",
            "`delete_when:` deletes rows of a `write: merge` product only",
            "write `write: merge` with `keys:`, or remove `delete_when:`",
        ),
        (
            write == "append" and incremental is None,
            "write",
            "`write: append` needs `incremental:`: without it every run reads its whole inputs "
            "and would append them again",
            "add `incremental: {column: <a date or timestamp column>, lookback: 0}`, or use "
            "`write: merge` with `keys:`",
        ),
        (
            landing and changes,
            "write",
            "a landing ingestion product does not take `write:` or `incremental:`",
            "ingest incrementally with a landing folder: `source: {landing: <name>, folder: "
            "true}` (docs/incremental.md); merge in the silver product that reads it",
        ),
        (
            partitioned and (changes or folder),
            "partitioning",
            "a partitioned product replaces whole partitions: it does not take `write:`, "
            "`incremental:` or a landing folder",
            "remove `partitioning:` (an incremental product needs none), or the write mode",
        ),
    )
    return [(field, problem, fix) for wrong, field, problem, fix in checks if wrong]
