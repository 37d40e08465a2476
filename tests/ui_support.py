"""Talking to a served Dagster UI in tests: a free port, GraphQL, `mesh up` in a subprocess,
and stopping it the way a user does (a signal it handles) before any forced kill."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
# `mesh up` stops everything it started within 10 s of SIGTERM / Ctrl-C; a loaded machine gets
# a margin before the forced kill.
STOP_SECONDS = 30.0


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def graphql(url: str, query: str) -> dict:
    """The `data` of a GraphQL query to the UI at `url`; fails the test on GraphQL errors."""
    request = urllib.request.Request(
        f"{url}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.load(response)
    assert "errors" not in payload, payload["errors"]
    return payload["data"]


def start_mesh_up(root: Path, workspace: Path, port: int, output: Path) -> subprocess.Popen[bytes]:
    """`mesh up --no-materialize` over `workspace` with MESH_HOME `root/var`, in its own
    process group, its output in `output`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MESH_", "DAGSTER_"))}
    env["MESH_HOME"] = str(root / "var")  # DAGSTER_HOME: mesh creates it from its template
    command = [str(VENV_BIN / "mesh"), "up", "--no-materialize", "--workspace", str(workspace)]
    with output.open("wb") as sink:
        return subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


# Processes, read from /proc (independently of the platform's own code) ---------------------


def _stats() -> dict[int, tuple[str, int, int, int]]:
    """Every process: pid -> (state, parent pid, process group, start time in clock ticks)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ... starttime (field 22): comm may hold spaces.
        fields = text[text.rfind(")") + 2 :].split()
        found[int(stat.parent.name)] = (fields[0], int(fields[1]), int(fields[2]), int(fields[19]))
    return found


def process_tree(pid: int) -> dict[int, int]:
    """`pid`, its descendants and the members of process groups one of them leads, alive now:
    pid -> start time (so that a pid the kernel reuses later is not taken for the same one)."""
    stats = _stats()
    tree = {pid} if pid in stats else set()
    grew = True
    while grew:
        groups = {stats[p][2] for p in tree} & tree
        more = {p for p, s in stats.items() if s[1] in tree or s[2] in groups} - tree
        tree |= more
        grew = bool(more)
    return {p: stats[p][3] for p in tree if stats[p][0] != "Z"}


def still_alive(recorded: dict[int, int]) -> list[int]:
    """The processes of `recorded` (pid -> start time) still running (zombies are gone)."""
    stats = _stats()
    return sorted(
        pid
        for pid, started in recorded.items()
        if pid in stats and stats[pid][3] == started and stats[pid][0] != "Z"
    )


def kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def stop_mesh_up(
    process: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = STOP_SECONDS
) -> float:
    """Stop `mesh up` as a user or a service manager does: `sig` (SIGTERM, or SIGINT for
    Ctrl-C), then wait for it to exit. If it has not within `timeout`, or left a process of
    its tree (recorded before the signal) running, every such process is killed and the test
    fails. Returns the seconds from the signal until every process of the tree was gone."""
    recorded = process_tree(process.pid)
    started = time.monotonic()
    if process.poll() is None:
        os.kill(process.pid, sig)
    deadline = started + timeout
    while (process.poll() is None or still_alive(recorded)) and time.monotonic() < deadline:
        time.sleep(0.05)
    took = time.monotonic() - started
    left = still_alive(recorded)
    if process.poll() is None or left:
        left = sorted({*left, *process_tree(process.pid)})
        kill_all(left)
        process.wait()
        raise AssertionError(f"mesh up left {len(left)} processes after {timeout:.0f} s: {left}")
    return took
