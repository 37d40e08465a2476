"""The volume guard: a run's row count against the previous version's.

A drop or a jump beyond the spec's shares (`volume:`; defaults in docs/quality.md) fails the
`volume` part of the `contract` check (`quality/contract.py`): `warn` by default, `error`
(blocking, nothing written) for a drop of a published product, so a shrunken export cannot
silently replace published data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mesh_platform.compile.rules import VOLUME_CHECK
from mesh_platform.quality.contract import Part
from mesh_platform.quality.evaluate import sample_text
from mesh_platform.quality.samples import SAMPLE_VIEW, UNCLEARED_VIEW
from mesh_platform.spec.fields import Severity
from mesh_platform.spec.model import ProductSpec

FAILING_COUNT = "mesh/failing_count"
FAILING_PERCENT = "mesh/failing_percent"
SAMPLE = "mesh/sample"
ROWS = "mesh/rows"
PREVIOUS_ROWS = "mesh/previous_rows"
CHANGE_PERCENT = "mesh/change_percent"
# A run tag accepting, for that one run, a volume change the guard would fail (`mesh/volume:
# accept` in the Launchpad's tags): an intended shrink needs no spec change and revert.
VOLUME_TAG = "mesh/volume"
VOLUME_ACCEPT = "accept"
_SHARE_TOLERANCE = 1e-9  # shares are floats: 0.3 * 100 is 30.000000000000004


@dataclass(frozen=True)
class VolumeOutcome:
    """The row count of a run against the previous version's, as the guard judged it."""

    rows: int
    previous: int | None
    passed: bool
    severity: Severity
    description: str
    accepted: bool = False
    first: bool = False  # the product's first materialization

    @property
    def blocking(self) -> bool:
        """Whether the run must fail before the write."""
        return not self.passed and self.severity == "error"


def judge_volume(
    spec: ProductSpec, rows: int, materialized: bool, previous: int | None, accepted: bool
) -> VolumeOutcome:
    """The run's row count against the previous version's, judged by the spec's guard.

    `materialized`: whether the product has a previous version; `previous`: its row count
    when recorded; `accepted`: the run carries the tag that accepts a change once.
    """
    guard = spec.volume
    if previous is None or previous == 0:
        return _nothing_to_compare(spec, rows, materialized, previous)
    change = (rows - previous) / previous
    dropped = change < 0
    severity = guard.severity_for(dropped, spec.visibility)
    limit = guard.max_drop if dropped else guard.max_growth
    failed = abs(change) >= limit - _SHARE_TOLERANCE
    way = "fewer" if dropped else "more"
    head = _compared(spec.qualified_name, rows, previous, change, way)
    if not failed:
        return VolumeOutcome(
            rows,
            previous,
            True,
            severity,
            f"{head}; within the guard ({_percent(limit)}% {way} fails)",
        )
    if accepted:
        return VolumeOutcome(
            rows,
            previous,
            True,
            severity,
            f"{head}; accepted for this run by the run tag {VOLUME_TAG}={VOLUME_ACCEPT}",
            accepted=True,
        )
    action = _failed_guard_action(spec, dropped, severity)
    return VolumeOutcome(rows, previous, False, severity, f"{head}; {action}")


def _nothing_to_compare(
    spec: ProductSpec, rows: int, materialized: bool, previous: int | None
) -> VolumeOutcome:
    """A passing outcome when there is no previous row count to compare with (no previous
    version, none recorded, or an empty one)."""
    # Nothing to compare with: no share of an empty version means anything.
    why = (
        "no previous version (first materialization)"
        if not materialized
        else "the previous version recorded no row count"
        if previous is None
        else "the previous version was empty"
    )
    return VolumeOutcome(
        rows,
        previous,
        True,
        spec.volume.severity_for(False, spec.visibility),
        f"{spec.qualified_name}: {rows:,} rows; {why}, nothing to compare with",
        first=not materialized,
    )


def _compared(name: str, rows: int, previous: int, change: float, way: str) -> str:
    """The row count against the previous version's, in words."""
    return (
        f"{name}: {rows:,} rows, {_percent(abs(change))}% {way} than the previous version "
        f"({previous:,})"
        if rows != previous
        else f"{name}: {rows:,} rows, as many as the previous version"
    )


def _failed_guard_action(spec: ProductSpec, dropped: bool, severity: Severity) -> str:
    """What the owner should do about a change beyond the guard, by whether it blocks."""
    what = (
        f"the landing export {spec.source.landing!r}" if spec.source is not None else "the inputs"
    )
    went = "shrank" if dropped else "grew"
    if severity == "error":
        return (
            f"if {what} {went} on purpose, re-run with the run tag {VOLUME_TAG}="
            f"{VOLUME_ACCEPT} (or widen `volume:` in the spec); else the previous version "
            "is intact: nothing was written and downstream products did not run"
        )
    return (
        f"the guard warns and does not stop the write; if {what} {went} by mistake, "
        "fix it and re-run; if on purpose, nothing to do (or widen `volume:` in the "
        "spec)"
    )


def volume_part(spec: ProductSpec, volume: VolumeOutcome) -> Part:
    """The `volume` part of the contract check: counts, change and the guard's settings."""
    guard = spec.volume
    metadata: dict[str, Any] = {
        ROWS: volume.rows,
        "mesh/first_run": volume.first,
        "mesh/max_drop": guard.max_drop,
        "mesh/max_growth": guard.max_growth,
        "mesh/volume_severity": volume.severity,
    }
    if volume.previous is not None:
        metadata[PREVIOUS_ROWS] = volume.previous
    if volume.previous:
        change = volume.rows - volume.previous
        metadata[CHANGE_PERCENT] = round(100 * change / volume.previous, 1)
        # The rows lost or gained, where the quality history and alerts read failures.
        failing = 0 if volume.passed else abs(change)
        metadata[FAILING_COUNT] = failing
        metadata[FAILING_PERCENT] = abs(metadata[CHANGE_PERCENT]) if failing else 0.0
        # The domain's soft-failure alert quotes the sample: the change, in rows.
        metadata[SAMPLE] = sample_text([f"{volume.previous:,} -> {volume.rows:,} rows"])
        metadata[SAMPLE_VIEW] = UNCLEARED_VIEW  # counts, no value of the product
    if volume.accepted:
        metadata["mesh/accepted"] = True
    return Part(VOLUME_CHECK, volume.passed, volume.severity, volume.description, metadata)


def _percent(share: float) -> str:
    """A share as a percent for people: 0.5 -> 50, 0.123 -> 12.3."""
    return f"{round(share * 100, 1):g}"
