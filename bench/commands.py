"""Whole read-only commands, wall clock from process start to exit (issue 19, item 3).

Timed on a snapshot of a git ref (default HEAD, `git archive`) in a temporary folder, run
with its code first on PYTHONPATH: edits in the working tree while the benchmark runs (another
engineer's, a test's) change nothing it times. The snapshot's bytecode is compiled first, off
the clock, as on any developer's machine. Each command runs once in a fresh MESH_HOME (cold:
nothing kept, the catalog created, migrated and synced), then `repeat` more times in turn with
the others (warm: what a developer meets all day, the targets' case); the median of the warm
runs is compared with the target. The load average is printed before and after: wall times
grow with it.

The demo mesh: `mesh --help` (< 0.2 s), `list`, `validate`, `search`, `show`, `status`, `cost`
(< 1 s each). On 10,000 products (< 1 s each): `mesh search --no-sync` on the generated catalog
of `catalog.py`, and `mesh impact --no-sync` on a catalog holding the mesh of `impact.py` (one
cluster of 10 domains planned and synced as the sync writes it, then repeated under other
domain names: what a sync of the 10,000 specs writes). Beside it, `mesh impact` on the 10,000
spec files with a catalog not in step: the specs answer (what every `mesh impact` did before).

`python -m bench.commands --ref c335302` times an earlier commit's demo commands the same way
(the 10,000-product figures need this commit's catalog).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from mesh_platform.spec.workspace import repo_root

MESH = str(Path(sys.executable).with_name("mesh"))
DEMO: dict[str, tuple[tuple[str, ...], float]] = {
    "--help": (("--help",), 0.2),
    "list": (("list",), 1.0),
    "validate": (("validate",), 1.0),
    "search": (("search", "revenue", "per", "customer"), 1.0),
    "show": (("show", "sales.customer_revenue"), 1.0),
    "status": (("status",), 1.0),
    "cost": (("cost",), 1.0),
}
LARGE_TARGET = 1.0
CLUSTER_DOMAINS = 10
_IMPACT_SPECS = """
import sys
from pathlib import Path
from mesh_platform.spec import workspace
workspace.repo_root = lambda: Path(sys.argv[1])
from mesh_platform.cli import main
main(sys.argv[2:])
"""


def snapshot(ref: str, folder: Path) -> Path:
    """The files of `ref` in the checkout, under `folder`."""
    folder.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(repo_root()), "archive", ref], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def environment(code: Path, home: Path, **extra: str) -> dict[str, str]:
    """A command's environment: `code` first on the path, its own MESH_HOME, no MESH_* or
    DAGSTER_* setting of the caller's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MESH_", "DAGSTER_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    return env | {"PYTHONPATH": str(code), "MESH_HOME": str(home), **extra}


def wall(command: Sequence[str], cwd: Path, env: dict[str, str]) -> float:
    """Seconds from start to exit of `command`; it must succeed."""
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-3000:]}"
        )
    return seconds


def measure_demo(code: Path, scratch: Path, repeat: int) -> dict[str, list[float]]:
    """Per demo command: the cold run, then `repeat` warm runs (commands in turn)."""
    compiled = [sys.executable, "-m", "compileall", "-q", "mesh_platform", "standards", "domains"]
    wall(compiled, code, environment(code, scratch / "compile"))
    env = environment(code, scratch / "home")
    runs = {name: [wall([MESH, *args], code, env)] for name, (args, _) in DEMO.items()}
    for _ in range(repeat):
        for name, (args, _) in DEMO.items():
            runs[name].append(wall([MESH, *args], code, env))
    return runs


def impact_catalog(url: str, domains: int, scratch: Path) -> None:
    """The catalog at `url` holding the `impact.py` mesh of `domains` domains, as a sync
    writes it: one cluster generated, planned and recorded, then renamed per cluster."""
    from bench.impact import CLUSTER, generate_mesh
    from mesh_platform.catalog import Catalog
    from mesh_platform.loader.mesh import load_healthy
    from mesh_platform.marketplace.records import product_record
    from mesh_platform.marketplace.sync import write_products

    assert CLUSTER == CLUSTER_DOMAINS
    root = scratch / "cluster"
    generate_mesh(root, CLUSTER)
    mesh = load_healthy(root)
    if mesh.errors or len(mesh.order) != CLUSTER * 10:
        raise RuntimeError(f"the generated cluster does not plan: {mesh.errors[:3]}")
    records = [product_record(mesh, key) for key in mesh.order]
    catalog = Catalog(url)
    for first in range(0, domains, CLUSTER):
        with catalog.session() as session:
            write_products(session, [_renamed(r, first) for r in records])
    catalog.engine.dispose()


def _renamed(value: Any, offset: int) -> Any:
    """`value` with every domain name dNNNN of the first cluster moved by `offset`."""
    if isinstance(value, str):
        return re.sub(r"\bd(\d{4})\b", lambda m: f"d{int(m.group(1)) + offset:04d}", value)
    if is_dataclass(value) and not isinstance(value, type):
        return type(value)(
            **{f.name: _renamed(getattr(value, f.name), offset) for f in fields(value)}
        )
    if isinstance(value, (tuple, list)):
        return type(value)(_renamed(v, offset) for v in value)
    if isinstance(value, dict):
        return {_renamed(k, offset): _renamed(v, offset) for k, v in value.items()}
    return value


def measure_large(code: Path, scratch: Path, repeat: int) -> dict[str, list[float]]:
    """The 10,000-product commands: the first run (cold: a fresh MESH_HOME), then `repeat`."""
    from bench.catalog import generated_catalog
    from bench.impact import generate_mesh

    search_url = f"sqlite:///{Path(tempfile.gettempdir()) / 'mesh-bench-catalog-10000.db'}"
    generated_catalog(search_url).engine.dispose()  # built once, reused by later runs
    impact_url = f"sqlite:///{scratch / 'impact-catalog.db'}"
    impact_catalog(impact_url, 1000, scratch)
    timed = {
        "search (10,000 products)": (
            ["search", "monthly", "revenue", "--no-sync", "--json"],
            search_url,
        ),
        "impact (10,000 products)": (
            ["impact", "d0000.p00", "--column", "c1", "--no-sync", "--json"],
            impact_url,
        ),
    }
    runs: dict[str, list[float]] = {}
    for name, (args, url) in timed.items():
        env = environment(code, scratch / f"home-{len(runs)}", MESH_CATALOG_URL=url)
        runs[name] = [wall([MESH, *args], code, env) for _ in range(repeat + 1)]
    specs = scratch / "specs"
    generate_mesh(specs, 1000)
    command = [sys.executable, "-c", _IMPACT_SPECS, str(specs), "impact", "d0000.p00"]
    env = environment(code, scratch / "home-specs")
    runs["impact from 10,000 spec files"] = [wall([*command, "--column", "c1"], specs, env)]
    return runs


def report(
    runs: dict[str, list[float]], targets: dict[str, float], before: float, after: float
) -> str:
    """One line per command: cold, warm median and fastest, target and verdict."""
    lines = [
        f"load average {before:.2f} before, {after:.2f} after, on {os.cpu_count()} cores "
        "(wall times grow with it)",
        f"{'whole command, seconds':<34} {'cold':>6} {'warm p50':>9} {'min':>6}  target",
    ]
    for name, times in runs.items():
        warm = times[1:] or times
        median = statistics.median(warm)
        target = targets.get(name)
        verdict = "" if target is None else ("ok" if median < target else "OVER")
        goal = f"< {target:g}s {verdict}" if target is not None else "(reference)"
        lines.append(f"{name:<34} {times[0]:>6.2f} {median:>9.2f} {min(warm):>6.2f}  {goal}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.commands", description=__doc__)
    parser.add_argument("--repeat", type=int, default=5, help="warm runs per command")
    parser.add_argument("--ref", default="HEAD", help="git ref whose code is timed")
    parser.add_argument("--skip-large", action="store_true", help="only the demo commands")
    args = parser.parse_args()
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="mesh-bench-commands-") as tmp:
        scratch = Path(tmp)
        code = snapshot(args.ref, scratch / "code")
        runs = measure_demo(code, scratch, args.repeat)
        targets = {name: target for name, (_, target) in DEMO.items()}
        if not args.skip_large:
            large = measure_large(code, scratch, args.repeat)
            runs |= large
            targets |= {name: LARGE_TARGET for name in large if "spec files" not in name}
    commit = subprocess.run(
        ["git", "-C", str(repo_root()), "rev-parse", "--short", args.ref],
        capture_output=True,
        text=True,
    ).stdout.strip()
    print(f"== commands: {args.ref} ({commit}), {args.repeat} warm runs each")
    print(report(runs, targets, before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
