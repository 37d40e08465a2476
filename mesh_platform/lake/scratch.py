"""The DuckDB database of the platform's own work on a run's rows (not a product's steps,
which run in the engine): what an incremental commit compares and stages
(`lake/increments.py`) and the quality rules over a spilled result (`quality/spilled.py`)."""

from __future__ import annotations

from typing import Any


def local_database() -> Any:
    """A DuckDB database within the local engine's memory limit (`MESH_DUCKDB_MEMORY_LIMIT`),
    spilling beyond it."""
    import duckdb

    from mesh_platform.config import environment

    connection = duckdb.connect()
    connection.execute(f"SET memory_limit = '{environment.local_engine_memory()}'")
    connection.execute("SET preserve_insertion_order = false")
    connection.execute(f"SET temp_directory = '{environment.duckdb_spill_folder()}'")
    return connection
