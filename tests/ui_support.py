"""Talking to a served Dagster UI in tests: a free port, GraphQL, `mesh up` in a subprocess."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


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
