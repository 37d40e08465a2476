"""Shared pytest fixtures of the test suite, how `make test` spreads it over workers, and the
session's process guard.

Workers (`pytest -n auto --dist loadfile`, as `make test` runs it): the tests of one file run
on one worker, in order (module fixtures such as a served `mesh up` start once), and so do all
the files that use the session's `materialized_mesh`, so the demo mesh is generated and
materialized once per run. The files that take longest start first. (`--dist loadgroup` would
say this with `xdist_group` marks, but pytest-xdist 3.8 ignores them on pytest 9.2:
pytest-dev/pytest-xdist#1386.)

The process guard: every process a test starts (directly or not) inherits `TOKEN` in its
environment. When the session ends, after every fixture has stopped what it started, a
process still alive that carries this session's token, descends from a pytest process of the
session, or works in its temporary folder (its command line or working directory) fails the
session: it is named, then killed. Processes alive before the session began, other sessions'
(their token differs) and a developer's own `make up` are left alone.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = ["tests.fixtures_mesh"]

MESH_UNIT = "materialized_mesh"  # the work unit of every file using the materialized mesh
# Work units that start servers, JVMs or databases, longest first: with workers, they start
# first, so that no worker is left with a long one at the end (other files keep their order).
LONGEST_FIRST = (
    MESH_UNIT,  # test_ui, test_web_browser, test_access_matrix, test_spark_parity, ...
    "tests/test_production_profile.py",
    "tests/test_up.py",
    "tests/test_shutdown.py",
    "tests/test_locations.py",
    "tests/test_faults.py",
    "tests/test_spark_engine.py",
    "tests/test_rollback.py",
    "tests/test_notify_faults.py",
    "tests/test_spark_idioms.py",
    "tests/test_conventions.py",
    "tests/test_materialize_cli.py",
    "tests/test_product_tests.py",
    "tests/test_spec_files.py",
)


@functools.cache
def _unit(path: str, root: Path) -> str:
    """The work unit of the tests in `path` (relative to `root`): the file, or MESH_UNIT."""
    if path.endswith(".py"):
        with contextlib.suppress(OSError):
            if MESH_UNIT in (root / path).read_text():
                return MESH_UNIT
    return path


def _unit_of(nodeid: str, config: pytest.Config) -> str:
    return _unit(nodeid.split("::", 1)[0], config.rootpath)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest work units first (a stable sort: the tests of a file keep their order)."""
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_unit_of(item.nodeid, config), len(rank)))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadfile`, with the files that use the materialized mesh as one unit."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class Scheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit_of(nodeid, config)

    return Scheduling(config, log)


# The process guard -------------------------------------------------------------------------

TOKEN = "PYTEST_SESSION_TOKEN"
GRACE_SECONDS = 5.0  # for a process a fixture has just stopped to finish exiting
_STATE = pytest.StashKey["_Guard"]()


@dataclass(frozen=True)
class _Process:
    pid: int
    ppid: int
    started: int  # clock ticks after boot: with the pid, the identity of a process
    zombie: bool


def _processes() -> dict[int, _Process]:
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = stat.read_text()
            # pid (comm) state ppid ... starttime (field 22); comm may hold spaces.
            fields = text[text.rfind(")") + 2 :].split()
            pid = int(stat.parent.name)
            found[pid] = _Process(pid, int(fields[1]), int(fields[19]), fields[0] in "ZX")
    return found


def _read(pid: int, name: str) -> str:
    try:
        raw = (Path("/proc") / str(pid) / name).read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def _token_of(pid: int) -> str:
    try:
        environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    except OSError:
        return ""
    prefix = f"{TOKEN}=".encode()
    return next((e[len(prefix) :].decode() for e in environ if e.startswith(prefix)), "")


def _cwd(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return ""


def _in_folder(text: str, folder: str) -> bool:
    """Whether `text` names `folder` or a path inside it (not `folder` + "5", another
    session's numbered temp folder)."""
    return re.search(re.escape(folder) + r"(/|\s|$)", text) is not None


def _descendants(pid: int, table: dict[int, _Process]) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in table.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


@dataclass
class _Guard:
    """What this pytest process knows to find the processes its tests started."""

    token: str
    controller: bool  # the process that runs the xdist workers (it runs no test itself)
    before: set[tuple[int, int]]  # (pid, start) of this process's descendants at the start
    reported: list[str]  # what the workers found

    def left_running(self, basetemp: str) -> dict[int, tuple[_Process, str]]:
        """Processes of this session still alive: pid -> (process, why it is this session's)."""
        table = _processes()
        me = os.getpid()
        mine = {} if self.controller else dict.fromkeys(_descendants(me, table), "a descendant")
        for pid in table:
            token = _token_of(pid)
            # The controller's own token is in its workers' environment (gone by now).
            if token.startswith(f"{self.token}-") or (token == self.token and not self.controller):
                mine.setdefault(pid, "started under this session's token")
            elif basetemp and _in_folder(f"{_cwd(pid)} {_read(pid, 'cmdline')}", basetemp):
                mine.setdefault(pid, f"working in {basetemp}")
        ancestors = set()
        pid = me
        while pid in table and pid not in ancestors:
            ancestors.add(pid)
            pid = table[pid].ppid
        return {
            pid: (table[pid], why)
            for pid, why in mine.items()
            if pid not in ancestors
            and not table[pid].zombie
            and (pid, table[pid].started) not in self.before
        }


def _basetemp(config: pytest.Config) -> str:
    factory = getattr(config, "_tmp_path_factory", None)
    given = getattr(factory, "_basetemp", None) or config.option.basetemp
    return str(Path(given).resolve()) if given else ""


def _stop_and_name(guard: _Guard, config: pytest.Config) -> list[str]:
    """Wait a moment for what is still exiting, then name and kill what is left."""
    basetemp = _basetemp(config)
    deadline = time.monotonic() + GRACE_SECONDS
    left = guard.left_running(basetemp)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = guard.left_running(basetemp)
    named = []
    for pid, (_, why) in sorted(left.items()):
        command = _read(pid, "cmdline").strip() or "?"
        if len(command) > 300:
            command = command[:300] + "..."
        named.append(f"pid {pid} ({why}; cwd {_cwd(pid) or '?'}): {command}")
    for pid, (process, _) in left.items():
        if _processes().get(pid, process).started == process.started:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    return named


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)  # an xdist worker of this session
    inherited = os.environ.get(TOKEN)
    if workerinput is not None and inherited:
        token = f"{inherited}-{workerinput['workerid']}"
    else:  # a session of its own (also a pytest that a test runs)
        token = f"{os.getpid()}.{uuid.uuid4().hex[:12]}"
    os.environ[TOKEN] = token
    controller = bool(getattr(config.option, "numprocesses", None)) and workerinput is None
    config.stash[_STATE] = _Guard(token, controller, set(), [])


def pytest_sessionstart(session: pytest.Session) -> None:
    table = _processes()
    session.config.stash[_STATE].before = {
        (pid, table[pid].started) for pid in _descendants(os.getpid(), table)
    }


@pytest.hookimpl(optionalhook=True)  # an xdist hook: the controller hears from a worker
def pytest_testnodedown(node: Any, error: object) -> None:
    found = getattr(node, "workeroutput", {}).get("left_running", [])
    guard = node.config.stash.get(_STATE, None)
    if found and guard is not None:
        guard.reported.extend(f"[{node.gateway.id}] {line}" for line in found)


@pytest.hookimpl(trylast=True)  # after xdist has stopped its workers
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    guard = config.stash.get(_STATE, None)
    if guard is None:
        return
    named = guard.reported + _stop_and_name(guard, config)
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # a worker: its controller reports
        workeroutput["left_running"] = named
        return
    if not named:
        return
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    lines = [
        "tests left these processes running after the session (now killed); a test or fixture",
        "must stop what it starts:",
        *named,
    ]
    if reporter is not None:
        reporter.write("\n")
        reporter.write_sep("=", "processes left running", red=True, bold=True)
        for line in lines:
            reporter.write_line(line)
    else:
        print("\n".join(lines), file=sys.stderr)
    if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


# Spark ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _spark_stops_with_the_session() -> Iterator[None]:
    """One Spark session (and its JVM, a child of this process) serves every Spark test of the
    session (`spark_session` is process-wide); it stops at the end, with its JVM."""
    yield
    if "pyspark" not in sys.modules:
        return
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is not None:
        context.stop()
    gateway = SparkContext._gateway
    if gateway is None:
        return
    process = getattr(gateway, "proc", None)
    gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    if process is not None:
        if process.stdin is not None:
            process.stdin.close()  # the gateway server exits at the end of its input
        try:
            process.wait(timeout=30)
        except Exception:
            process.kill()
            process.wait()
