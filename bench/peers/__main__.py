"""`python -m bench.peers --help`: the mesh vs dbt-duckdb, dagster-dbt and the floor."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.instances import write_dagster_own_instance
from bench.peers import __doc__ as DESCRIPTION
from bench.peers.arms import MARK
from bench.peers.measure import agreement, results, run_tree
from bench.peers.workspace import (
    DOMAIN,
    peers_python,
    queries,
    repo_root,
    write_dbt_project,
    write_mesh,
)

ARMS = ("mesh", "dbt", "dagster_dbt", "floor")
LABELS = {"mesh": "mesh", "dbt": "dbt-duckdb", "dagster_dbt": "dagster-dbt", "floor": "floor"}
# mesh / peer, by scale factor (None: any scale), from issue 19
TARGETS: dict[str, dict[float | None, float]] = {
    "dbt": {1.0: 1.0, 0.1: 1.3},
    "dagster_dbt": {None: 0.6},
    "floor": {1.0: 1.15},
}


class Bench:
    """The folders, environments and commands of one benchmark, under `tmp`."""

    def __init__(self, tmp: Path, landing: Path, peers: Path) -> None:
        self.tmp, self.landing, self.peers = tmp, landing, peers
        self.root, self.home = tmp / "root", tmp / "home"
        self.checkout = repo_root()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_"))}
        self.base = {**base, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}

    def python(self, arm: str) -> str:
        return str(self.peers if arm == "dagster_dbt" else Path(sys.executable))

    def env(self, arm: str) -> dict[str, str]:
        if arm in ("setup", "mesh"):
            return {
                **self.base,
                "MESH_HOME": str(self.home),
                "DAGSTER_HOME": str(self.home / "dagster_home"),
                "MESH_LANDING_ROOT": str(self.landing),
                # the generated mesh's `domains` package first (its cwd), then the checkout
                "PYTHONPATH": f"{self.root}{os.pathsep}{self.checkout}",
            }
        if arm == "dagster_dbt":
            return {**self.base, "DAGSTER_HOME": str(self.tmp / "dagster_dbt_home")}
        return {**self.base, "PYTHONPATH": str(self.checkout)}

    def options(self, arm: str) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "lake": str(self.home / "lake"),
            "out": str(self.tmp / "floor"),
            "project": str(self.tmp / "dagster_dbt"),
        }

    def child(self, arm: str, **more: Any) -> dict[str, Any]:
        """One arm's process tree, measured."""
        if arm == "dbt":
            project = str(self.tmp / "dbt")
            dbt = str(self.peers.with_name("dbt"))
            command = [dbt, "build", "--project-dir", project, "--profiles-dir", project]
            figures = run_tree(command, self.base, self.tmp / "dbt", "")
            elapsed = json.loads((self.tmp / "dbt/target/run_results.json").read_text())
            figures["child"] = {"phases": {"dbt elapsed": round(elapsed["elapsed_time"], 3)}}
            return figures
        options = json.dumps({**self.options(arm), **more})
        command = [self.python(arm), "-m", "bench.peers.arms", arm, options]
        cwd = self.root if arm in ("setup", "mesh") else self.checkout
        return run_tree(command, self.env(arm), cwd, MARK)

    def prepare(self) -> dict[str, Any]:
        """The mesh copy and its silver tables, the two dbt projects and dagster-dbt's
        manifest; nothing here is timed."""
        write_mesh(self.root)
        silver = self.child("setup")
        lake = self.home / "lake"
        for arm in ("dbt", "dagster_dbt"):
            write_dbt_project(self.tmp / arm, lake, self.tmp / arm / "tpch.duckdb")
        write_dagster_own_instance(self.tmp / "dagster_dbt_home")
        project = str(self.tmp / "dagster_dbt")
        subprocess.run(
            [str(self.peers.with_name("dbt")), "parse", "--project-dir", project,
             "--profiles-dir", project],
            env=self.base, cwd=project, check=True, capture_output=True,
        )
        return silver

    def outputs(self) -> dict[str, Path]:
        return {
            "mesh": self.home / "lake" / DOMAIN,
            "dbt": self.tmp / "dbt" / "tpch.duckdb",
            "dagster_dbt": self.tmp / "dagster_dbt" / "tpch.duckdb",
            "floor": self.tmp / "floor",
        }


def _rounds(bench: Bench, rounds: int) -> dict[str, list[dict[str, Any]]]:
    """Every arm once a round, the order rotated each round; round 0 is not counted."""
    runs: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
    for round_ in range(rounds + 1):
        order = ARMS[round_ % len(ARMS) :] + ARMS[: round_ % len(ARMS)]
        for arm in order:
            figures = bench.child(arm)
            print(
                f"  round {round_}{' (warm-up)' if not round_ else ''} {LABELS[arm]:<12} "
                f"wall {figures['wall']:6.1f}s cpu {figures['cpu']:6.1f}s",
                file=sys.stderr, flush=True,
            )
            if round_:
                runs[arm].append(figures)
    return runs


def run(scale: float, rounds: int, landing: Path, profile: bool, install: bool) -> dict[str, Any]:
    """The figures of `rounds` rounds at TPC-H `scale` (landing data generated in `landing`)."""
    from mesh_platform.dev.sample_data import generate

    load_start = os.getloadavg()
    peers = peers_python(install)
    generate(landing, scale)
    with tempfile.TemporaryDirectory(prefix="mesh-bench-peers-") as tmp:
        bench = Bench(Path(tmp), landing, peers)
        figures: dict[str, Any] = {"scale": scale, "rounds": rounds, "load_start": load_start}
        figures["setup"] = bench.prepare()
        figures["runs"] = _rounds(bench, rounds)
        found = results(bench.outputs(), list(queries()))
        figures["agreement"] = agreement(found, "floor")
        if profile:
            stats = Path(tempfile.gettempdir()) / f"mesh-bench-peers-{scale:g}.pstats"
            figures["profile"] = {**bench.child("mesh", profile=str(stats)), "stats": str(stats)}
    figures["load_end"] = os.getloadavg()
    return figures


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _target(arm: str, scale: float) -> float | None:
    targets = TARGETS.get(arm, {})
    return targets.get(scale, targets.get(None))


def _phases(runs: list[dict[str, Any]]) -> str:
    names = runs[0]["child"]["phases"]
    return ", ".join(
        f"{n} {statistics.median(r['child']['phases'][n] for r in runs):.1f}s" for n in names
    )


def _arm_lines(figures: dict[str, Any]) -> list[str]:
    lines = [
        f"{'arm':<12} {'wall s':>7} {'cpu s':>7} {'peak tree':>10} {'peak proc':>10}  "
        "inside the process (medians) / walls of the rounds"
    ]
    for arm in ARMS:
        runs = figures["runs"][arm]
        walls = "/".join(f"{r['wall']:.1f}" for r in runs)
        lines.append(
            f"{LABELS[arm]:<12} {_median(runs, 'wall'):>7.2f} {_median(runs, 'cpu'):>7.2f} "
            f"{max(r['peak_tree_mb'] for r in runs):>7.0f} MB "
            f"{max(r['peak_process_mb'] for r in runs):>7.0f} MB  {_phases(runs)}; {walls}"
        )
    return lines


def _ratio_lines(figures: dict[str, Any]) -> list[str]:
    mesh = figures["runs"]["mesh"]
    lines = [f"{'ratio':<22} {'wall':>6} {'cpu':>6}  target (wall)"]
    for arm in ARMS[1:]:
        runs = figures["runs"][arm]
        wall = _median(mesh, "wall") / _median(runs, "wall")
        cpu = _median(mesh, "cpu") / _median(runs, "cpu")
        target = _target(arm, figures["scale"])
        verdict = "none at this scale" if target is None else (
            f"<= {target}: {'met' if wall <= target else 'MISSED'}"
        )
        lines.append(f"{'mesh / ' + LABELS[arm]:<22} {wall:>6.2f} {cpu:>6.2f}  {verdict}")
    return lines


def _agreement_lines(figures: dict[str, Any]) -> list[str]:
    checked = figures["agreement"]
    rows = sum(q["rows"] for q in checked.values())
    bad = {name: q["differs"] for name, q in checked.items() if q["differs"]}
    lines = [
        f"results: {len(checked)} queries, {rows} rows in all; "
        + ("the 4 arms agree on every query (row counts and values)" if not bad else
           f"{len(bad)} queries DIFFER")
    ]
    for name, differs in bad.items():
        for arm, problem in differs.items():
            lines.append(f"  {name}: {LABELS[arm]} vs floor: {problem[:300]}")
    return lines


def _profile_lines(profile: dict[str, Any]) -> list[str]:
    data = profile["child"]["profile"]
    lines = [
        f"one more mesh run under cProfile (not counted, stats in {profile['stats']}): run "
        f"{profile['child']['phases']['run']}s; cumulative (inflated by the profiler):"
    ]
    lines += [f"  {label:<40} {seconds:>7.2f}s" for label, seconds in data["phases"].items()]
    lines.append("  self time by package: " + ", ".join(
        f"{p} {s:.1f}s" for p, s in data["self_by_package"]
    ))
    return lines


def report(figures: dict[str, Any]) -> str:
    """The figures as a table, the ratios against the targets, the agreement of the results."""
    load = "/".join(f"{x:.2f}" for x in figures["load_start"])
    load_end = "/".join(f"{x:.2f}" for x in figures["load_end"])
    lines = [
        f"peers: TPC-H scale {figures['scale']:g}, 22 queries, medians of {figures['rounds']} "
        f"rounds after one warm-up, arms rotated; load average {load} at start, {load_end} at "
        f"end; silver built once in {figures['setup']['child']['silver_seconds']:.1f}s",
        *_arm_lines(figures),
        *_ratio_lines(figures),
        *_agreement_lines(figures),
    ]
    if "profile" in figures:
        lines += _profile_lines(figures["profile"])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--scale", type=float, default=1.0, help="TPC-H scale factor (1)")
    parser.add_argument("--rounds", type=int, default=3, help="counted rounds (3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--profile", action="store_true", help="one more mesh run under cProfile, not counted"
    )
    parser.add_argument("--data", type=Path, help="TPC-H landing folder (made when missing)")
    parser.add_argument(
        "--no-install", dest="install", action="store_false",
        help="do not install the peers (var/peers-venv) when they are missing: stop instead",
    )
    args = parser.parse_args()
    landing = args.data or Path(tempfile.gettempdir()) / f"mesh-bench-tpch-{args.scale}"
    figures = run(args.scale, args.rounds, landing, args.profile, args.install)
    print(json.dumps(figures, indent=2) if args.json else report(figures))


if __name__ == "__main__":
    main()
