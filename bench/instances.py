"""The Dagster instance a benchmark's peer runs on: the mesh's instance settings on Dagster's
own SQLite storage, as a team running plain Dagster assets or dagster-dbt has it (the mesh's
embedded instance keeps its connections open: mesh_platform/dagster/sqlite_storage.py)."""

from __future__ import annotations

from pathlib import Path

import yaml

from mesh_platform.config.environment import instance_template


def write_dagster_own_instance(home: Path) -> Path:
    """`home/dagster.yaml`: the embedded template without its `storage` (Dagster's default)."""
    settings = yaml.safe_load(instance_template("embedded").read_text())
    settings.pop("storage", None)
    home.mkdir(parents=True, exist_ok=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(settings))
    return home
