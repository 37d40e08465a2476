"""Answers of read-only commands remembered per state of the mesh's sources.

`mesh list` and `mesh validate` load and plan every spec (SQL parsed and traced, Python
modules run in the sandbox): seconds on the demo mesh. What they print is a function of the
mesh's files, the platform's code and the settings alone (`config/sources.py`'s digest, a walk
of file stats), so it is kept in MESH_HOME/cache/answers/ under that digest
(`config/kept.py`) and printed again until something changes. An answer that read something
else (the catalog's subscriptions) is not kept. `mesh status` keeps what it read of the specs
and the Dagster instance the same way, under the digest of those (`marketplace/freshness.py`).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import click

from mesh_platform.config.kept import keep, lookup


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
    found = lookup(command, key)
    if found is not None:
        return Answer(found["out"], tuple(found["err"]), int(found["code"]), True)
    answer = compute()
    if answer.keep:
        keep(command, key, asdict(answer))
    return answer
