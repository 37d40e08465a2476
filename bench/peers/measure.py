"""Measuring an arm's process tree, and checking that the arms' 22 results agree."""

from __future__ import annotations

import json
import math
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Bytes resident in `root` and its descendants (RSS summed: shared pages count twice)."""
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                # the command may hold spaces and parentheses: fields start after the last ')'
                parents[int(entry.name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.update(children)
        frontier = children
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total += int(statm.read().split()[1]) * _PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


class _Sampler(threading.Thread):
    """The largest RSS of a process tree, sampled every `interval` seconds until stopped."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.peak = max(self.peak, _tree_rss(self.pid))


def run_tree(command: list[str], env: dict[str, str], cwd: Path, mark: str) -> dict[str, Any]:
    """One child (with its children): wall, CPU (user + system of the tree: wait4 counts the
    children each process waited for), peak RSS of the tree (sampled) and of its largest
    process (ru_maxrss), and the JSON the child printed after `mark`, if any."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=err, text=True)
        sampler = _Sampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        sampler.done.set()
        sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if process.returncode != 0 or (mark and mark not in stdout):
        raise RuntimeError(f"{' '.join(command[:4])} failed:\n{stdout[-3000:]}{stderr[-5000:]}")
    return {
        "wall": round(wall, 3),
        "cpu": round(usage.ru_utime + usage.ru_stime, 3),
        "peak_tree_mb": round(sampler.peak / 2**20, 1),
        "peak_process_mb": round(usage.ru_maxrss / 1024, 1),
        "child": json.loads(stdout.split(mark, 1)[1]) if mark else None,
    }


# ---------------------------------------------------------------------------------------------
# agreement


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return value.date() if value.time() == datetime.min.time() else value
    return value


def _rows(table: Any) -> list[tuple[Any, ...]]:
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    rows = [tuple(_value(v) for v in row) for row in zip(*columns, strict=True)]

    def key(row: tuple[Any, ...]) -> str:
        return repr(tuple(round(v, 2) if isinstance(v, float) else v for v in row))

    return sorted(rows, key=key)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float | int) and isinstance(b, float | int):
        # Spark's decimal division keeps 6 decimals where DuckDB divides in double precision
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(a, date) and isinstance(b, date):
        return a == b
    return bool(a == b)


def _differs(a: list[tuple[Any, ...]], b: list[tuple[Any, ...]]) -> str | None:
    if len(a) != len(b):
        return f"{len(a)} rows against {len(b)}"
    for row_a, row_b in zip(a, b, strict=True):
        if len(row_a) != len(row_b):
            return f"{len(row_a)} columns against {len(row_b)}"
        if not all(_same(x, y) for x, y in zip(row_a, row_b, strict=True)):
            return f"row {row_a} against {row_b}"
    return None


def results(paths: dict[str, Path], names: Iterable[str]) -> dict[str, dict[str, Any]]:
    """Each arm's results, `{arm: {query: rows}}`: a folder of Delta tables or a DuckDB file."""
    import duckdb
    from deltalake import DeltaTable

    found: dict[str, dict[str, Any]] = {}
    for arm, path in paths.items():
        if path.suffix == ".duckdb":
            with duckdb.connect(str(path), read_only=True) as con:
                found[arm] = {
                    n: _rows(con.sql(f"SELECT * FROM main.{n}").to_arrow_table()) for n in names
                }
        else:
            found[arm] = {
                n: _rows(DeltaTable(str(path / n)).to_pyarrow_table()) for n in names
            }
    return found


def agreement(found: dict[str, dict[str, Any]], reference: str) -> dict[str, Any]:
    """Per query, the row count of `reference` and what differs in each other arm."""
    report: dict[str, Any] = {}
    for name, rows in found[reference].items():
        report[name] = {"rows": len(rows), "differs": {}}
        for arm, tables in found.items():
            problem = None if arm == reference else _differs(rows, tables[name])
            if problem:
                report[name]["differs"][arm] = problem
    return report
