"""Standard steps: reusable, parameterized transformations the platform team publishes.

A standard step is registered once (by `standards/`, through the registry's entry point) and
used from any spec with `- use: <name>` and `with: {...}`. It declares how it changes the
schema, so specs that use it are validated at load like SQL steps are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from mesh_platform.column_types import Schema

if TYPE_CHECKING:
    import polars as pl

StepFunction = Callable[["pl.LazyFrame", Any], "pl.LazyFrame"]
SchemaFunction = Callable[[Schema, Any], Schema]
# Given the previous step's schema and the params: the select list of an equivalent Spark SQL
# query over the previous step. Steps that have one run as SQL (vectorized in the engine) and
# keep column lineage, formulas and tag propagation intact.
SelectFunction = Callable[[Schema, Any], list[str]]


@dataclass(frozen=True)
class StandardStepDefinition:
    """A published standard step: name, version, parameters and its implementation."""

    name: str
    version: str
    description: str
    params: type[BaseModel]
    apply: StepFunction | None = None
    output_schema: SchemaFunction = field(default=lambda schema, _params: dict(schema))
    example: str = ""
    sql: SelectFunction | None = None

    def __post_init__(self) -> None:
        # One implementation only: a step is either SQL over the previous step or polars code.
        if (self.apply is None) == (self.sql is None):
            raise ValueError(f"standard step {self.name!r} needs exactly one of `apply` or `sql`")

    def parse_params(self, raw: Mapping[str, Any]) -> BaseModel:
        """Validate the `with:` parameters of a use of this step."""
        return self.params.model_validate(dict(raw))


class StepRegistry:
    """The standard steps known to the mesh, by name."""

    def __init__(self) -> None:
        self._steps: dict[str, StandardStepDefinition] = {}

    def register(self, step: StandardStepDefinition) -> StandardStepDefinition:
        """Add a step; a second step with the same name is a platform bug."""
        if step.name in self._steps:
            raise ValueError(f"standard step {step.name!r} is registered twice")
        self._steps[step.name] = step
        return step

    def get(self, name: str) -> StandardStepDefinition | None:
        """The step called `name`, if any."""
        return self._steps.get(name)

    def all(self) -> list[StandardStepDefinition]:
        """Every registered step, by name."""
        return [self._steps[k] for k in sorted(self._steps)]


def check_params(step: StandardStepDefinition, raw: Mapping[str, Any]) -> BaseModel:
    """Validated params, or a ValueError whose text names each bad parameter."""
    try:
        return step.parse_params(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"`{'.'.join(str(p) for p in e['loc'])}`: {e['msg']}" for e in exc.errors()
        )
        raise ValueError(f"bad parameters for standard step {step.name!r}: {problems}") from None
