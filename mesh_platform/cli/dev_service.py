"""`dagster dev` as `mesh up` runs it: started in a process group of its own, and stopped,
with everything it started, within STOP_SECONDS of the first Ctrl-C or SIGTERM.

Stopping (`Stopper.stop`): the runs `mesh up` owns that are in flight are marked CANCELING
and their processes interrupted (Dagster then ends them as CANCELED), `dagster dev` gets SIGINT
(it stops its webserver and daemon, which stop their code servers); whatever of the tree is
still alive after GRACE_SECONDS is killed, and runs still in flight are marked CANCELED. A
second signal kills the whole tree at once. Should `mesh up` itself be killed, `dagster dev`
gets SIGTERM from the kernel (the parent-death signal) and stops its services.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import IO, cast

import click

from mesh_platform.cli.inflight import InFlight, RunBook
from mesh_platform.cli.processes import ProcessTree, send
from mesh_platform.cli.service_log import ServiceLog

# `dagster dev` is marked superseded by `dg dev`, which serves one project as one code location;
# the mesh is one location per domain (workspace.yaml), which only `dagster dev` serves.
_SUPERSEDED = "ignore:Function `dev_command` is superseded:FutureWarning"
# The instance template (dagster.yaml) lives at the checkout's top level, where `dagster dev`
# starts, and is copied into DAGSTER_HOME: dagster dev's warning that the one in the folder it
# starts from is not used says what is meant. It stays in the full log.
_TEMPLATE_NOTICE = re.compile(rb"Found a dagster instance configuration value \(dagster\.ya?ml\)")
_COLOUR = re.compile(rb"\x1b\[[0-9;]*m")
# Linux: the kernel sends SIGTERM to dagster dev if mesh up dies without stopping it (killed);
# it then stops its services itself. exec keeps the pid, so the group is still dagster dev's.
_WITH_PARENT_DEATH_SIGNAL = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)  # mesh up is already gone\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)

STOP_SECONDS = 10.0
# Until then dagster dev and the interrupted runs stop by themselves; then what is left is
# killed (KILL_WAIT_SECONDS for the kernel to take it down).
GRACE_SECONDS = 6.0
KILL_WAIT_SECONDS = 2.0
POLL_SECONDS = 0.1


def dev_command(workspace: Path, host: str, port: int, verbose: bool) -> list[str]:
    """`dagster dev` over `workspace`, without the supersession warning (see _SUPERSEDED)."""
    return [
        sys.executable,
        "-W",
        _SUPERSEDED,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(workspace),
        "-h",
        host,
        "-p",
        str(port),
        "--log-level",
        "info" if verbose else "warning",
    ]


def launch(command: Sequence[str], cwd: Path) -> subprocess.Popen[bytes]:
    """Start `command` in a process group of its own (its pid), output piped, with the
    parent-death signal on Linux. The caller's SIGINT / SIGTERM handlers must be its own (not
    SIG_IGN): the child then starts with the default disposition and reacts to SIGINT even
    when mesh up was started in the background by a non-interactive shell."""
    argv = list(command)
    if sys.platform == "linux":
        argv = [sys.executable, "-c", _WITH_PARENT_DEATH_SIGNAL, str(os.getpid()), *argv]
    return subprocess.Popen(
        argv,
        cwd=cwd,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


class DevLog(ServiceLog):
    """The service log of dagster dev: plain text (dagster dev colours its own records, which
    then would not be seen as records), without its notice about the instance template."""

    def __init__(self, source: IO[bytes], path: Path, verbose: bool) -> None:
        super().__init__(cast("IO[bytes]", _Uncoloured(source)), path, verbose)

    def shows(self, record_start: bytes) -> bool:
        return super().shows(record_start) and not _TEMPLATE_NOTICE.search(record_start)


class _Uncoloured:
    """Lines of `source` without terminal colour codes."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source

    def readline(self) -> bytes:
        return _COLOUR.sub(b"", self._source.readline())


class Stopper:
    """Runs dagster dev (`start`), stops it and its tree on the first SIGINT / SIGTERM (its
    `on_signal` is the handler), kills the tree at once on the second; settles the runs of
    `book` (when there is one)."""

    def __init__(self, book: RunBook | None) -> None:
        self.book = book
        self.child: subprocess.Popen[bytes] | None = None
        self.tree: ProcessTree | None = None
        self.signals: list[int] = []
        self.wake = threading.Event()
        self._stopped = False

    def start(self, command: Sequence[str], cwd: Path) -> subprocess.Popen[bytes]:
        self.child = launch(command, cwd)
        self.tree = ProcessTree(self.child.pid)
        return self.child

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.signals.append(signum)
        if len(self.signals) > 1 and self.tree is not None:
            self.tree.kill()
        self.wake.set()

    @property
    def forced(self) -> bool:
        return len(self.signals) > 1

    def stop(self, also: Callable[[], None] | None = None) -> float:
        """Stop the tree (and `also`, in a thread beside: the web catalog); returns the
        seconds it took. Every process of the tree is gone on return; a second call does
        nothing."""
        started = time.monotonic()
        beside = threading.Thread(target=also, name="mesh-up-stop", daemon=True) if also else None
        if beside is not None:
            beside.start()
        if self.child is not None and self.tree is not None and not self._stopped:
            self._stop_tree(self.child, self.tree)
        self._stopped = True
        if beside is not None:
            beside.join(timeout=max(0.0, started + STOP_SECONDS - time.monotonic()))
        return time.monotonic() - started

    def _stop_tree(self, child: subprocess.Popen[bytes], tree: ProcessTree) -> None:
        started = time.monotonic()
        alive = tree.refresh()
        owned = self._request_cancel(tree)
        if child.poll() is None:
            send([child.pid], signal.SIGINT)
        send([f.pid for f in owned if f.pid is not None and f.pid in alive], signal.SIGINT)
        deadline = started + GRACE_SECONDS
        while tree.refresh() and time.monotonic() < deadline and not self.forced:
            time.sleep(POLL_SECONDS)
        deadline = time.monotonic() + KILL_WAIT_SECONDS
        while tree.refresh() and time.monotonic() < deadline:
            tree.kill()
            time.sleep(POLL_SECONDS)
        if child.poll() is None:
            child.kill()
        child.wait()
        self._cancel_left(tree, owned)

    def _request_cancel(self, tree: ProcessTree) -> list[InFlight]:
        if self.book is None:
            return []
        try:
            owned = self.book.owned(tree.pids())
            self.book.request_cancel(owned)
        except Exception as exc:  # the processes are stopped whatever the instance says
            click.echo(f"could not mark the runs in flight as canceling: {exc}", err=True)
            return []
        return owned

    def _cancel_left(self, tree: ProcessTree, owned: list[InFlight]) -> None:
        if self.book is None:
            return
        try:
            left = self.book.cancel(tree.pids())
        except Exception as exc:
            click.echo(f"could not mark the runs left in flight as canceled: {exc}", err=True)
            return
        ids = [i for i in sorted({f.run.run_id for f in owned} | set(left)) if self._canceled(i)]
        if ids:
            click.echo(f"canceled {len(ids)} run(s) in flight: {' '.join(ids)}")

    def _canceled(self, run_id: str) -> bool:
        import dagster as dg

        assert self.book is not None
        run = self.book.instance.get_run_by_id(run_id)
        return run is not None and run.status == dg.DagsterRunStatus.CANCELED
