"""How a `mesh` process ends (mesh_platform/cli/ending.py): with the command's status, its
output flushed, its threads finished and its exit handlers run, without the interpreter's
teardown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MESH = str(Path(sys.executable).with_name("mesh"))


def test_the_console_script_passes_the_status_and_the_whole_output() -> None:
    listed = subprocess.run(
        [MESH, "list", "--json"], capture_output=True, text=True, timeout=300, check=False
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert json.loads(listed.stdout), "the whole JSON document reached the pipe"
    unknown = subprocess.run(
        [MESH, "no-such-command"], capture_output=True, text=True, timeout=300, check=False
    )
    assert unknown.returncode == 2
    assert "No such command 'no-such-command'" in unknown.stderr


def test_threads_finish_and_exit_handlers_run_before_the_process_ends() -> None:
    probe = (
        "import atexit, concurrent.futures, threading, time\n"
        "from mesh_platform.cli.ending import script\n"
        "atexit.register(lambda: print('handler ran', flush=True))\n"
        "def late():\n"
        "    time.sleep(0.5)\n"
        "    print('thread done', flush=True)\n"
        "threading.Thread(target=late).start()\n"
        "pool = concurrent.futures.ThreadPoolExecutor(1)\n"
        "pool.submit(lambda: None).result()  # an idle worker left behind must not hang the end\n"
        "script(['--version'])\n"
        "print('never reached')\n"
    )
    ended = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert ended.returncode == 0, ended.stderr[-2000:]
    lines = ended.stdout.splitlines()
    assert lines[0].startswith("mesh ")
    assert lines[1:] == ["thread done", "handler ran"]


def test_a_message_given_to_exit_is_printed_with_status_one() -> None:
    probe = "from mesh_platform.cli.ending import end\nend('stopped: the reason')\n"
    ended = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert ended.returncode == 1
    assert ended.stderr.strip() == "stopped: the reason"
