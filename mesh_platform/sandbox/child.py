"""The sandboxed child: one per Python step run, forked from the zygote.

In order, before any of the step's code exists in the process: close every file descriptor
it was not given, clear the environment, restrict itself with Landlock (read-only on the
allow-list of `paths.py`, no TCP) and seccomp (no sockets), record what it touches (an audit
hook, for the error message only: the kernel enforces), then import the step's module from
the files the parent located, read its input frames from memfds, call it and write its
result into the output memfd. Whatever happens, it reports one record and exits with
`os._exit` (no atexit handlers, no flushing of the zygote's inherited buffers).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.machinery
import importlib.util
import inspect
import json
import os
import resource
import signal
import socket
import sys
import time
import traceback
from types import ModuleType
from typing import Any

import polars as pl

from mesh_platform.sandbox import calls, ipc, landlock, paths, seccomp

_PR_SET_PDEATHSIG = 1
_TEXT = 8000  # characters of a message sent back
_TRACE = 16000  # characters of a traceback sent back
_WRITING = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_SOCKET_EVENTS = ("socket.connect", "socket.sendto", "socket.bind", "socket.getaddrinfo")


class _Seen:
    """What the step's Python code last asked for (for the error message only)."""

    address: str | None = None  # a network address
    written: set[str] = set()  # files opened for writing


def _record(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and len(args) >= 3 and isinstance(args[0], str | bytes):
        mode, flags = args[1], args[2] if isinstance(args[2], int) else 0
        if (isinstance(mode, str) and any(c in mode for c in "wax+")) or flags & _WRITING:
            _Seen.written.add(os.fsdecode(args[0]))
    elif event in _SOCKET_EVENTS and len(args) >= 2:
        if event == "socket.getaddrinfo":
            _Seen.address = f"{args[0]}:{args[1]}"
        else:
            target = args[1]
            if isinstance(target, tuple) and len(target) >= 2:
                _Seen.address = f"{target[0]}:{target[1]}"
            else:
                _Seen.address = str(target)
    elif event == "socket.__new__":
        _Seen.address = _Seen.address or "a socket"


def run(request: dict[str, Any], fds: list[int], install: list[str]) -> None:
    """Run one step in this (just forked, single-threaded) process; never returns."""
    reply = socket.socket(fileno=fds[0])
    try:
        _confine(request, fds, install)
    except BaseException as exc:  # the sandbox could not be set up: the platform's failure
        _send(reply, {"ok": False, "setup": True, "type": type(exc).__name__, "message": str(exc)})
        os._exit(1)
    started = time.perf_counter()
    try:
        kind = request.get("kind", "step")
        outcome = _step(request, fds) if kind == "step" else _call(kind, request, fds)
    except BaseException as exc:
        outcome = _failure(exc)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    outcome["cpu_seconds"] = usage.ru_utime + usage.ru_stime
    outcome["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)
    outcome["seconds"] = round(time.perf_counter() - started, 4)
    _send(reply, outcome)
    os._exit(0)


def _confine(request: dict[str, Any], fds: list[int], install: list[str]) -> None:
    keep = set(fds) | {0, 1, 2}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # dies with the zygote
    if os.getppid() != request["zygote"]:
        os._exit(1)
    os.environ.clear()
    forbidden = request["forbidden"]
    allowed = paths.permitted(install, forbidden) + list(request["read"])
    allowed += [f"/proc/{os.getpid()}", *paths.READ_FILES]
    landlock.restrict(allowed, paths.READ_WRITE_FILES)
    seccomp.deny_sockets()
    sys.addaudithook(_record)
    sys.dont_write_bytecode = True


def _load(parts: list[dict[str, Any]]) -> ModuleType:
    """Import the step's module from the located files, its packages first (all of it runs
    inside the sandbox, import-time code included)."""
    module: ModuleType | None = None
    for part in parts:
        name = part["name"]
        existing = sys.modules.get(name)
        if existing is not None:
            module = existing
            continue
        locations = part["locations"]
        spec: importlib.machinery.ModuleSpec | None
        if part["origin"] is None:  # a namespace package
            spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
            spec.submodule_search_locations = list(locations or ())
        else:
            spec = importlib.util.spec_from_file_location(
                name, part["origin"], submodule_search_locations=locations
            )
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        created = importlib.util.module_from_spec(spec)
        sys.modules[name] = created
        try:
            spec.loader.exec_module(created)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        parent, _, child = name.rpartition(".")
        if parent and parent in sys.modules:
            setattr(sys.modules[parent], child, created)
        module = created
    assert module is not None
    return module


def _step(request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
    module = _load(request["module"])
    function = getattr(module, request["function"])
    takes_inputs = len(inspect.signature(function).parameters) >= 2
    ports: list[str] | None = request["inputs"]
    if takes_inputs and ports is None:
        return {"ok": False, "need_inputs": True}
    frame = _frame(fds[1])
    if takes_inputs:
        assert ports is not None
        given = {port: _frame(fd) for port, fd in zip(ports, fds[3:], strict=True)}
        result = function(frame, given)
    else:
        result = function(frame)
    if isinstance(result, pl.LazyFrame):
        result = result.collect()
    if not isinstance(result, pl.DataFrame):
        raise TypeError(
            f"{request['ref']} returned {type(result).__name__}; return a polars DataFrame"
        )
    ipc.write_table(fds[2], result.to_arrow())
    return {"ok": True}


def _call(kind: str, request: dict[str, Any], fds: list[int]) -> dict[str, Any]:
    """Import the module and do `kind` with it (`calls.py`); its JSON into the output memfd."""
    module = _load(request["module"])
    result = calls.KINDS[kind](module, request)
    with os.fdopen(os.dup(fds[2]), "w", encoding="utf-8") as out:
        json.dump(result, out)
    return {"ok": True}


def _frame(fd: int) -> pl.LazyFrame:
    frame = pl.from_arrow(ipc.read_table(fd))
    assert isinstance(frame, pl.DataFrame)
    return frame.lazy()


def _chain(exc: BaseException) -> list[BaseException]:
    found: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in found and len(found) < 10:
        found.append(current)
        current = current.__cause__ or current.__context__
    return found


def _denied(exc: BaseException) -> bool:
    """Whether the sandbox refused it: EACCES/EPERM (Python's PermissionError, a socket), or
    a native library's error carrying "Permission denied" / "os error 13" (deltalake, polars)."""
    for error in _chain(exc):
        if isinstance(error, PermissionError):
            return True
        text = str(error)
        if "Permission denied" in text or "os error 13" in text:
            return True
    return False


def _target(exc: BaseException) -> tuple[str, str | None]:
    """What was refused: (`read`, `write` or `connect to`, the path or address)."""
    written = any(
        frame.name.startswith(("write", "_write", "sink_", "create_write"))
        or frame.name in ("mkdir", "makedirs", "touch")
        for frame in traceback.extract_tb(exc.__traceback__)
    )
    for error in _chain(exc):
        filename = getattr(error, "filename", None)
        if filename:
            path = os.fsdecode(filename)
            return ("write" if written or path in _Seen.written else "read"), path
    for error in _chain(exc):
        for word in str(error).replace("'", " ").replace('"', " ").replace("`", " ").split():
            if word.startswith("/") and len(word) > 1:
                return ("write" if written else "read"), word.rstrip(":,.)")
    if _Seen.address is not None:
        return ("open" if _Seen.address == "a socket" else "connect to"), _Seen.address
    return ("write" if written else "read"), None


def _failure(exc: BaseException) -> dict[str, Any]:
    kind = type(exc)
    args = exc.args[:3] if all(isinstance(a, str | int | float) for a in exc.args) else ()
    failure: dict[str, Any] = {
        "ok": False,
        "type": kind.__name__,
        "module": kind.__module__,
        "message": str(exc)[:_TEXT],
        "args": [a[:_TEXT] if isinstance(a, str) else a for a in args],
        "trace": "".join(traceback.format_exception(exc))[-_TRACE:],
        "memory": isinstance(exc, MemoryError),
    }
    failure.update(_details(exc))
    if _denied(exc):
        action, target = _target(exc)
        failure.update(denied=True, action=action, target=target)
    return failure


def _details(exc: BaseException) -> dict[str, Any]:
    """What the parent needs to say where domain code failed: the traceback's frames (file,
    line), a syntax error's own place, a missing module's name, pydantic's errors."""
    details: dict[str, Any] = {
        "frames": [
            [frame.f_code.co_filename, number]
            for frame, number in traceback.walk_tb(exc.__traceback__)
            if not frame.f_code.co_filename.startswith("<")
        ][-50:]
    }
    if isinstance(exc, SyntaxError):
        details["syntax"] = {"filename": exc.filename, "lineno": exc.lineno, "msg": exc.msg}
    if isinstance(exc, ModuleNotFoundError):
        details["missing"] = exc.name
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ == "ValidationError" and callable(errors):
        details["errors"] = [
            {
                "type": str(e.get("type")),
                "loc": list(e.get("loc", ())),
                "msg": str(e.get("msg", ""))[:1000],
                "input": None,
                "ctx": {k: str(v)[:1000] for k, v in (e.get("ctx") or {}).items()},
            }
            for e in errors()[:100]
        ]
        details["title"] = str(getattr(exc, "title", ""))
    return details


def _send(reply: socket.socket, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError, ValueError):
        ipc.send(reply, message)
