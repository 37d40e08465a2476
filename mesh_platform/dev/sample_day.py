"""A day of new sample orders: one more dated file in the landing folders `orders/` and
`lineitem/` (`mesh generate --day`).

The new orders are about 1% of the orders there are, keyed after the largest order key, all
placed on the day after the latest order date, by existing customers (TPC-H's: a key not
divisible by 3); their lineitems (1 to 7 each) buy existing part/supplier pairs (partsupp) at
the part's retail price, ship 1 to 121 days after the order, are committed 30 to 90 days after
it and received 1 to 30 days after shipping; every order is open (`O`), as TPC-H's orders after
its current date are. The values are drawn from a generator seeded by the day: the same day
written twice is the same file. Both files have the initial files' exact schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from mesh_platform.errors import PlatformError

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

SHARE = 0.01  # new orders a day, of the orders there are
PRIORITIES = ("1-URGENT", "2-HIGH", "3-MEDIUM", "4-NOT SPECIFIED", "5-LOW")
INSTRUCTIONS = ("DELIVER IN PERSON", "COLLECT COD", "NONE", "TAKE BACK RETURN")
MODES = ("REG AIR", "AIR", "RAIL", "SHIP", "TRUCK", "MAIL", "FOB")
WORDS = [
    "furiously",
    "special",
    "foxes",
    "haggle",
    "carefully",
    "final",
    "deposits",
    "slyly",
    "ironic",
    "requests",
    "boost",
    "quickly",
    "regular",
    "packages",
    "sleep",
    "blithely",
    "express",
    "accounts",
    "nag",
    "pending",
    "theodolites",
    "cajole",
]


@dataclass(frozen=True)
class Day:
    """What one `mesh generate --day` wrote."""

    day: date
    orders: int
    lineitems: int
    files: tuple[Path, Path]


def add_day(landing: Path) -> Day:
    """Write the next day's orders and lineitems into the landing folders (see above)."""
    import numpy as np
    import polars as pl

    folders = landing / "orders", landing / "lineitem"
    if not all(f.is_dir() and any(f.glob("*.parquet")) for f in folders):
        raise PlatformError(
            f"{landing} has no landing folders orders/ and lineitem/ to add a day to. Fix: "
            "generate the sample data first with `mesh generate` (`--force` if it was "
            "generated before orders and lineitem became folders)"
        )
    stats = pl.scan_parquet(folders[0] / "*.parquet").select(
        pl.col("o_orderkey").max(), pl.col("o_orderdate").max(), pl.len()
    )
    last_key, last_day, count = stats.collect().row(0)
    day = last_day + timedelta(days=1)
    rng = np.random.default_rng(day.toordinal())
    n = max(1, round(count * SHARE))
    keys = np.arange(last_key + 1, last_key + 1 + n, dtype=np.int64)
    lines = _lineitems(landing, rng, keys, day)
    orders = _orders(landing, rng, keys, day, lines, count)
    paths = (folders[0] / f"{day.isoformat()}.parquet", folders[1] / f"{day.isoformat()}.parquet")
    for frame, folder, path in zip((orders, lines), folders, paths, strict=True):
        _write_like(frame, folder, path)
    return Day(day, orders.height, lines.height, paths)


def _lineitems(
    landing: Path, rng: np.random.Generator, keys: np.ndarray, day: date
) -> pl.DataFrame:
    import numpy as np
    import polars as pl

    per_order = rng.integers(1, 8, len(keys))
    total = int(per_order.sum())
    starts = np.repeat(np.cumsum(per_order) - per_order, per_order)
    supply = (
        pl.scan_parquet(landing / "partsupp.parquet")
        .select("ps_partkey", "ps_suppkey")
        .join(
            pl.scan_parquet(landing / "part.parquet").select("p_partkey", "p_retailprice"),
            left_on="ps_partkey",
            right_on="p_partkey",
        )
        .collect()
    )
    bought = supply[rng.integers(0, supply.height, total)]
    quantity = rng.integers(1, 51, total)
    ship = rng.integers(1, 122, total)
    return pl.DataFrame(
        {
            "l_orderkey": np.repeat(keys, per_order),
            "l_partkey": bought["ps_partkey"],
            "l_suppkey": bought["ps_suppkey"],
            "l_linenumber": (np.arange(total) - starts + 1).astype(np.int32),
            "l_quantity": quantity.astype(float),
            "l_extendedprice": (quantity * bought["p_retailprice"].cast(pl.Float64)).round(2),
            "l_discount": rng.integers(0, 11, total) / 100,
            "l_tax": rng.integers(0, 9, total) / 100,
            "l_returnflag": ["N"] * total,
            "l_linestatus": ["O"] * total,
            "l_shipdate": _days(day, ship),
            "l_commitdate": _days(day, rng.integers(30, 91, total)),
            "l_receiptdate": _days(day, ship + rng.integers(1, 31, total)),
            "l_shipinstruct": rng.choice(INSTRUCTIONS, total),
            "l_shipmode": rng.choice(MODES, total),
            "l_comment": _comments(rng, total),
        }
    )


def _orders(
    landing: Path,
    rng: np.random.Generator,
    keys: np.ndarray,
    day: date,
    lines: pl.DataFrame,
    count: int,
) -> pl.DataFrame:
    import polars as pl

    customers = (
        pl.read_parquet(landing / "customer.parquet", columns=["c_custkey"])
        .filter(pl.col("c_custkey") % 3 != 0)
        .get_column("c_custkey")
    )
    totals = (
        lines.group_by("l_orderkey")
        .agg((pl.col("l_extendedprice") * (1 + pl.col("l_tax")) * (1 - pl.col("l_discount"))).sum())
        .sort("l_orderkey")
    )
    clerks = max(1, round(count / 1500))  # TPC-H: 1,000 clerks a 1,500,000 orders
    n = len(keys)
    return pl.DataFrame(
        {
            "o_orderkey": keys,
            "o_custkey": customers[rng.integers(0, customers.len(), n)],
            "o_orderstatus": ["O"] * n,
            "o_totalprice": totals.get_column("l_extendedprice").round(2),
            "o_orderdate": [day] * n,
            "o_orderpriority": rng.choice(PRIORITIES, n),
            "o_clerk": [f"Clerk#{c:09d}" for c in rng.integers(1, clerks + 1, n)],
            "o_shippriority": pl.Series([0] * n, dtype=pl.Int32),
            "o_comment": _comments(rng, n),
        }
    )


def _days(day: date, offsets: np.ndarray) -> list[date]:
    return [day + timedelta(days=int(o)) for o in offsets]


def _comments(rng: np.random.Generator, n: int) -> list[str]:
    return [" ".join(rng.choice(WORDS, int(k))) for k in rng.integers(3, 9, n)]


def _write_like(frame: pl.DataFrame, folder: Path, path: Path) -> None:
    """Write `frame` with the schema of the folder's first file (types, order, nullability)."""
    import pyarrow.parquet as pq

    if path.exists():
        raise PlatformError(f"{path} exists already: a day is added once")
    schema = pq.read_schema(sorted(folder.glob("*.parquet"))[0])
    table = frame.to_arrow().select(schema.names).cast(schema)
    partial = path.with_name(f".{path.name}.partial")
    pq.write_table(table, partial)
    partial.rename(path)  # a reader never sees half a file
