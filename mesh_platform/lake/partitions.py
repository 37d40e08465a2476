"""The partition window of a run: the rows a partitioned write may replace."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class PartitionSlice:
    """The rows a partitioned write may replace: `start <= column < end`."""

    column: str
    start: date
    end: date

    def predicate(self) -> str:
        """The Delta predicate selecting exactly these partitions."""
        start, end = self.start.isoformat(), self.end.isoformat()
        return f"{self.column} >= '{start}' AND {self.column} < '{end}'"
