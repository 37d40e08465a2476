"""Failure classification: the domain's business logic, or the platform's.

A failure the domain can fix (its SQL, Python step, contract or rules) is `business_logic`
and goes to the domain with guidance; anything else (storage, engine, landing data,
configuration) is `platform`. The classes and metadata keys are the contract between the
pipeline template that records them and the failure routing that reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mesh_platform.access.enforcement import AccessWait
from mesh_platform.errors import (
    BusinessLogicError,
    EngineFailure,
    MissingUpstream,
    PlatformError,
    SpecError,
    StepFailed,
)
from mesh_platform.spec.loading import ProductSource
from mesh_platform.spec.model import ProductSpec

FailureClass = Literal["business_logic", "platform"]
BUSINESS_LOGIC: FailureClass = "business_logic"
PLATFORM: FailureClass = "platform"
FAILURE_CLASS = "mesh/failure_class"
FAILURE_STEP = "mesh/failed_step"
FAILURE_GUIDANCE = "mesh/guidance"
FAILURE_CAUSE = "mesh/cause"
FAILURE_PRODUCT = "mesh/product"


# The failed step recorded for a missing input table: `input:<port>`.
MISSING_INPUT = "input:"
# The step recorded for a run waiting for access: `access:<domain.product>,...`. An access
# wait, not a failure: no alert, no contract check result, no effect on quality scores.
ACCESS_WAIT = "access:"


def waits_for_access(step: str | None) -> bool:
    """Whether a recorded failed step is an access wait (inputs without an approved
    subscription), not a failure of the product."""
    return bool(step) and str(step).startswith(ACCESS_WAIT)


def tells_platform(failure_class: FailureClass, step: str) -> bool:
    """Whether a failure pages the platform on-call: not for an input that was never built
    (the consuming domain runs it first; nothing of the platform failed), nor for an access
    wait."""
    return not (
        failure_class == BUSINESS_LOGIC
        and (step.startswith(MISSING_INPUT) or waits_for_access(step))
    )


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
    if isinstance(error, MissingUpstream):
        return Classified(
            BUSINESS_LOGIC,
            f"{MISSING_INPUT}{error.port}",
            cause,
            f"{spec.qualified_name} ran before its input {error.upstream} was ever built. Build "
            f"it with `mesh materialize {error.upstream}`, or run `mesh materialize "
            f"{spec.qualified_name}`, which builds the missing inputs first.",
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
    if isinstance(error, AccessWait):
        return Classified(
            BUSINESS_LOGIC, f"{ACCESS_WAIT}{','.join(error.inputs)}", str(error), error.refused_fix
        )
    refused_fix = getattr(error, "refused_fix", None)
    if isinstance(error, BusinessLogicError) and refused_fix:  # refused before reading
        return Classified(
            BUSINESS_LOGIC, None, cause, f"nothing was read or written; {refused_fix}"
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


@dataclass(frozen=True)
class FailureReport:
    """One failed product of a run, as the CLI reports it: what, where, why, how to fix."""

    product: str
    failure_class: FailureClass
    step: str
    cause: str
    guidance: str
    run_id: str
    file: Path | None = None
    line: int | None = None

    def owner(self) -> str:
        """Who fixes it: the product's domain for business logic, else the platform team."""
        domain = self.product.partition(".")[0]
        if waits_for_access(self.step):
            return "whoever decides each subscription (above)"
        return (
            f"the {domain} domain" if self.failure_class == BUSINESS_LOGIC else "the platform team"
        )

    def render(self, run_url: str | None = None) -> str:
        """The failure as one block: a headline, then step, spec line, fix and run."""
        if waits_for_access(self.step):
            # Not a failure of its SQL, contract or quality: the cause holds one block per input.
            return f"{self.cause}\n  fix:   {self.guidance}\n  run:   {run_url or self.run_id}"
        lines = [f"{self.product} failed ({self.failure_class}): {self.cause}"]
        if self.step:
            lines.append(f"  step:  {self.step}")
        if self.file is not None:
            lines.append(f"  spec:  {_shown(self.file)}" + (f":{self.line}" if self.line else ""))
        lines.append(f"  owner: {self.owner()}")
        if self.guidance:
            lines.append(f"  fix:   {self.guidance}")
        lines.append(f"  run:   {run_url or self.run_id}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, object]:
        """The report as JSON-ready data."""
        return {
            "product": self.product,
            "class": self.failure_class,
            "step": self.step,
            "cause": self.cause,
            "fix": self.guidance,
            "file": str(self.file) if self.file else None,
            "line": self.line,
            "run_id": self.run_id,
        }


def _shown(path: Path) -> Path:
    """`path` relative to the working directory when it is inside it (as editors open it)."""
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def spec_location(source: ProductSource, step: str) -> tuple[Path, int | None]:
    """The spec file and line a failed step points at: the rule of `quality:<check>`, the
    input of `input:<port>`, the named step, the volume guard or the columns (the contract)."""
    from mesh_platform.compile.plan import step_name

    spec = source.spec
    kind, _, name = step.partition(":")
    line: int | None = None
    if kind == "quality" and name == "volume":
        line = source.line_of("volume")
    elif kind == "quality":
        found = [i for i, r in enumerate(spec.quality) if r.check_name == name]
        line = source.line_of("quality", found[0]) if found else source.line_of("quality")
    elif kind == "input":
        line = source.line_of("inputs", name)
    elif step:
        found = [i for i, s in enumerate(spec.steps) if step_name(i, s.name) == step]
        if found:
            line = source.sql_start_line(found[0]) or source.line_of("steps", found[0])
    else:
        line = source.line_of("columns")
    return source.path, line
