"""Answers of read-only commands remembered per state of the mesh's sources.

`mesh list` and `mesh validate` load and plan every spec (SQL parsed and traced, Python
modules run in the sandbox): seconds on the demo mesh. What they print is a function of the
mesh's files, the platform's code and the settings alone (`config/sources.py`'s digest, a walk
of file stats), so it is kept in MESH_HOME/cache/answers/ under that digest and printed again
until something changes. An answer that read something else (the catalog's subscriptions)
is not kept. `mesh status` keeps what it read of the specs and the Dagster instance the same
way (`kept_value`), under the digest of those (`marketplace/freshness.py`).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

KEPT_PER_COMMAND = 16


@dataclass(frozen=True)
class Answer:
    """What a command prints: stdout, stderr lines, exit status; `keep` False when it read
    something the sources' digest does not cover."""

    out: str
    err: tuple[str, ...] = ()
    code: int = 0
    keep: bool = True

    def show(self) -> None:
        """Print it (stderr first, as the command did) and exit with its status."""
        for line in self.err:
            click.echo(line, err=True)
        click.echo(self.out)
        if self.code:
            sys.exit(self.code)


def rendered(as_json: bool, data: Any, human: str) -> str:
    """What `emit` prints, as text."""
    return json.dumps(data, indent=2, default=str) if as_json else human


def remembered(
    command: str, options: dict[str, Any], root: Path, compute: Callable[[], Answer]
) -> Answer:
    """`command`'s answer with `options` for the mesh under `root`: the kept one when the
    sources did not change since it was computed, else `compute()` (kept when it may be)."""
    from mesh_platform.config.sources import sources_digest

    key = hashlib.sha256(
        f"{sources_digest(root)}\0{json.dumps(options, sort_keys=True)}".encode()
    ).hexdigest()
    path = _kept_file(command)
    kept = _read(path)
    if key in kept:
        return _answer(kept[key])
    answer = compute()
    if answer.keep:
        _store(path, kept, key, asdict(answer))
    return answer


def kept_value(name: str, key: str, compute: Callable[[], Any]) -> Any:
    """The JSON value kept as `name` under `key` (a digest of what it derives from), else
    `compute()`, kept."""
    path = _kept_file(name)
    kept = _read(path)
    if key in kept:
        return kept[key]
    value = compute()
    _store(path, kept, key, value)
    return value


def _kept_file(name: str) -> Path:
    from mesh_platform.config.environment import mesh_home

    return mesh_home() / "cache" / "answers" / f"{name}.json"


def _store(path: Path, kept: dict[str, Any], key: str, value: Any) -> None:
    """Keep `value` under `key`, with the most recent others (one per option set)."""
    kept = {k: v for k, v in kept.items() if k != key}
    kept[key] = value
    _write(path, dict(list(kept.items())[-KEPT_PER_COMMAND:]))


def _answer(data: dict[str, Any]) -> Answer:
    return Answer(data["out"], tuple(data["err"]), int(data["code"]), True)


def _read(path: Path) -> dict[str, Any]:
    """The kept answers; none when the file is missing or unreadable (it is only a cache)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, kept: dict[str, Any]) -> None:
    """Write atomically (a concurrent command reads the old file or the new one); a state
    folder that cannot be written only means nothing is kept."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w") as out:
            json.dump(kept, out)
        os.replace(temporary, path)
    except OSError:
        return
