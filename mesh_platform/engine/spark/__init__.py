"""The Spark engine (`engine: spark`): the same plans, functions and results as the local one.

Importing this package imports neither pyspark nor a JVM: the session starts on first use.
"""

from mesh_platform.engine.spark.engine import SparkEngine
from mesh_platform.engine.spark.session import spark_config, spark_resource, spark_session

__all__ = ["SparkEngine", "spark_config", "spark_resource", "spark_session"]
