"""How a `mesh` process ends: its work done and its files closed, without the interpreter's
teardown.

A command that ran products has Dagster, DuckDB, pyarrow and SQLAlchemy loaded; the
interpreter's last garbage collection of that import graph, and the freeing of every module,
took about 1 s at the end of `mesh materialize` (more on a busy machine), after the command had
printed its result. The console script (`script`) ends the way the interpreter would, minus that
teardown: it waits for the threads the interpreter would wait for, runs the exit handlers
(logging's flush, temporary folders, Dagster's), flushes the standard streams and leaves with
the command's status. Everything a command writes is committed before it returns (the lake's
Delta commits, the catalog's transactions, the instance's events), so nothing waits on a
destructor. `main` called in-process (tests, `CliRunner`) returns or raises as before.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import NoReturn


def script(args: Sequence[str] | None = None) -> NoReturn:
    """The `mesh` console script (`pyproject.toml`): the command group, then `end` with its
    status."""
    from mesh_platform.cli.app import main

    try:
        main(args)
    except SystemExit as exc:
        end(exc.code)
    end(0)


def end(code: object) -> NoReturn:
    """Leave the process with `code` (as `sys.exit` takes it) once what the interpreter would
    finish is finished."""
    status = _status(code)
    # What the interpreter does first when it ends: thread pools told to stop, then every
    # non-daemon thread waited for.
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # closed, or a pipe whose reader left
            stream.flush()
    os._exit(status)


def _status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # what sys.exit("message") prints
    return 1
