"""The local engine: DuckDB for SQL, polars for standard and Python steps."""

from mesh_platform.engine.duckdb.engine import DuckDBEngine

__all__ = ["DuckDBEngine"]
