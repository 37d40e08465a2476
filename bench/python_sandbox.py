"""What the sandbox costs a Python step: in the calling process vs in the sandbox.

One Python step (`filter(amount > 0.5).with_columns(amount * 2)`, a trivial one, so that the
figure is the sandbox's overhead, not the step's work) over a frame of `--rows` rows (int64,
float64, string) through `call_python`, as the engines call it: in-process (`MESH_SANDBOX=off`)
and sandboxed (the frame to Arrow IPC in a memfd, a child forked from the zygote, Landlock and
seccomp, the module imported, the result back). Each mode runs in a fresh process of its own,
so its peak memory is its own; the first sandboxed step (which starts the zygote) is reported
apart, then the median of `--repeat` steps. The results of both modes are checked equal.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STEP = """\
import polars as pl


def step(frame):
    return frame.filter(pl.col("amount") > 0.5).with_columns((pl.col("amount") * 2).alias("a2"))
"""


def _frame(rows: int) -> Any:
    import numpy as np
    import polars as pl

    rng = np.random.default_rng(0)
    return pl.DataFrame(
        {
            "id": np.arange(rows, dtype="int64"),
            "amount": rng.random(rows),
            "category": rng.integers(0, 10, rows).astype(str),
        }
    )


def _status(pid: int | str, key: str) -> float:
    """A `/proc/<pid>/status` memory figure in MB (VmHWM: peak, VmRSS: now)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(mode: str, rows: int, repeat: int) -> dict[str, Any]:
    """Run the step `repeat` times (plus the first) in this process; its figures."""
    from mesh_platform.engine.python_steps import call_python
    from mesh_platform.sandbox import client

    folder = tempfile.mkdtemp(prefix="mesh-bench-sandbox-")
    Path(folder, "bench_sandbox_step.py").write_text(STEP)
    sys.path.insert(0, folder)
    frame = _frame(rows).lazy()
    sandbox = mode == "sandboxed"
    children: list[float] = []
    original = client.run

    def recording(*args: Any) -> client.Outcome:
        outcome = original(*args)
        children.append(float(outcome.reply.get("peak_rss_mb", 0.0)))
        return outcome

    client.run = recording  # type: ignore[assignment]
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    times = []
    result = None
    for _ in range(repeat + 1):
        started = time.perf_counter()
        result = call_python(
            "bench_sandbox_step:step", frame, dict, step="bench", product="bench.p", sandbox=sandbox
        )
        times.append(time.perf_counter() - started)
    zygote = client._CURRENT
    figures = {
        "mode": mode,
        "first_s": times[0],
        "median_s": statistics.median(times[1:]),
        "min_s": min(times[1:]),
        "max_s": max(times[1:]),
        "rows_out": result.height if result is not None else 0,
        "checksum": float(result["a2"].sum()) if result is not None else 0.0,
        "process_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "before_steps_mb": base,
        "child_peak_mb": max(children) if children else 0.0,
        "zygote_rss_mb": _status(zygote.process.pid, "VmRSS") if zygote else 0.0,
    }
    client.shutdown()
    shutil.rmtree(folder, ignore_errors=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.python_sandbox", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--mode", choices=("in-process", "sandboxed"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:  # one mode, in this fresh process: print its figures as JSON
        print(json.dumps(measure(args.mode, args.rows, args.repeat)))
        return
    load_before = os.getloadavg()
    results = []
    for mode in ("in-process", "sandboxed"):
        command = [sys.executable, "-m", "bench.python_sandbox", "--mode", mode]
        command += ["--rows", str(args.rows), "--repeat", str(args.repeat)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    load_after = os.getloadavg()
    inside, sandboxed = results
    assert inside["rows_out"] == sandboxed["rows_out"], results
    assert inside["checksum"] == sandboxed["checksum"], results
    print(
        f"Python step sandbox, {args.rows:,} rows in ({inside['rows_out']:,} out), "
        f"median of {args.repeat}; load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after ({os.cpu_count()} cores):"
    )
    print(f"  {'':<12} {'first':>8} {'median':>8} {'min-max':>15} {'peak RSS':>26}")
    for row in results:
        peak = f"{row['process_peak_mb']:.0f} MB process"
        if row["mode"] == "sandboxed":
            peak += f", {row['child_peak_mb']:.0f} MB child"
        print(
            f"  {row['mode']:<12} {row['first_s']:>7.3f}s {row['median_s']:>7.3f}s "
            f"{row['min_s']:>6.3f}-{row['max_s']:.3f}s {peak:>26}"
        )
    print(
        f"  overhead per step: {sandboxed['median_s'] - inside['median_s']:+.3f} s "
        f"(median); the first step starts the zygote: {sandboxed['first_s']:.2f} s; an idle "
        f"zygote holds {sandboxed['zygote_rss_mb']:.0f} MB RSS (mostly shared with its children)"
    )


if __name__ == "__main__":
    main()
