"""The Spark session: one per process, configured for Spark's documented (non-ANSI) answers.

The settings that make a product's SQL mean the same on every engine are fixed here:
`spark.sql.ansi.enabled=false` (an invalid cast or a division by zero is NULL, as the local
engine answers), the session time zone UTC, and Parquet timestamps in microseconds (polars and
delta-rs refuse Spark's default INT96/nanos). The master comes from the deployment's
configuration (`MESH_SPARK_MASTER`): `local[*]`, a standalone cluster `spark://...`, or Spark
Connect / Databricks Connect `sc://...`.

Under Dagster the session comes from dagster-pyspark's `PySparkResource` (`spark_resource`),
configured with the same settings; outside Dagster (CLI, preview, tests) `spark_session`
builds it. Both go through Spark's `getOrCreate`, so a process has one session either way.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mesh_platform.config import environment

if TYPE_CHECKING:
    from dagster_pyspark import PySparkResource
    from pyspark.sql import SparkSession

# SQL settings every session running products needs (also set on each run's own session).
SEMANTICS = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
}
_DEFAULTS = {
    "spark.ui.showConsoleProgress": "false",
    "spark.ui.enabled": "false",
    # Arrow between the JVM and Python (results, standard and Python steps, keyed UDFs).
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}
_LOCK = threading.Lock()
_BUILT: list[SparkSession] = []  # the session `spark_session` built, reused while it runs


def spark_config(
    master: str | None = None, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The session's configuration: the master (the deployment's unless given), the SQL
    semantics above, quiet defaults, then `extra` (e.g. `spark.driver.memory`)."""
    target = master or environment.engine_settings()[1]
    where = {"spark.remote": target} if target.startswith("sc://") else {"spark.master": target}
    return {**where, **_DEFAULTS, **SEMANTICS, **(extra or {})}


def _prepare_process() -> None:
    # pyspark hands settings to the JVM it starts and to its Python workers only through the
    # process environment: bind to the loopback (no network here, and no public interface
    # needed in local mode) and run UDF workers with this interpreter (its packages).
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)


def spark_session(
    master: str | None = None, extra: Mapping[str, str] | None = None
) -> SparkSession:
    """The process's Spark session (built on first use with `spark_config`; later calls
    without arguments reuse it while it runs)."""
    from pyspark.sql import SparkSession

    with _LOCK:
        if _BUILT and master is None and extra is None and not _stopped(_BUILT[0]):
            return _BUILT[0]
        _prepare_process()
        builder: Any = SparkSession.builder
        for key, value in spark_config(master, extra).items():
            builder = builder.config(key, value)
        session: SparkSession = builder.getOrCreate()
        _BUILT[:] = [session]
    return session


def _stopped(session: SparkSession) -> bool:
    context = getattr(session, "_sc", None)  # a Spark Connect session has no SparkContext
    return context is not None and getattr(context, "_jsc", None) is None


def spark_resource(
    master: str | None = None, extra: Mapping[str, str] | None = None
) -> PySparkResource:
    """dagster-pyspark's resource with the platform's Spark settings (a code location's
    `pyspark` resource; the Spark engine takes its session from it)."""
    from dagster_pyspark import PySparkResource

    _prepare_process()
    return PySparkResource(spark_config=spark_config(master, extra))


def is_remote(session: SparkSession) -> bool:
    """Whether `session` is a Spark Connect session (no JVM in this process)."""
    return type(session).__module__.startswith("pyspark.sql.connect")
