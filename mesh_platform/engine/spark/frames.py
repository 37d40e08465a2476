"""Data into and out of Spark: Delta tables read natively, Arrow and polars through Arrow.

A Delta table given by its URI is read by Spark itself from the current version's Parquet
files (the files delta-rs lists; partition values from the Hive-style paths, typed by the
table's schema), so Spark scans, prunes and pushes filters down as it does for any Parquet
source. Anything in memory (an Arrow table or dataset, a polars frame: a step's result, a
quality rule's table) goes in through Arrow. Results come out as Arrow with the local engine's
types: Spark's session-zone timestamps (UTC) as plain timestamps, text as `string`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def delta_frame(session: SparkSession, uri: str) -> DataFrame:
    """The current version of the Delta table at `uri`, read by Spark from its Parquet files."""
    from deltalake import DeltaTable
    from pyspark.sql.pandas.types import from_arrow_schema

    table = DeltaTable(uri)
    files = table.file_uris()
    schema = from_arrow_schema(pa.schema(table.schema().to_arrow()))  # type: ignore[arg-type]
    if not files:
        return session.createDataFrame([], schema)
    reader = session.read.schema(schema)
    if table.metadata().partition_columns:
        # Partition values live in the paths (`col=value/`), not in the files.
        reader = reader.option("basePath", uri)
    return reader.parquet(*files).select(*schema.fieldNames())


def arrow_frame(session: SparkSession, data: Any) -> DataFrame:
    """An in-memory table (Arrow table or dataset, polars frame) as a Spark DataFrame."""
    if hasattr(data, "to_arrow"):  # polars
        data = data.to_arrow()
    if not isinstance(data, pa.Table):
        data = data.to_table()  # an Arrow dataset: read it here
    return session.createDataFrame(_plain_types(data))


def to_frame(session: SparkSession, data: Any) -> DataFrame:
    """An engine input as a Spark DataFrame: a Delta table's URI, a DataFrame, or Arrow data."""
    if isinstance(data, str | os.PathLike):
        return delta_frame(session, os.fspath(data))
    if type(data).__name__ == "DataFrame" and hasattr(data, "sparkSession"):
        return data  # type: ignore[no-any-return]
    return arrow_frame(session, data)


def to_arrow(frame: DataFrame) -> pa.Table:
    """A Spark result as Arrow, with the types the local engine gives."""
    return _local_types(frame.toArrow())


def _plain(dtype: pa.DataType) -> pa.DataType:
    # Spark's Arrow reader takes `string`/`list`, not polars' views and large variants.
    if pa.types.is_string_view(dtype) or pa.types.is_large_string(dtype):
        return pa.string()
    if pa.types.is_binary_view(dtype) or pa.types.is_large_binary(dtype):
        return pa.binary()
    if pa.types.is_large_list(dtype) or pa.types.is_list_view(dtype):
        return pa.list_(_plain(dtype.value_type))
    if pa.types.is_list(dtype):
        return pa.list_(_plain(dtype.value_type))
    return dtype


def _plain_types(table: pa.Table) -> pa.Table:
    schema = pa.schema([f.with_type(_plain(f.type)) for f in table.schema])
    return table if schema == table.schema else table.cast(schema)


def _local(dtype: pa.DataType) -> pa.DataType:
    if pa.types.is_timestamp(dtype) and dtype.tz is not None:
        # Spark's TIMESTAMP is a time in the session zone (UTC): the local engine's plain one.
        return pa.timestamp(dtype.unit)
    if pa.types.is_large_string(dtype):
        return pa.string()
    return dtype


def _local_types(table: pa.Table) -> pa.Table:
    schema = pa.schema([f.with_type(_local(f.type)) for f in table.schema])
    return table if schema == table.schema else table.cast(schema)
