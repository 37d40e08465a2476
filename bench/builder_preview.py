"""The builder's data after every step: a node's sample of a demo gold product in a warm process.

TPC-H at `--scale` (default 1) is generated into a temporary MESH_HOME (`mesh generate`) and the
demo's gold products (sales, finance, marketing; YAML specs) are built once (`mesh
materialize`, which builds their missing upstream); `--home DIR --reuse` reuses a home built
before. Then, in this one warm process (as the web server is), `builder.preview.preview_node`
(what the page calls when a node is selected) of each node of each product's spec text, after
one warm-up (`preview_draft` of each: engine, datasets, plans), `--repeat` rounds of:

- *first view*: the kept step results cleared, then each product's nodes selected in order
  (inputs, steps, the product as written), as a user clicks through a pipeline just opened;
- *direct*: each step and product node selected first, with no step result kept (the worst
  case: the steps up to it computed from the inputs);
- *again*: each node selected a second time (its result kept when small).

Beside it, a cold `mesh preview <product>` (a fresh process) of each product (`--no-cold` skips
it). Printed: p50/p95 of each kind (all products together, and per product for the first
view), the cold times, the process's peak RSS and the load average before and after.

    .venv/bin/python -m bench.builder_preview [--scale 1] [--repeat 5] [--home DIR --reuse]
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


def _load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.builder_preview", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--home", type=Path, help="MESH_HOME to use (a temporary one if not)")
    parser.add_argument("--reuse", action="store_true", help="the home is built: skip building")
    parser.add_argument("--no-cold", action="store_true", help="skip the cold `mesh preview`s")
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="mesh-builder-bench-"))
    root = repo_root()
    env = {**os.environ, "MESH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    drafts = [
        SpecDraft(root, path.parent.parent.name, path.stem, path.read_text())
        for domain in GOLD
        for path in sorted((root / "domains" / domain / "products").glob("*.yaml"))
    ]
    print(f"MESH_HOME {home}; TPC-H scale {args.scale}; {len(drafts)} gold products")
    print(f"load average (1, 5, 15 min) at the start: {_load()}")
    if not args.reuse:
        (home / "dagster").mkdir(parents=True, exist_ok=True)
        (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        print(f"generate: {_mesh('generate', '--scale', str(args.scale), env=env):.1f} s")
        built = _mesh("materialize", *(f"{d.domain}.{d.name}" for d in drafts), env=env)
        print(f"materialize (with upstream): {built:.1f} s")
    cold = {}
    if not args.no_cold:
        cold = {
            f"{d.domain}.{d.name}": _mesh("preview", f"{d.domain}.{d.name}", env=env)
            for d in drafts
        }
    os.environ.update(MESH_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    times = _warm(drafts, args.repeat)
    _report(times, cold)


Times = dict[str, dict[str, list[float]]]  # kind -> product -> seconds


def _warm(drafts: list[SpecDraft], repeat: int) -> Times:
    from mesh_platform.builder.preview import node_indexes, preview_draft
    from mesh_platform.builder.warm import warm

    cache = warm()
    nodes: dict[str, tuple[SpecDraft, list[int]]] = {}
    for draft in drafts:
        name = f"{draft.domain}.{draft.name}"
        errors = [n.error for n in preview_draft(draft, cache=cache) if n.error]  # warm-up
        if errors:
            print(f"{name}: a node fails, left out: {errors[0]}")
            continue
        nodes[name] = (draft, node_indexes(draft, cache=cache))
    times: Times = {kind: {name: [] for name in nodes} for kind in ("first", "direct", "again")}
    for _ in range(repeat):  # interleaved: the machine's load weighs on every product alike
        cache.results.clear()
        for name, (draft, indexes) in nodes.items():
            times["first"][name] += [_timed(draft, i) for i in indexes]
            times["again"][name] += [_timed(draft, i) for i in indexes]
        for name, (draft, indexes) in nodes.items():
            for index in (i for i in indexes if i >= 0):
                cache.results.clear()
                times["direct"][name].append(_timed(draft, index))
    print(f"kept step results at the end: {len(cache.results)}, {cache.results.size >> 20} MiB")
    return times


def _timed(draft: SpecDraft, index: int) -> float:
    from mesh_platform.builder.preview import preview_node

    started = time.perf_counter()
    node = preview_node(draft, index)
    elapsed = time.perf_counter() - started
    assert node.error is None, node.error
    return elapsed


def _report(times: Times, cold: dict[str, float]) -> None:
    print("\n| product | first view p50 | first view p95 | direct p95 | cold `mesh preview` |")
    print("| --- | --- | --- | --- | --- |")
    for name, ts in times["first"].items():
        direct = times["direct"][name]
        print(
            f"| {name} | {_quantile(ts, 0.5):.2f} s | {_quantile(ts, 0.95):.2f} s "
            f"| {_quantile(direct, 0.95):.2f} s | {_cold(cold, name)} |"
        )
    print("\n| kind | calls | p50 | p95 | max |")
    print("| --- | --- | --- | --- | --- |")
    for kind, by_product in times.items():
        every = [t for ts in by_product.values() for t in ts]
        print(
            f"| {kind} | {len(every)} | {_quantile(every, 0.5):.2f} s "
            f"| {_quantile(every, 0.95):.2f} s | {max(every):.2f} s |"
        )
    if cold:
        print(f"\ncold `mesh preview`: median {statistics.median(cold.values()):.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the warm process: {peak:.0f} MiB")
    print(f"load average (1, 5, 15 min) at the end: {_load()}")
    first = [t for ts in times["first"].values() for t in ts]
    verdict = "met" if _quantile(first, 0.95) < TARGET_P95 else "NOT met"
    print(f"target p95 < {TARGET_P95} s (first view): {verdict}")


def _cold(cold: dict[str, float], name: str) -> str:
    return f"{cold[name]:.2f} s" if name in cold else "-"


if __name__ == "__main__":
    main()
