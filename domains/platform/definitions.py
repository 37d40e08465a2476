"""The platform team's code location: ingestion (landing -> bronze -> silver), and the
operations sensors watching every code location (failure routing, quality history)."""

from mesh_platform import load_domain
from mesh_platform.ops.sensors import platform_sensors

defs = load_domain(__file__, extra=platform_sensors())
