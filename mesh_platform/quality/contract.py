"""The `contract` check: the platform's own verdicts on every run, as one asset check.

Its parts, each with its verdict in the check's `mesh/verdicts` table and its facts in the
check's metadata:

- `columns`: the declared columns and types (`error`: a breach fails the run, nothing written);
- `schema_change` (published products): the schema against the last materialization's (`warn`);
- `volume` (unless `volume: off` or partitioned): the row count against the previous version's
  (`warn`, or `error` for a drop of a published product; `quality/volume.py`).

One check, not three: each asset check costs a product three more events stored in the Dagster
instance on every run (planned, output, evaluation), a third of a trivial product's events.
The check is blocking; it fails as `error` when a failed part is an `error` (downstream does
not run), else as `warn` (downstream runs, the owning domain is told).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from mesh_platform.compile.rules import CONTRACT_CHECK, volume_guarded
from mesh_platform.spec.fields import Severity
from mesh_platform.spec.model import ProductSpec

VERDICTS = "mesh/verdicts"
FAILED_PARTS = "mesh/failed_parts"
COLUMNS_PART = "columns"


@dataclass(frozen=True)
class Part:
    """One verdict of the contract check."""

    name: str
    passed: bool
    severity: Severity
    description: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


def contract_result(
    key: dg.AssetKey, parts: Sequence[Part], metadata: Mapping[str, Any] | None = None
) -> dg.AssetCheckResult:
    """The check's result: passed when every part passed; its description says what failed
    (or, when nothing did, what each part found)."""
    failed = [p for p in parts if not p.passed]
    blocking = any(p.severity == "error" for p in failed)
    found: dict[str, Any] = {}
    for part in parts:
        found.update(part.metadata)
    found.update(metadata or {})
    found[VERDICTS] = dg.MetadataValue.md(verdicts_markdown(parts))
    found[FAILED_PARTS] = ", ".join(p.name for p in failed)
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=CONTRACT_CHECK,
        passed=not failed,
        severity=(
            dg.AssetCheckSeverity.ERROR if blocking or not failed else dg.AssetCheckSeverity.WARN
        ),
        description="; ".join(p.description for p in (failed or parts))[:1000],
        metadata=found,
    )


def verdicts_markdown(parts: Iterable[Part]) -> str:
    """Each part's verdict as a table the UI shows on the check."""
    lines = ["| part | verdict | detail |", "| --- | --- | --- |"]
    for part in parts:
        verdict = "passed" if part.passed else f"failed ({part.severity})"
        detail = part.description.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {part.name} | {verdict} | {detail} |")
    return "\n".join(lines)


def contract_spec(spec: ProductSpec) -> dg.AssetCheckSpec:
    """The check as declared on the asset: its parts, in its description and metadata."""
    texts = ["declared columns and types (error)"]
    metadata: dict[str, Any] = {}
    parts = [COLUMNS_PART]
    if spec.visibility == "published":
        texts.append("the published schema against the last run's (warn)")
        parts.append("schema_change")
    if volume_guarded(spec):
        drop, growth = _severities(spec)
        texts.append(volume_text(spec))
        parts.append("volume")
        metadata.update(
            {
                "mesh/max_drop": spec.volume.max_drop,
                "mesh/max_growth": spec.volume.max_growth,
                "mesh/volume_severity": (
                    drop if drop == growth else f"drop: {drop}, growth: {growth}"
                ),
            }
        )
    metadata["mesh/parts"] = ", ".join(parts)
    return dg.AssetCheckSpec(
        CONTRACT_CHECK,
        asset=dg.AssetKey(list(spec.key)),
        blocking=True,
        description="The product's contract, checked on every run: " + "; ".join(texts) + ".",
        metadata=metadata,
    )


def volume_text(spec: ProductSpec) -> str:
    """The volume guard's part of the check's description."""
    drop, growth = _severities(spec)
    return (
        f"the row count against the previous version's: fails on a drop of "
        f"{_percent(spec.volume.max_drop)}% or more ({drop}) or a growth of "
        f"{_percent(spec.volume.max_growth)}% or more ({growth})"
    )


def _severities(spec: ProductSpec) -> tuple[Severity, Severity]:
    """The volume guard's severity for a drop and for a growth."""
    return (
        spec.volume.severity_for(True, spec.visibility),
        spec.volume.severity_for(False, spec.visibility),
    )


def _percent(share: float) -> str:
    return f"{share * 100:g}"
