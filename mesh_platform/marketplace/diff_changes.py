"""One classified difference between two versions of a product's contract."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Change:
    """One difference between the base and head contract of a product."""

    kind: str  # e.g. "column removed", "type narrowed", "description changed"
    breaking: bool
    detail: str
    column: str | None = None  # the column it concerns; None: the whole product
