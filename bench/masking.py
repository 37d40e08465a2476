"""Masking on read: a consumer reading a 6M-row product with 3 PII columns, masked vs clear.

Two consumer domains run the same product spec over the same Delta table in one process: one
with the `pii` clearance (reads the values as stored) and one without (the access policy
plans its masking step before the consumer's step). Both plans come from the platform's
planner and run on the local engine; the runs alternate, and the median of each is compared.
The masked result is checked against an independent computation of the mask.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET_RATIO = 1.3
PRODUCER = """\
name: customers
description: Customers, three PII columns.
visibility: published
source: {landing: customers}
columns:
  - {name: id, type: bigint}
  - {name: name, type: string, tags: [pii]}
  - {name: address, type: string, tags: [pii]}
  - {name: phone, type: string, tags: [pii]}
  - {name: segment, type: string}
  - {name: balance, type: double}
"""
CONSUMER = """\
name: contacts
description: Customers to call, with their balance band.
inputs: {customers: crm.customers}
steps:
  - sql: |
      SELECT id, name, address, phone, segment, floor(balance / 1000) AS band
      FROM customers WHERE balance >= 0
"""


def _write_mesh(root: Path, rows: int) -> Any:
    import polars as pl

    from mesh_platform.lake.lakehouse import Lakehouse

    for domain, clearances, files in (
        ("crm", "[]", {"customers": PRODUCER}),
        ("cleared", "[pii]", {"contacts": CONSUMER}),
        ("plain", "[]", {"contacts": CONSUMER}),
    ):
        folder = root / "domains" / domain / "products"
        folder.mkdir(parents=True)
        (folder.parent / "domain.yaml").write_text(
            f"name: {domain}\nteam: {domain}\nclearances: {clearances}\n"
        )
        for name, text in files.items():
            (folder / f"{name}.yaml").write_text(text)
    (root / "landing").mkdir()
    lakehouse = Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"))
    i = pl.int_range(0, rows, dtype=pl.Int64, eager=True)
    frame = pl.DataFrame({"id": i}).with_columns(
        name=pl.format("Customer#{}", pl.col("id").cast(pl.String).str.zfill(9)),
        address=pl.format(
            "{} Rue {} Apt {}", pl.col("id") % 997, pl.col("id") * 7919 % 100003, pl.col("id") % 31
        ),
        phone=pl.format(
            "{}-{}-{}-{}",
            pl.col("id") % 25 + 10,
            (pl.col("id") % 1000).cast(pl.String).str.zfill(3),
            (pl.col("id") // 1000 % 1000).cast(pl.String).str.zfill(3),
            (pl.col("id") % 10000).cast(pl.String).str.zfill(4),
        ),
        segment=pl.format("SEGMENT{}", pl.col("id") % 5),
        balance=(pl.col("id") * 7 % 11000 - 1000).cast(pl.Float64),
    )
    lakehouse.write(("crm", "customers"), frame.to_arrow())
    return lakehouse


def _masked(value: str) -> str:
    """The policy's mask for text (`redact`, keep 1), computed independently."""
    return value[:1] + "***"


def run(rows: int = 6_000_000, repeat: int = 5) -> dict[str, Any]:
    """Median seconds of the clear and the masked read, and their ratio."""
    from mesh_platform.engine import get_engine
    from mesh_platform.loader.mesh import load_mesh

    with tempfile.TemporaryDirectory(prefix="bench_masking_") as folder:
        root = Path(folder)
        lakehouse = _write_mesh(root, rows)
        mesh = load_mesh(root)
        engine = get_engine(None)
        plans = {d: mesh.plans[(d, "contacts")] for d in ("cleared", "plain")}
        masked_sql, clear_sql = (str(plans[d].steps[0].query) for d in ("plain", "cleared"))
        assert "MASK_REDACT(address, 1)" in masked_sql and "MASK" not in clear_sql
        times: dict[str, list[float]] = {"cleared": [], "plain": []}
        cpu: dict[str, list[float]] = {"cleared": [], "plain": []}
        results: dict[str, Any] = {}
        for _ in range(repeat):
            for domain, plan in plans.items():
                inputs = {"customers": lakehouse.dataset(("crm", "customers"))}
                started, started_cpu = time.perf_counter(), time.process_time()
                results[domain] = engine.run(plan, inputs).table
                times[domain].append(time.perf_counter() - started)
                cpu[domain].append(time.process_time() - started_cpu)  # every thread's
        clear, masked = results["cleared"], results["plain"]
        assert clear.num_rows == masked.num_rows > 0
        for column in ("name", "address", "phone"):
            sample = clear.column(column).slice(0, 1000).to_pylist()
            assert masked.column(column).slice(0, 1000).to_pylist() == [_masked(v) for v in sample]
        assert masked.column("segment").equals(clear.column("segment"))
        clear_s, masked_s = statistics.median(times["cleared"]), statistics.median(times["plain"])
        clear_cpu, masked_cpu = statistics.median(cpu["cleared"]), statistics.median(cpu["plain"])
        return {
            "rows": rows,
            "rows_out": clear.num_rows,
            "clear_s": clear_s,
            "masked_s": masked_s,
            "ratio": masked_s / clear_s,
            "clear_cpu_s": clear_cpu,
            "masked_cpu_s": masked_cpu,
            "cpu_ratio": masked_cpu / clear_cpu,
        }


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.masking", description=__doc__)
    parser.add_argument("--rows", type=int, default=6_000_000, help="rows of the input")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each read")
    args = parser.parse_args()
    found = run(args.rows, args.repeat)
    verdict = "ok" if found["ratio"] <= TARGET_RATIO else "OVER"
    print(
        f"masking on read, {found['rows']:,} rows in ({found['rows_out']:,} out), 3 PII columns "
        f"(local engine, median of {args.repeat}):\n"
        f"                                        wall      CPU\n"
        f"  clear read (consumer with clearance)  {found['clear_s']:.3f} s  "
        f"{found['clear_cpu_s']:.3f} s\n"
        f"  masked read (consumer without)        {found['masked_s']:.3f} s  "
        f"{found['masked_cpu_s']:.3f} s\n"
        f"  ratio masked / clear                  {found['ratio']:.2f}      "
        f"{found['cpu_ratio']:.2f}   (target <= {TARGET_RATIO} on wall time: {verdict})"
    )


if __name__ == "__main__":
    main()
