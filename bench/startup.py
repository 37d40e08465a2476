"""Start-up cost: the `mesh` CLI on the demo mesh, and one code location's load time.

A developer runs `mesh --help`, `mesh list` and `mesh validate` many times a day, and Dagster
imports every code location's `definitions.py` on each reload: these must stay quick. The
figures are wall-clock over fresh subprocesses (nothing cached in-process), each command run
`repeat` times after one warm-up run that is not counted (bytecode is cached in a private
temporary folder, whatever PYTHONDONTWRITEBYTECODE says); the report gives the median and the
fastest run beside the target.

The location load is measured in generated meshes of K domains of 10 products each (one
published landing product, nine SQL products reading it and the previous domain's). Domain
d02 reads d01's published product and is the same in every mesh, so its import time must not
grow with K: a location plans only its own domain and reads the contracts of the products it
reads from other domains, never the whole tree. The meshes are timed in turn within each
round, so a change in the machine's load weighs on every K alike. `import dagster` alone,
timed the same way, is the floor under which no location can load.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from mesh_platform.spec.workspace import repo_root

CLI_TARGET = {"--help": 0.5, "list": 3.0, "validate": 3.0}
LOCATION_TARGET = 3.0
PRODUCTS = 10
TIMED = "d02"

_IMPORT = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
_LANDING = """\
name: p00
description: Landing table of {domain}.
visibility: published
source: {{landing: {domain}_events}}
columns:
  - {{name: id, type: bigint}}
  - {{name: name, type: string}}
  - {{name: amount, type: double}}
"""
_COLUMNS = """\
columns:
  - {name: id, type: bigint}
  - {name: name, type: string}
  - {name: amount, type: double}
"""


def _domain_name(number: int) -> str:
    return f"d{number:02d}"


def _sql_product(name: str, index: int, previous: str | None) -> str:
    if previous is None:
        inputs = "{own: p00}"
        sql = f"SELECT id, name, amount * {index} AS amount FROM own WHERE amount > {index}"
    elif index % 2:
        inputs = f"{{own: p00, other: {previous}.p00}}"
        sql = (
            "SELECT own.id, own.name, own.amount + other.amount AS amount "
            "FROM own JOIN other ON own.id = other.id"
        )
    else:
        inputs = f"{{own: p00, other: {previous}.p00}}"
        sql = "SELECT id, name, amount FROM own UNION ALL SELECT id, name, amount FROM other"
    return (
        f"name: {name}\ndescription: Product {index} of the benchmark.\n"
        f"inputs: {inputs}\nsteps:\n  - sql: {sql}\n{_COLUMNS}"
    )


def generate_mesh(root: Path, domains: int) -> None:
    """Write `domains` domains d01..dNN under `root`/domains; each dNN reads p00 of d(NN-1), so
    d02 (the timed location) is the same in every mesh."""
    # `domains` must be a regular package here: the checkout's own `domains` package is on
    # sys.path too (editable install), and a regular package wins over a namespace one.
    (root / "domains").mkdir(parents=True)
    (root / "domains/__init__.py").write_text("")
    for number in range(1, domains + 1):
        domain = _domain_name(number)
        previous = _domain_name(number - 1) if number > 1 else None
        folder = root / "domains" / domain
        (folder / "products").mkdir(parents=True)
        (folder / "__init__.py").write_text("")
        (folder / "domain.yaml").write_text(f"name: {domain}\nteam: {domain}-team\n")
        (folder / "definitions.py").write_text(
            "from mesh_platform import load_domain\n\ndefs = load_domain(__file__)\n"
        )
        (folder / "products/p00.yaml").write_text(_LANDING.format(domain=domain))
        for index in range(1, PRODUCTS):
            name = f"p{index:02d}"
            (folder / f"products/{name}.yaml").write_text(_sql_product(name, index, previous))


def _check_mesh(root: Path, domains: int) -> None:
    """Plan d01 and d02 (which reads d01): fail loudly on a spec error."""
    from mesh_platform.errors import SpecError
    from mesh_platform.loader import planner_for

    for domain in (_domain_name(1), _domain_name(2)):
        try:
            plans = planner_for(root, domain).plan_all()
        except SpecError as exc:
            raise RuntimeError(
                f"generated domain {domain} under {root} is invalid:\n{exc}"
            ) from exc
        if len(plans) != PRODUCTS:
            raise RuntimeError(f"generated domain {domain}: {len(plans)} products planned")


def _run(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} (in {cwd}) failed with code {result.returncode}:\n"
            f"{result.stdout[-2000:]}{result.stderr[-4000:]}"
        )
    return result.stdout


def _wall(command: Sequence[str], cwd: Path, env: dict[str, str], repeat: int) -> list[float]:
    """Wall-clock seconds of `command`, after one run not counted (it fills the caches)."""
    times = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        _run(command, cwd, env)
        times.append(time.perf_counter() - started)
    return times[1:]


def _import_once(module: str, root: Path, env: dict[str, str]) -> float:
    """Seconds to import `module`, as printed by a fresh interpreter."""
    command = [sys.executable, "-c", _IMPORT.format(module=module)]
    return float(_run(command, root, env).split()[-1])


def _import_time(module: str, root: Path, env: dict[str, str], repeat: int) -> list[float]:
    """`_import_once`, `repeat` times after one run not counted."""
    return [_import_once(module, root, env) for _ in range(repeat + 1)][1:]


def run(repeat: int = 5, sizes: Sequence[int] = (2, 10, 50)) -> dict[str, dict[str, list[float]]]:
    """Seconds per run: `cli` (per command), `floor` (import dagster) and `location` (the
    import of d02's definitions, per number of domains in the mesh; at least 2)."""
    if min(sizes) < 2:
        raise ValueError("the timed location d02 reads d01: every mesh needs 2 domains or more")
    checkout = repo_root()
    mesh = str(Path(sys.executable).with_name("mesh"))
    location: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="mesh-bench-startup-") as tmp:
        # Bytecode is cached in a private folder, so a PYTHONDONTWRITEBYTECODE in the caller's
        # environment does not turn every start into a compilation of ~1,500 modules (what
        # no developer's machine does), and nothing is written to the checkout or the venv.
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        cli = {name: _wall([mesh, name], checkout, base, repeat) for name in CLI_TARGET}
        home = Path(tmp) / "home"
        home.mkdir()
        meshes: list[tuple[Path, dict[str, str]]] = []
        for size in sizes:
            root = Path(tmp) / f"mesh{size}"
            generate_mesh(root, size)
            _check_mesh(root, size)
            meshes.append((root, {**base, "PYTHONPATH": str(root), "MESH_HOME": str(home)}))
        floor = _import_time("dagster", *meshes[0], repeat)
        module = f"domains.{TIMED}.definitions"
        rounds = [
            [_import_once(module, root, env) for root, env in meshes] for _ in range(repeat + 1)
        ][1:]  # the first round is not counted: it fills the caches
        for index, size in enumerate(sizes):
            location[str(size)] = [times[index] for times in rounds]
    return {"cli": cli, "floor": {"import dagster": floor}, "location": location}


def report(times: dict[str, dict[str, list[float]]]) -> str:
    """One line per command: median, fastest, target; then the load ratio largest/smallest."""

    def row(label: str, runs: list[float], target: float | None) -> str:
        median = statistics.median(runs)
        goal = f"< {target:g}s" if target is not None else ""
        verdict = ("ok" if median < target else "OVER") if target is not None else ""
        return f"{label:<34} {median:>7.2f}s {min(runs):>7.2f}s  {goal:<7} {verdict}"

    runs = len(next(iter(times["cli"].values())))
    lines = [f"{'seconds, ' + str(runs) + ' runs each':<34} {'median':>8} {'min':>8}  target"]
    for name, cli_runs in times["cli"].items():
        lines.append(row(f"mesh {name} (demo mesh)", cli_runs, CLI_TARGET[name]))
    lines.append(row("python -c 'import dagster' (floor)", times["floor"]["import dagster"], None))
    for size, load in times["location"].items():
        lines.append(row(f"import {TIMED} location, K={size} domains", load, LOCATION_TARGET))
    loads = times["location"]
    if len(loads) > 1:
        first, last = next(iter(loads)), list(loads)[-1]
        ratio = statistics.median(loads[last]) / statistics.median(loads[first])
        fastest = min(loads[last]) / min(loads[first])
        floor = statistics.median(times["floor"]["import dagster"])
        added = statistics.median(loads[first]) - floor
        lines.append(
            f"load ratio K={last}/K={first}: {ratio:.2f} of medians, {fastest:.2f} of minimums "
            f"(should be about 1)\nthe platform adds {added:.2f}s to import dagster (K={first})"
        )
    return "\n".join(lines)
