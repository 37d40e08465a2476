"""The quality gate of one materialization: the `contract` check (columns, schema change,
volume: `quality/contract.py`) and the rules, as checks.

The gate audits the conformed result before it is written (write-audit-publish): a failed
`error` rule (or an `error` volume change) fails the run with guidance and nothing is written,
so neither the table nor the downstream products see bad data. `warn` failures are recorded
and processing goes on; the platform's quality sensor tells the owning domain.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import dagster as dg
import pyarrow as pa

from mesh_platform.column_types import from_arrow
from mesh_platform.compile.plan import ProductPlan
from mesh_platform.compile.rules import (
    CONTRACT_CHECK,
    SCHEMA_CHANGE_CHECK,
    VOLUME_CHECK,
    reference_port,
    volume_guarded,
)
from mesh_platform.engine import Engine, get_engine
from mesh_platform.errors import BusinessLogicError, StepFailed
from mesh_platform.lake.lakehouse import Lakehouse
from mesh_platform.quality.contract import COLUMNS_PART, Part, contract_result
from mesh_platform.quality.evaluate import RuleOutcome, evaluate_rules, sample_text
from mesh_platform.quality.samples import (
    SAMPLE_MASKED,
    SAMPLE_VIEW,
    UNCLEARED_VIEW,
    failing_sample,
    uncleared_error,
)
from mesh_platform.quality.volume import (
    FAILING_COUNT,
    FAILING_PERCENT,
    SAMPLE,
    VOLUME_ACCEPT,
    VOLUME_TAG,
    VolumeOutcome,
    judge_volume,
    volume_part,
)
from mesh_platform.run.failures import (
    BUSINESS_LOGIC,
    FAILURE_CAUSE,
    FAILURE_CLASS,
    FAILURE_GUIDANCE,
    FAILURE_PRODUCT,
    FAILURE_STEP,
)
from mesh_platform.spec.model import ProductSpec, QualityRule


class QualityGate:
    """Collects the check results of one materialization; fails it on a blocking failure."""

    def __init__(
        self,
        spec: ProductSpec,
        plan: ProductPlan,
        lakehouse: Lakehouse,
        instance: dg.DagsterInstance | None = None,
        engine: Engine | None = None,
        accept_volume: bool = False,
    ) -> None:
        self.engine = engine
        self.accept_volume = accept_volume
        self.spec = spec
        self.plan = plan
        self.lakehouse = lakehouse
        self.instance = instance
        self.results: list[dg.AssetCheckResult] = []
        self.seconds = 0.0
        self._checked = False

    def _key(self) -> dg.AssetKey:
        return dg.AssetKey(list(self.spec.key))

    def check(self, table: pa.Table, incremental: bool = False) -> None:
        """Check the conformed result; raise `dg.Failure` when an `error` rule fails.

        `incremental`: the result changes the table rather than replacing it; the volume guard
        then judges the table grown by the result's rows (its rules see only those rows).
        """
        self._checked = True
        started = time.perf_counter()
        parts = [self._columns(table)]
        if self.spec.visibility == "published":
            parts.append(self._schema_change())
        volume = None
        if volume_guarded(self.spec):
            materialized, previous = self._previous_rows()
            rows = table.num_rows + ((previous or 0) if incremental else 0)
            volume = judge_volume(self.spec, rows, materialized, previous, self.accept_volume)
            parts.append(volume_part(self.spec, volume))
        engine = self.engine or get_engine(self.spec.engine)
        evaluated = evaluate_rules(self.spec, table, self._reference_values, engine)
        shown = [self._shown(o, table.schema, engine) for o in evaluated]
        outcomes = [o for o, _ in shown]
        self.results.extend(self._result(o, protected) for o, protected in shown)
        # The cost of quality, visible in the UI next to the contract it was checked with.
        self.seconds = round(time.perf_counter() - started, 3)
        self.results.insert(
            0, contract_result(self._key(), parts, {"mesh/quality_seconds": self.seconds})
        )
        blocking = [o for o in outcomes if not o.passed and o.rule.severity == "error"]
        blocking_volume = volume if volume is not None and volume.blocking else None
        if blocking or blocking_volume:
            raise self._failure(blocking, blocking_volume)

    def failed_before_check(self, error: BaseException) -> None:
        """A run that failed before the check: a contract breach still shows on its check. A
        run refused before reading (an access wait, a read outside the subscription's columns:
        `refused_fix`) breached nothing: no check result, no effect on quality scores."""
        if self._checked or isinstance(error, StepFailed) or getattr(error, "refused_fix", None):
            return
        if isinstance(error, BusinessLogicError):
            self.results.append(
                dg.AssetCheckResult(
                    asset_key=self._key(),
                    check_name=CONTRACT_CHECK,
                    passed=False,
                    severity=dg.AssetCheckSeverity.ERROR,
                    description=str(error)[:1000],
                )
            )

    def _columns(self, table: pa.Table) -> Part:
        declared = {c.name: c.type for c in self.plan.columns if c.declared}
        actual = {f.name: from_arrow(f.type) for f in table.schema}
        mismatched = [
            f"{n}: {actual.get(n, 'missing')} (declared {t})"
            for n, t in declared.items()
            if actual.get(n) != t.replace(" ", "") and not t.startswith("float")
        ]
        return Part(
            COLUMNS_PART,
            not mismatched,
            "error",
            (
                f"columns not as declared: {'; '.join(mismatched)}"
                if mismatched
                else f"the {len(declared)} declared column(s) have their declared types"
                if declared
                else "no column declared"
            ),
            {
                "mesh/declared_columns": len(declared),
                "mesh/columns": ", ".join(f"{n}: {t}" for n, t in actual.items())[:2000],
                "mesh/mismatched": sample_text(mismatched),
            },
        )

    def _schema_change(self) -> Part:
        current = {c.name: c.type for c in self.plan.columns}
        previous = self._previous_schema()
        changes: list[str] = []
        if previous is not None:
            changes += [f"removed {n}" for n in previous if n not in current]
            changes += [f"added {n}" for n in current if n not in previous]
            changes += [
                f"{n}: {previous[n]} -> {t}"
                for n, t in current.items()
                if n in previous and previous[n] != t
            ]
        return Part(
            SCHEMA_CHANGE_CHECK,
            not changes,
            "warn",
            f"schema changed since the last run: {'; '.join(changes)}"
            if changes
            else "schema unchanged since the last run",
            {"mesh/changes": sample_text(changes), "mesh/first_run": previous is None},
        )

    def _previous_schema(self) -> dict[str, str] | None:
        if self.instance is None:
            return None
        event = self.instance.get_latest_materialization_event(self._key())
        materialization = event.asset_materialization if event else None
        if materialization is None:
            return None
        value = materialization.metadata.get("dagster/column_schema")
        schema = getattr(value, "schema", None)
        if schema is None:
            return None
        return {c.name: c.type for c in schema.columns}

    def _previous_rows(self) -> tuple[bool, int | None]:
        """Whether the product was materialized before, and that version's row count if known.

        Read from the Delta log of the product's table (file statistics, no data read): the
        current version is the one this write would replace and what readers see (a run the
        gate blocked wrote nothing).
        """
        return self.lakehouse.committed_rows(self.spec.key)

    def _reference_values(self, rule: QualityRule) -> list[Any]:
        import pyarrow.compute as pc

        port = reference_port(self.spec, rule)
        assert port is not None, "validated at load"
        ref = self.spec.input_refs()[port]
        column = rule.ref_column or rule.column
        values = self.lakehouse.dataset(ref).to_table(columns=[column]).column(column)
        return pc.unique(values).drop_null().to_pylist()

    def _shown(
        self, outcome: RuleOutcome, schema: pa.Schema, engine: Engine
    ) -> tuple[RuleOutcome, dict[str, str]]:
        """`outcome` with its failing sample (and error) as a reader without clearance sees
        it (what the check, its description and the run's failure show), and what was
        protected, how."""
        rule = outcome.rule
        seen = failing_sample(self.spec, self.plan, rule, outcome.sample, schema, engine)
        error = outcome.error and uncleared_error(self.spec, self.plan, rule, outcome.error)
        return replace(outcome, sample=seen.values, error=error), seen.protected

    def _result(self, outcome: RuleOutcome, protected: dict[str, str]) -> dg.AssetCheckResult:
        rule = outcome.rule
        metadata: dict[str, Any] = {
            FAILING_COUNT: outcome.failing,
            FAILING_PERCENT: outcome.percent,
            SAMPLE: sample_text(outcome.sample),
            SAMPLE_VIEW: UNCLEARED_VIEW,
            "mesh/total_rows": outcome.total,
            "mesh/rule": rule.rule,
            "mesh/severity": rule.severity,
        }
        if protected:
            metadata[SAMPLE_MASKED] = dg.MetadataValue.json(protected)
        if outcome.error:
            metadata["mesh/error"] = outcome.error[:2000]
        return dg.AssetCheckResult(
            asset_key=self._key(),
            check_name=rule.check_name,
            passed=outcome.passed,
            severity=(
                dg.AssetCheckSeverity.ERROR
                if rule.severity == "error"
                else dg.AssetCheckSeverity.WARN
            ),
            metadata=metadata,
            description=_summary(outcome),
        )

    def _failure(
        self, blocking: list[RuleOutcome], volume: VolumeOutcome | None = None
    ) -> dg.Failure:
        checks = [o.rule.check_name for o in blocking] + ([VOLUME_CHECK] if volume else [])
        names = ", ".join(checks)
        causes = [_summary(o) for o in blocking] + ([volume.description] if volume else [])
        cause = "; ".join(causes)
        name = self.spec.qualified_name
        guidance: list[str] = []
        if blocking:
            rules = ", ".join(o.rule.check_name for o in blocking)
            guidance.append(
                f"the data of {name} breaks the `error` rule(s) {rules}; see the failing "
                "count and sample on the check. Nothing was written and downstream products "
                "did not run. Fix the data or the step that produces it (`mesh preview "
                f"{name}`), or relax the rule in the spec, then re-run."
            )
        if volume is not None:
            guidance.append(
                f"the row count of {name} changed beyond its volume guard: {volume.description}. "
                f"For one intended change, re-run with the run tag {VOLUME_TAG}={VOLUME_ACCEPT}; "
                f"for a product whose size legitimately swings, set `volume:` in its spec "
                "(docs/quality.md)."
            )
        kind = "rule(s)" if not volume else "check(s)"
        return dg.Failure(
            description=f"{name}: blocking quality {kind} failed: {names}; nothing was written",
            metadata={
                FAILURE_CLASS: BUSINESS_LOGIC,
                FAILURE_STEP: f"quality:{checks[0]}",
                FAILURE_CAUSE: cause[:2000],
                FAILURE_GUIDANCE: " ".join(guidance)[:4000],
                FAILURE_PRODUCT: name,
            },
        )


def _summary(outcome: RuleOutcome) -> str:
    name = outcome.rule.check_name
    if outcome.error:
        return f"{name}: could not be evaluated: {outcome.error}"
    if outcome.passed:
        return f"{name}: passed on {outcome.total} rows"
    return (
        f"{name}: {outcome.failing} failing ({outcome.percent}%) of {outcome.total} rows; "
        f"sample {sample_text(outcome.sample[:3])}"
    )
