"""Engines that run a product's steps, behind one protocol, chosen by name.

Importing this package imports no engine: `get_engine(name)` imports the one asked for.
"""

from mesh_platform.engine.base import Engine, EngineRun, InputData, StepPreview, Usage
from mesh_platform.engine.registry import (
    available_engines,
    default_engine,
    engine_class,
    engine_kinds,
    get_engine,
    register_engine,
)

__all__ = [
    "Engine",
    "EngineRun",
    "InputData",
    "StepPreview",
    "Usage",
    "available_engines",
    "default_engine",
    "engine_class",
    "engine_kinds",
    "get_engine",
    "register_engine",
]
