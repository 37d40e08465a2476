"""Engines by name. A spec's `engine:` (or the deployment default, `MESH_ENGINE`) picks one.

Engines are imported only when one is asked for, so loading specs and the CLI's quick
commands never import an engine (nor pyspark). Another package adds one with
`register_engine`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from mesh_platform.config import environment
from mesh_platform.engine.base import Engine
from mesh_platform.errors import ConfigurationError, PlatformError


@dataclass(frozen=True)
class EngineEntry:
    """A registered engine: where its class is, and the kinds its assets show."""

    target: str  # "package.module:Class", imported on first use
    kinds: tuple[str, ...]
    # Dagster resources the engine takes from the run (resource key, "module:factory"); the
    # engine is built with each as the keyword argument of the same name.
    resources: tuple[tuple[str, str], ...] = ()


_ENGINES: dict[str, EngineEntry] = {
    "local": EngineEntry("mesh_platform.engine.duckdb:DuckDBEngine", ("duckdb",)),
    "spark": EngineEntry(
        "mesh_platform.engine.spark:SparkEngine",
        ("spark",),
        (("pyspark", "mesh_platform.engine.spark:spark_resource"),),
    ),
}
DEFAULT_ENGINE = "local"


def register_engine(name: str, target: str, kinds: tuple[str, ...] = ()) -> None:
    """Make the engine class at `target` ("package.module:Class") available as `name`."""
    entry = EngineEntry(target, kinds or (name,))
    if name in _ENGINES and _ENGINES[name] != entry:
        raise ValueError(f"engine {name!r} is already registered as {_ENGINES[name].target}")
    _ENGINES[name] = entry


def engine_kinds(name: str | None = None) -> tuple[str, ...]:
    """The kinds shown on the assets of products run by engine `name`, without importing it."""
    return _entry(name).kinds


def available_engines() -> tuple[str, ...]:
    """The names a spec's `engine:` may use."""
    return tuple(sorted(_ENGINES))


def default_engine() -> str:
    """The engine of products that name none: the deployment's `MESH_ENGINE`, else `local`."""
    configured = environment.engine_settings()[0]
    if configured is not None and configured not in _ENGINES:
        raise ConfigurationError(
            f"MESH_ENGINE={configured!r} is not an engine. Fix: set MESH_ENGINE to one of "
            f"{', '.join(available_engines())} (unset means {DEFAULT_ENGINE})"
        )
    return configured or DEFAULT_ENGINE


def engine_resource_keys(name: str | None = None) -> tuple[str, ...]:
    """The Dagster resource keys engine `name` takes from a run (e.g. `pyspark`), without
    importing it: an asset requires them and passes each to `get_engine` by the same name."""
    return tuple(key for key, _ in _entry(name).resources)


def engine_resources(name: str | None = None) -> dict[str, Any]:
    """The Dagster resources engine `name` takes, built for this deployment (a code location
    adds them beside `lakehouse` and `keys` when one of its products runs on that engine)."""
    built = {}
    for key, target in _entry(name).resources:
        module, _, attribute = target.partition(":")
        built[key] = getattr(importlib.import_module(module), attribute)()
    return built


def engine_class(name: str | None = None) -> type[Engine]:
    """The class of engine `name` (the default when None)."""
    module, _, attribute = _entry(name).target.partition(":")
    engine: type[Engine] = getattr(importlib.import_module(module), attribute)
    return engine


def get_engine(name: str | None = None, **options: Any) -> Engine:
    """A new engine `name` (the default when None), built with `options` (keys, threads)."""
    return engine_class(name)(**options)


def _entry(name: str | None) -> EngineEntry:
    entry = _ENGINES.get(name or default_engine())
    if entry is None:
        raise PlatformError(f"no engine {name!r}; available: {', '.join(available_engines())}")
    return entry
