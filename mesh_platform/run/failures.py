"""Failure classification: the domain's business logic, or the platform's.

A failure the domain can fix (its SQL, Python step, contract or rules) is `business_logic`
and goes to the domain with guidance; anything else (storage, engine, landing data,
configuration) is `platform`. The classes and metadata keys are the contract between the
pipeline template that records them and the failure routing that reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from mesh_platform.errors import (
    BusinessLogicError,
    EngineFailure,
    PlatformError,
    SpecError,
    StepFailed,
)
from mesh_platform.spec.model import ProductSpec

FailureClass = Literal["business_logic", "platform"]
BUSINESS_LOGIC: FailureClass = "business_logic"
PLATFORM: FailureClass = "platform"
FAILURE_CLASS = "mesh/failure_class"
FAILURE_STEP = "mesh/failed_step"
FAILURE_GUIDANCE = "mesh/guidance"
FAILURE_CAUSE = "mesh/cause"
FAILURE_PRODUCT = "mesh/product"


@dataclass(frozen=True)
class Classified:
    """A failure, classified, with guidance for whoever has to fix it."""

    failure_class: FailureClass
    step: str | None
    cause: str
    guidance: str


def classify(error: BaseException, spec: ProductSpec) -> Classified:
    """Business logic (the domain fixes it) or platform (the platform team fixes it)."""
    cause = f"{type(error).__name__}: {error}"
    if isinstance(error, EngineFailure):
        return Classified(
            PLATFORM,
            error.step,
            cause,
            "the engine or storage failed while running the step; the platform team is on it",
        )
    if isinstance(error, StepFailed):
        what = "SQL" if error.kind == "sql" else f"{error.kind} step"
        return Classified(
            BUSINESS_LOGIC,
            error.step,
            cause,
            f"the {what} {error.step!r} of {spec.qualified_name} failed. Reproduce it with "
            f"`mesh preview {spec.qualified_name}`, fix the step in the product spec, and check "
            f"with `mesh test {spec.qualified_name}` before re-running.",
        )
    if isinstance(error, (BusinessLogicError, SpecError)):
        return Classified(
            BUSINESS_LOGIC,
            None,
            cause,
            f"{spec.qualified_name} produced data that breaks its own contract or rules. "
            "Change the last step or the `columns:` of the spec, then re-run.",
        )
    if isinstance(error, (PlatformError, OSError, MemoryError)):
        return Classified(
            PLATFORM,
            None,
            cause,
            "storage, landing data or configuration failed; the platform team "
            "is on it. Nothing was written; the previous version is intact.",
        )
    return Classified(
        PLATFORM, None, cause, "an unexpected platform error; the platform team is on it."
    )
