"""Values kept between commands in MESH_HOME/cache/, each under the digest of what it derives
from (`sources.py`): a command finds the value computed by an earlier one while nothing it
derives from changed, and computes it again (and keeps it) when something did.

Only a cache: a missing, unreadable or unwritable file means the value is computed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mesh_platform.config.environment import mesh_home

KEPT_PER_NAME = 16  # one per set of options (`mesh list --domain D`), the most recent


def kept_value(name: str, key: str, compute: Callable[[], Any]) -> Any:
    """The JSON value kept as `name` under `key`, else `compute()`, kept."""
    found = lookup(name, key)
    if found is not None:
        return found
    value = compute()
    keep(name, key, value)
    return value


def lookup(name: str, key: str) -> Any:
    """The value kept as `name` under `key`, or None."""
    return _read(_file(name)).get(key)


def keep(name: str, key: str, value: Any) -> None:
    """Keep `value` as `name` under `key`, with the most recent others."""
    path = _file(name)
    kept = {k: v for k, v in _read(path).items() if k != key}
    kept[key] = value
    _write(path, dict(list(kept.items())[-KEPT_PER_NAME:]))


def _file(name: str) -> Path:
    return mesh_home() / "cache" / "answers" / f"{name}.json"


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write(path: Path, kept: dict[str, Any]) -> None:
    """Atomically: a concurrent command reads the old file or the new one."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w") as out:
            json.dump(kept, out)
        os.replace(temporary, path)
    except OSError:
        return
