"""Faults: a write killed at any moment (kill -9) leaves either the previous version or the new
one, never a partial version; orphan files of killed writes are cleaned without touching any
committed version."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.lake.orphans import GRACE_SECONDS, referenced_files, remove_orphans
from tests.mini_mesh import write_mesh

EVENTS = """\
name: events
description: Landing copy.
source: {landing: events}
columns:
  - {name: id, type: bigint}
  - {name: amount, type: double}
  - {name: note, type: string}
"""

# Materializes shop.events once, in a process of its own, saying when the work starts.
RUN = """
import sys
from pathlib import Path
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.loader.mesh import load_mesh
from mesh_platform.run.materialize import materialize_product
root = Path(sys.argv[1])
mesh = load_mesh(root)
lake = Lakehouse(root=str(root / "lake"), landing_root=str(root / "landing"))
key = ("shop", "events")
print("go", flush=True)
materialize_product(mesh.products[key].spec, mesh.plans[key], lake)
print("done", flush=True)
"""


def _landing(root: Path, rows: int) -> None:
    note = pl.lit("a note long enough to make the files sizeable ") + pl.col("id").cast(pl.String)
    frame = pl.DataFrame({"id": range(rows), "amount": [i * 0.5 for i in range(rows)]})
    frame = frame.with_columns(note=note)
    frame.write_parquet(root / "landing" / "events.parquet", row_group_size=50_000)


def _start(root: Path) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", RUN, str(root)], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "MESH_HOME": str(root / "var")},
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "go"
    return process


def _versions(uri: str) -> dict[int, int]:
    """Rows of every committed version (each must read in full)."""
    table = DeltaTable(uri)
    return {
        int(h["version"]): DeltaTable(uri, version=int(h["version"])).to_pyarrow_table().num_rows
        for h in table.history()
    }


@pytest.mark.slow  # eleven writes, ten of them killed
def test_a_write_killed_at_any_moment_leaves_a_whole_version(tmp_path: Path) -> None:
    root = write_mesh(tmp_path, {"shop": {"events": EVENTS}})
    (root / "landing").mkdir()
    uri = str(root / "lake" / "shop" / "events")
    _landing(root, 300_000)
    process = _start(root)
    started = time.perf_counter()
    assert process.wait(timeout=300) == 0
    full = time.perf_counter() - started  # the work of a run: read, conform, write, commit
    written = {300_000}
    kills = 0
    # Spread over the run, short of its end: the later writes are smaller than the timed one
    # (200,000-270,000 rows against 300,000) and the machine's load changes between runs, so
    # a run that finished before its kill makes the next kills aim earlier; attempts go on
    # (at most 15) until ten kills.
    fractions = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.35, 0.45, 0.25, 0.15, 0.5)
    for step, fraction in enumerate(fractions):
        if kills >= 10:
            break
        rows = 200_000 + 5_000 * step  # each attempt writes a count of its own
        _landing(root, rows)
        process = _start(root)
        began = time.perf_counter()
        time.sleep(fraction * full)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        else:
            full = min(full, time.perf_counter() - began)
        process.wait(timeout=300)
        versions = _versions(uri)
        # Every committed version holds exactly what one run wrote: no partial version.
        assert set(versions.values()) <= written | {rows}, versions
        if max(versions) and versions[max(versions)] == rows:
            written.add(rows)
    assert kills >= 5, "the runs finished before the kills: make the data larger"
    # Orphans of the killed writes are cleaned; every committed version still reads in full.
    before = _versions(uri)
    remove_orphans(uri, grace_seconds=0)
    on_disk = {p.resolve() for p in Path(uri).rglob("*.parquet") if "_delta_log" not in p.parts}
    assert on_disk == referenced_files(Path(uri))
    assert _versions(uri) == before


def test_a_write_removes_old_orphans_and_keeps_every_committed_version(tmp_path: Path) -> None:
    lakehouse = Lakehouse(root=str(tmp_path / "lake"), landing_root=str(tmp_path / "landing"))
    key = ("shop", "events")
    for rows in (3, 2):
        lakehouse.write(key, pa.table({"id": list(range(rows))}))
    folder = tmp_path / "lake" / "shop" / "events"
    old, young = folder / "part-killed-old.parquet", folder / "part-killed-young.parquet"
    for orphan in (old, young):
        orphan.write_bytes(b"PAR1 half a file")
    hour_ago = time.time() - 2 * GRACE_SECONDS
    os.utime(old, (hour_ago, hour_ago))
    lakehouse.write(key, pa.table({"id": [7]}))
    assert not old.exists(), "an orphan older than the grace period is removed"
    assert young.exists(), "a file younger than the grace period may be a write in progress"
    assert _versions(str(folder)) == {0: 3, 1: 2, 2: 1}, "every committed version still reads"


def test_the_files_the_log_references_are_those_of_its_versions(tmp_path: Path) -> None:
    """`referenced_files` reads the log's commits and checkpoints in one pass; it must find
    exactly the files of every version delta-rs can still open, percent-encoded partition
    folders and a log cleaned up to its checkpoint included."""
    from deltalake import write_deltalake

    folder = tmp_path / "t"
    for n, region in enumerate(["north west", "a=b%c", "süd", "north west", "x"]):
        mode = "overwrite" if n % 2 else "append"
        batch = pa.table({"region": [region, "x"], "n": [n, n]})
        write_deltalake(str(folder), batch, partition_by=["region"], mode=mode)

    def files_of_versions(first: int) -> set[Path]:
        last = DeltaTable(str(folder)).version()
        return {
            Path(uri).resolve()
            for version in range(first, last + 1)
            for uri in DeltaTable(str(folder), version=version).file_uris()
        }

    assert referenced_files(folder) == files_of_versions(0)
    DeltaTable(str(folder)).create_checkpoint()
    checkpoint = DeltaTable(str(folder)).version()
    write_deltalake(str(folder), pa.table({"region": ["y"], "n": [9]}), mode="overwrite",
                    partition_by=["region"])
    for commit in (folder / "_delta_log").glob("*.json"):  # a clean-up to the checkpoint
        if int(commit.stem) <= checkpoint:
            commit.unlink()
    assert referenced_files(folder) == files_of_versions(checkpoint)
