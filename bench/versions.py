"""Versions and rollback: what the hold check adds to a run, and a rollback against a rewrite.

Side by side on one Delta table of `--rows` rows (TPC-H lineitem-like columns) with `--versions`
versions, in the same process:

- a product's write (what every run does) vs the hold check every run now makes first and
  again before its write (not held: one read of the Delta log's last commit; held: that plus
  one catalog query on SQLite);
- a rollback (Delta RESTORE: a commit re-adding the earlier files, no data rewritten) vs
  rewriting the earlier version's data;
- `mesh history` (every version's row count from the log) for `--versions` versions.

`.venv/bin/python -m bench.versions [--rows N] [--versions N]`
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path


def _best(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _table(rows: int, seed: int):  # type: ignore[no-untyped-def]
    import numpy as np
    import pyarrow as pa

    random = np.random.default_rng(seed)
    return pa.table(
        {
            "l_orderkey": np.arange(rows, dtype=np.int64),
            "l_quantity": random.integers(1, 50, rows).astype(np.float64),
            "l_extendedprice": random.random(rows) * 1e5,
            "l_discount": random.random(rows) / 10,
            "l_shipmode": random.choice(["AIR", "MAIL", "SHIP", "RAIL"], rows),
        }
    )


def main() -> None:
    """Print the figures."""
    from mesh_platform.catalog import Catalog
    from mesh_platform.lake.delta_versions import delta_history, restore, rows_at
    from mesh_platform.lake.lakehouse import Lakehouse
    from mesh_platform.run.version_records import hold_on, place_hold

    parser = argparse.ArgumentParser(prog="python -m bench.versions", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    key = ("bench", "lineitem")
    with tempfile.TemporaryDirectory() as folder:
        lakehouse = Lakehouse(root=f"{folder}/lake", landing_root=f"{folder}/landing")
        url = f"sqlite:///{Path(folder) / 'catalog.db'}"
        tables = [_table(args.rows, seed) for seed in range(2)]
        for version in range(args.versions):
            lakehouse.write(key, tables[version % 2])
        write = _best(lambda: lakehouse.write(key, tables[0]), args.repeat)
        free = _best(lambda: hold_on(lakehouse, key, url), args.repeat * 4)
        assert hold_on(lakehouse, key, url) is None
        rewrite = _best(lambda: lakehouse.write(key, tables[1]), args.repeat)
        target = lakehouse.version(key) - 1

        def roll_back() -> None:
            restore(lakehouse, key, lakehouse.version(key) - 1, {"action": "rolled_back"})

        rollback = _best(roll_back, args.repeat)
        with Catalog.open(url).session() as session:
            place_hold(
                session,
                "bench.lineitem",
                by="bench",
                reason="b",
                rolled_back_to=target,
                version=lakehouse.version(key),
            )
        held = _best(lambda: hold_on(lakehouse, key, url), args.repeat * 4)
        assert hold_on(lakehouse, key, url) is not None
        versions = len(delta_history(lakehouse, key))

        def history() -> None:
            for entry in delta_history(lakehouse, key)[: args.versions]:
                rows_at(lakehouse, key, entry.version)

        listing = _best(history, 3)
    print(f"versions: {args.rows:,} rows, {versions} versions in the log")
    print(f"  write (every run)                  {write * 1000:8.1f} ms")
    print(
        f"  hold check, not held               {free * 1000:8.1f} ms  "
        f"({free / write:.1%} of the write; made twice per run)"
    )
    print(f"  hold check, held (+ catalog)       {held * 1000:8.1f} ms")
    print(
        f"  rollback (Delta RESTORE)           {rollback * 1000:8.1f} ms  "
        f"vs rewriting that version {rewrite * 1000:.1f} ms: {rewrite / rollback:.1f}x faster"
    )
    print(f"  history of {args.versions} versions (row counts)  {listing * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
