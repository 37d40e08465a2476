"""Python steps of the marketing domain."""

from __future__ import annotations

import polars as pl


def revenue_share(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Each nation's share of all customer revenue, in percent, largest first."""
    total = pl.col("revenue").sum()
    return (
        frame.with_columns((pl.col("revenue") * 100 / total).alias("revenue_share_pct"))
        .sort("revenue", descending=True)
    )
