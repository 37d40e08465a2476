"""The zygote: a small server process that forks one sandboxed child per Python step.

Started by the first Python step of a process (`client.py`) as a fresh interpreter with a
minimal environment, no inherited file descriptors but its control socket, and `/` as its
working directory. It imports polars and pyarrow (0.6-0.8 s, paid once) and never runs any
polars work, so polars' thread pool does not exist when it forks: each child starts
single-threaded, restricts itself, and only then creates threads (which inherit the
restriction). It never imports a domain's code.

Protocol (records, `ipc.py`): it says `{"ready": ...}` once; each request comes with a reply
socket and the memfds; it forks, answers `{"pid": n}` on the reply socket, the child answers
its outcome there, and after reaping the child the zygote adds `{"exit": code}` and closes
its end. It exits when the control socket closes (its parent is gone: running children are
killed) or after `idle` seconds without a step (the next step starts a new one).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import select
import signal
import socket
import sys
import time
from typing import Any

from mesh_platform.sandbox import child, ipc, landlock, paths


def serve(control: socket.socket, idle: float) -> None:
    """Serve requests on `control` until it closes or `idle` seconds pass without work."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; it kills a child by pid
    wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    install = paths.installation()
    ipc.send(control, {"ready": True, "pid": os.getpid(), "landlock": landlock.abi()})
    running: dict[int, socket.socket] = {}
    last = time.monotonic()
    try:
        while True:
            wait = None if running else idle - (time.monotonic() - last)
            if wait is not None and wait <= 0:
                return
            readable, _, _ = select.select([control.fileno(), wake_r], [], [], wait)
            if wake_r in readable:
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 512)
            if _reap(running):
                last = time.monotonic()
            if control.fileno() in readable:
                request, fds = ipc.receive(control)
                if request is None:
                    return  # the parent is gone
                last = time.monotonic()
                _start(request, fds, running, install)
    finally:
        for pid in running:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _start(
    request: dict[str, Any], fds: list[int], running: dict[int, socket.socket], install: list[str]
) -> None:
    if len(fds) < 3 or "module" not in request:
        for fd in fds:
            os.close(fd)
        return
    reply = socket.socket(fileno=fds[0])
    request["zygote"] = os.getpid()
    go_r, go_w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        os.read(go_r, 1)  # the parent hears the pid before the child can say anything
        os.close(go_r)
        child.run(request, fds, install)  # never returns
    os.close(go_r)
    for fd in fds[1:]:
        os.close(fd)
    running[pid] = reply
    with contextlib.suppress(OSError):
        ipc.send(reply, {"pid": pid})
    os.write(go_w, b"g")
    os.close(go_w)


def _reap(running: dict[int, socket.socket]) -> bool:
    """Collect ended children; tell each one's parent how it ended. Whether any ended."""
    ended = False
    while running:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        ended = True
        reply = running.pop(pid, None)
        if reply is not None:
            with contextlib.suppress(OSError):
                ipc.send(reply, {"exit": os.waitstatus_to_exitcode(status)})
            reply.close()
    return ended


def main() -> None:
    """`<python> -c ... <control fd> <idle seconds> <root> [module ...]` (see `client.py`):
    the modules are imported once here, before any fork (the platform's, e.g. the spec model
    a product module builds); one that does not import is left to the child to report."""
    for name in sys.argv[4:]:
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    serve(socket.socket(fileno=int(sys.argv[1])), float(sys.argv[2]))
