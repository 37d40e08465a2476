"""Incremental runs against full rebuilds of the whole demo mesh (issue 18).

`python -m bench.incremental [--scale 1] [--rounds 2]`: in a fresh home and landing folder,
`mesh generate` then `mesh materialize` (the first, full build); then, each round, `mesh
generate --day` (about 1% new orders and their lines) followed side by side by `mesh
materialize` (incremental: bronze ingests the new files, silver merges, incremental gold
recomputes its last days, the other products rebuild) and `mesh materialize --full-refresh`
(the same data, every product rebuilt from scratch). Each run is a child process: wall, CPU
(user + system of the process and its children) and peak RSS (ru_maxrss: the largest process
of the tree). Prints the machine's load, the figures and the ratios against the issue's
target (incremental at most 10% of a full rebuild).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TARGET = 0.10
MESH = str(Path(sys.executable).with_name("mesh"))


def _environment(home: Path, landing: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MESH_")}
    env.update(
        MESH_HOME=str(home),
        DAGSTER_HOME=str(home / "dagster_home"),
        MESH_LANDING_ROOT=str(landing),
    )
    return env


def _run(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """One whole command in a child: wall, CPU and peak RSS (MiB)."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [MESH, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    out, err = process.communicate()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"mesh {' '.join(args)} failed:\n{out[-2000:]}{err[-3000:]}")
    return {
        "wall": round(wall, 2),
        "cpu": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_mb": round(usage.ru_maxrss / 1024, 1),
    }


def run(scale: float, rounds: int) -> dict[str, Any]:
    """The first build, then `rounds` of (a day added, incremental run, full rebuild)."""
    with tempfile.TemporaryDirectory(prefix="mesh-bench-incremental-") as tmp:
        home, landing = Path(tmp) / "home", Path(tmp) / "landing"
        env = _environment(home, landing)
        _run(["generate", "--scale", str(scale)], env)
        first = _run(["materialize"], env)
        incremental, full = [], []
        for _ in range(rounds):
            _run(["generate", "--day"], env)
            incremental.append(_run(["materialize"], env))
            full.append(_run(["materialize", "--full-refresh"], env))
    return {
        "scale": scale,
        "load": os.getloadavg(),
        "first": first,
        "incremental": incremental,
        "full": full,
    }


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(results: dict[str, Any]) -> str:
    """The figures and the ratios, with the machine's load."""
    inc, full = results["incremental"], results["full"]
    lines = [
        f"incremental runs of the whole mesh, TPC-H scale {results['scale']}, load average "
        f"{'/'.join(f'{x:.2f}' for x in results['load'])}",
        f"  first build:       wall {results['first']['wall']:.1f}s  cpu "
        f"{results['first']['cpu']:.1f}s  peak RSS {results['first']['peak_mb']:.0f} MiB",
    ]
    for name, runs in (("incremental", inc), ("full rebuild", full)):
        lines.append(
            f"  {name + ':':<18} wall {_median(runs, 'wall'):.1f}s  cpu "
            f"{_median(runs, 'cpu'):.1f}s  peak RSS {max(r['peak_mb'] for r in runs):.0f} MiB"
            f"  (median of {len(runs)})"
        )
    for key in ("wall", "cpu"):
        ratio = _median(inc, key) / _median(full, key)
        verdict = "met" if ratio <= TARGET else "MISSED"
        lines.append(
            f"  incremental / full rebuild, {key}: {ratio:.2f} (target <= {TARGET}: {verdict})"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.incremental", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor")
    parser.add_argument("--rounds", type=int, default=2, help="days added (median over them)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    results = run(args.scale, args.rounds)
    print(json.dumps(results, indent=2) if args.json else report(results))


if __name__ == "__main__":
    main()
