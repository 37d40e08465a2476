"""The parent's side: one zygote per process, started by the first Python step.

`run` hands one step to the zygote: the frame (and the inputs, when the step takes them) as
Arrow IPC files in memfds, an empty memfd for the result, and a reply socket of its own, so
several threads may run steps at once. It reads the replies until the zygote closes the
socket: the child's pid, the child's outcome, how the child exited. A zygote that is gone
(it exits after `IDLE_SECONDS` without a step) is replaced, and the request sent again.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from mesh_platform.errors import PlatformError
from mesh_platform.sandbox import ipc

IDLE_SECONDS = 2.0  # an idle zygote exits: it holds ~115 MB, and a new one starts in ~0.7 s
START_SECONDS = 120.0  # importing polars and pyarrow on a busy machine
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[3]); "
    "from mesh_platform.sandbox.zygote import main; main()"
)


_PRELOAD: list[str] = []  # modules a new zygote imports before it forks (see `preload`)


def preload(*modules: str) -> None:
    """Have the next zygote of this process import `modules` once, before it forks: the
    platform's modules domain code imports (the spec model), paid once, not per child."""
    for module in modules:
        if module not in _PRELOAD:
            _PRELOAD.append(module)


class SandboxStartFailed(PlatformError):
    """The zygote did not start (it printed why on the process's standard error)."""


@dataclass
class Outcome:
    """What became of one step (or call) in the sandbox."""

    table: pa.Table | None = None
    value: Any = None  # a call's JSON result
    reply: dict[str, Any] = field(default_factory=dict)  # the child's record
    exit_code: int | None = None  # negative: the signal that ended the child
    pid: int | None = None


class _Zygote:
    def __init__(self, idle: float) -> None:
        ours, theirs = ipc.pair()
        root = str(Path(__file__).resolve().parents[2])  # the folder holding mesh_platform
        boot = list(_PRELOAD)
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, str(theirs.fileno()), str(idle), root, *boot],
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
                env={"PATH": os.defpath},
                cwd="/",
            )
        finally:
            theirs.close()
        self.control = ours
        self.lock = threading.Lock()
        ready, _, _ = select.select([ours], [], [], START_SECONDS)
        hello, _ = ipc.receive(ours) if ready else (None, [])
        if not hello or not hello.get("ready"):
            self.close()
            raise SandboxStartFailed(
                "the sandbox for Python steps did not start (its error is on the standard "
                "error of this process)"
            )
        self.landlock = int(hello.get("landlock", 0))

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: dict[str, Any], fds: list[int]) -> None:
        with self.lock:
            ipc.send(self.control, request, fds)

    def close(self) -> None:
        self.control.close()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_LOCK = threading.Lock()
_CURRENT: _Zygote | None = None


def _zygote(replace: _Zygote | None = None) -> _Zygote:
    global _CURRENT
    with _LOCK:
        current = _CURRENT
        if current is not None and (current is replace or not current.alive()):
            current.close()
            current = _CURRENT = None
        if current is None:
            current = _CURRENT = _Zygote(IDLE_SECONDS)
            if not getattr(_zygote, "registered", False):
                atexit.register(shutdown)
                os.register_at_fork(after_in_child=_forget)
                _zygote.registered = True  # type: ignore[attr-defined]
        return current


def shutdown() -> None:
    """Stop this process's zygote (it stops by itself when idle or when the process ends)."""
    global _CURRENT
    with _LOCK:
        if _CURRENT is not None:
            _CURRENT.close()
            _CURRENT = None


def _forget() -> None:
    """In a forked copy of this process: its own zygote, when it needs one."""
    global _CURRENT
    if _CURRENT is not None:
        with contextlib.suppress(OSError):
            _CURRENT.control.close()
    _CURRENT = None


def run(request: dict[str, Any], frame: pa.Table, inputs: Mapping[str, pa.Table] | None) -> Outcome:
    """Run the step described by `request` over `frame` (and `inputs`) in a sandboxed child."""
    name = str(request.get("ref", "step"))
    opened: list[int] = []
    try:
        for label, table in [("frame", frame), *(inputs or {}).items()]:
            fd = ipc.memfd(f"{name}:{label}")
            opened.append(fd)
            ipc.write_table(fd, table)
        out_fd = ipc.memfd(f"{name}:result")
        fds = [opened[0], out_fd, *opened[1:]]
        opened.append(out_fd)
        outcome = _outcome(request, fds)
        if outcome.reply.get("ok"):
            outcome.table = ipc.read_table(out_fd)
        return outcome
    finally:
        for fd in opened:
            os.close(fd)


def call(request: dict[str, Any]) -> Outcome:
    """Do the call described by `request` (`calls.py`: its `kind`) in a sandboxed child;
    `Outcome.value` is its JSON result when the reply is ok."""
    name = str(request.get("ref", "call"))
    opened = [ipc.memfd(f"{name}:none"), ipc.memfd(f"{name}:result")]
    try:
        outcome = _outcome(request, opened)
        if outcome.reply.get("ok"):
            size = os.fstat(opened[1]).st_size
            data = os.pread(opened[1], size, 0) if size else b"null"
            outcome.value = json.loads(data)
        return outcome
    finally:
        for fd in opened:
            os.close(fd)


def _outcome(request: dict[str, Any], fds: list[int]) -> Outcome:
    zygote = _zygote()
    outcome = _exchange(zygote, request, fds)
    if outcome is None:  # the zygote ended before it took the request: once more
        outcome = _exchange(_zygote(replace=zygote), request, fds)
    if outcome is None:
        raise SandboxStartFailed("the sandbox ended before running the domain's code")
    return outcome


def _exchange(zygote: _Zygote, request: dict[str, Any], fds: list[int]) -> Outcome | None:
    """Send the request with a reply socket of its own; read until the child's exit (None when
    the zygote never took the request)."""
    ours, theirs = ipc.pair()
    outcome = Outcome()
    try:
        try:
            zygote.send(request, [theirs.fileno(), *fds])
        except (BrokenPipeError, ConnectionResetError):
            return None
        finally:
            theirs.close()
        while True:
            message, extra = ipc.receive(ours)
            for fd in extra:
                os.close(fd)
            if message is None:
                break
            if outcome.pid is None:  # the zygote's first record, before the child may write
                outcome.pid = int(message.get("pid", 0)) or None
                if outcome.pid is None:
                    break
            elif set(message) == {"exit"}:
                outcome.exit_code = int(message["exit"])
                break
            elif not outcome.reply:
                outcome.reply = message
    except BaseException:
        if outcome.pid is not None:  # interrupted: the step does not outlive its caller
            with contextlib.suppress(OSError):
                os.kill(outcome.pid, signal.SIGKILL)
        raise
    finally:
        ours.close()
    return outcome if outcome.pid is not None else None
