"""The builder's data after every step: a node's sample of a demo gold product, warm vs cold.

TPC-H at `--scale` (default 1) is generated into a temporary MESH_HOME (`mesh generate`) and the
demo's gold products (sales, finance, marketing; YAML specs) are built once (`mesh
materialize`, which builds their missing upstream). Then, in this one warm process (as the web
server is), `builder.preview.preview_draft` of each product's spec text runs `--repeat` times
after one warm-up: one call computes every node (inputs, each step, the product as written), so
its time bounds the time any node's sample takes to appear. Beside it, a cold `mesh preview
<product>` (a fresh process) of each product. Printed: p50/p95 of the warm calls (all products
together, and per product), the cold medians, the process's peak RSS and the load average.

    .venv/bin/python -m bench.builder_preview [--scale 1] [--repeat 10] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from mesh_platform.spec.workspace import repo_root

TARGET_P95 = 1.5
GOLD = ("sales", "finance", "marketing")


@dataclass
class SpecDraft:
    """A demo product's spec text, as the builder holds it."""

    root: Path
    domain: str
    name: str
    yaml: str

    def text(self) -> str:
        return self.yaml


def _mesh(*args: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mesh"), *args], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"mesh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return time.perf_counter() - started


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.builder_preview", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--home", type=Path, help="reuse this MESH_HOME (built once)")
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="mesh-builder-bench-"))
    root = repo_root()
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    drafts = [
        SpecDraft(root, path.parent.parent.name, path.stem, path.read_text())
        for domain in GOLD
        for path in sorted((root / "domains" / domain / "products").glob("*.yaml"))
    ]
    print(f"MESH_HOME {home}; TPC-H scale {args.scale}; {len(drafts)} gold products")
    print(f"generate: {_mesh('generate', '--scale', str(args.scale), env=env):.1f} s")
    built = _mesh("materialize", *(f"{d.domain}.{d.name}" for d in drafts), env=env)
    print(f"materialize (with upstream): {built:.1f} s")
    cold = {
        f"{d.domain}.{d.name}": _mesh("preview", f"{d.domain}.{d.name}", env=env) for d in drafts
    }
    os.environ.update(MESH_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    warm = _warm(drafts, args.repeat)
    _report(warm, cold)


def _warm(drafts: list[SpecDraft], repeat: int) -> dict[str, list[float]]:
    from mesh_platform.builder.preview import preview_draft

    times: dict[str, list[float]] = {}
    for draft in drafts:
        name = f"{draft.domain}.{draft.name}"
        nodes = preview_draft(draft)  # warm-up: engine, datasets, plans
        errors = [n.error for n in nodes if n.error]
        if errors:
            print(f"{name}: a node fails, left out: {errors[0]}")
            continue
        times[name] = []
    for _ in range(repeat):  # interleaved: the machine's load weighs on every product alike
        for draft in drafts:
            if f"{draft.domain}.{draft.name}" not in times:
                continue
            started = time.perf_counter()
            preview_draft(draft)
            times[f"{draft.domain}.{draft.name}"].append(time.perf_counter() - started)
    return times


def _report(warm: dict[str, list[float]], cold: dict[str, float]) -> None:
    every = [t for ts in warm.values() for t in ts]
    print("\n| product | warm p50 | warm p95 | cold `mesh preview` |")
    print("| --- | --- | --- | --- |")
    for name, ts in warm.items():
        print(
            f"| {name} | {_quantile(ts, 0.5):.2f} s | {_quantile(ts, 0.95):.2f} s "
            f"| {cold[name]:.2f} s |"
        )
    p95 = _quantile(every, 0.95)
    print(
        f"| all ({len(every)} calls) | {_quantile(every, 0.5):.2f} s | {p95:.2f} s "
        f"| median {statistics.median(cold.values()):.2f} s |"
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the warm process: {peak:.0f} MiB")
    print(f"load average (1, 5, 15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    verdict = "met" if p95 < TARGET_P95 else "NOT met"
    print(f"target p95 < {TARGET_P95} s: {verdict}")


if __name__ == "__main__":
    main()
