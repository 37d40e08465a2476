"""Shared business rules: decision tables in `standards/rules/*.yaml`, compiled once to SQL.

Each table compiles to one Spark SQL CASE expression. The same text is the body of the rule's
SQL function (e.g. `sales_region(nation)`, which every engine builds from it) and the
expression of the rule's standard step, so the step and the function classify identically
by construction.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp

from mesh_platform.column_types import Schema, unknown_columns_message
from mesh_platform.registry import Registry, RuleSetInfo, SqlFunction, StandardStepDefinition

RULES_DIR = Path(__file__).parent / "rules"
_COMPARISON = re.compile(r"^\s*(>=|<=|!=|<>|=|>|<)\s*(-?\d+(?:\.\d+)?)\s*$")


class DecisionTable(BaseModel):
    """One decision table: rows of conditions on `inputs` and a result; first match wins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    function: str
    output: str
    description: str
    inputs: tuple[str, ...]
    rules: tuple[dict[str, Any], ...]
    default: str | None = None


class RuleSet(BaseModel):
    """A versioned file of decision tables, published as one standard step."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    description: str
    tables: tuple[DecisionTable, ...] = Field(min_length=1)


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, bool) or value is None:
        raise ValueError(f"decision table value {value!r} must be text or a number")
    if isinstance(value, int | float):
        return exp.Literal.number(value)
    return exp.Literal.string(str(value))


def _condition(column: exp.Expression, spec: Any) -> Any:  # an sqlglot condition, or None
    if spec in ("*", "-", None):
        return None
    if isinstance(spec, list):
        return exp.In(this=column.copy(), expressions=[_literal(v) for v in spec])
    if isinstance(spec, str) and (match := _COMPARISON.match(spec)):
        op, number = match.groups()
        ops = {">=": exp.GTE, "<=": exp.LTE, ">": exp.GT, "<": exp.LT, "=": exp.EQ}
        node = ops.get(op, exp.NEQ)
        return node(this=column.copy(), expression=exp.Literal.number(number))
    return exp.EQ(this=column.copy(), expression=_literal(spec))


def compile_table(table: DecisionTable, columns: dict[str, str] | None = None) -> str:
    """The table as one Spark/DuckDB SQL CASE over `columns` (input -> column name)."""
    names = columns or {i: i for i in table.inputs}
    case = exp.Case()
    for row in table.rules:
        unknown = set(row) - {*table.inputs, "result"}
        if unknown or "result" not in row:
            raise ValueError(
                f"rule {table.function!r}: row {row} must give `result` and conditions on "
                f"{', '.join(table.inputs)} only"
            )
        conditions = [
            c
            for i in table.inputs
            if (c := _condition(exp.column(names[i]), row.get(i))) is not None
        ]
        when = exp.and_(*conditions) if conditions else exp.true()
        case = case.when(when, _literal(row["result"]))
    if table.default is not None:
        case = case.else_(_literal(table.default))
    return case.sql(dialect="spark")


@functools.cache
def rule_sets() -> tuple[RuleSet, ...]:
    """Every rule file under `standards/rules/`, by name."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe")
    return tuple(
        RuleSet.model_validate(yaml.load(path.read_text()))
        for path in sorted(RULES_DIR.glob("*.yaml"))
    )


def rule_functions() -> list[SqlFunction]:
    """The SQL functions the decision tables publish, defined by their CASE expressions."""
    return [
        SqlFunction(
            t.function,
            f"{t.function}({', '.join(t.inputs)}) -> string",
            f"{t.description} (rule {rules.name} {rules.version})",
            f"SELECT {t.function}({', '.join(t.inputs)}) AS {t.output} FROM ...",
            version=rules.version,
            params=t.inputs,
            body=compile_table(t),
        )
        for rules in rule_sets()
        for t in rules.tables
    ]


def step_of(rules: RuleSet) -> StandardStepDefinition:
    """The rule set as a standard step adding one column per decision table."""
    inputs = sorted({i for t in rules.tables for i in t.inputs})
    fields: dict[str, Any] = {
        i: (str, Field(default=i, description=f"the column holding {i}")) for i in inputs
    }
    from pydantic import create_model

    params = create_model(  # type: ignore[call-overload]
        f"{rules.name.title().replace('_', '')}Params",
        __config__=ConfigDict(frozen=True, extra="forbid"),
        **fields,
    )

    def select(schema: Schema, p: Any) -> list[str]:
        columns = [getattr(p, i) for i in inputs]
        problem = unknown_columns_message(columns, schema, f"standard step {rules.name!r}")
        if problem is not None:
            raise ValueError(f"{problem}; map the rule's inputs with `with:`")
        outputs = [t.output for t in rules.tables]
        kept = [c for c in schema if c not in outputs]
        mapping = {i: getattr(p, i) for i in inputs}
        return kept + [f"{compile_table(t, mapping)} AS {t.output}" for t in rules.tables]

    def output(schema: Schema, _p: Any) -> Schema:
        return {**schema, **{t.output: "string" for t in rules.tables}}

    return StandardStepDefinition(
        name=rules.name,
        version=rules.version,
        description=f"{rules.description} Adds "
        + ", ".join(t.output for t in rules.tables)
        + f" (decision table standards/rules/{rules.name}.yaml).",
        params=params,
        output_schema=output,
        sql=select,
        example=f"- use: {rules.name}\n  with: {{{', '.join(f'{i}: {i}' for i in inputs)}}}",
    )


def register(registry: Registry) -> None:
    """Every rule set: its standard step, its SQL functions, its entry in `mesh standards`."""
    for rules in rule_sets():
        registry.steps.register(step_of(rules))
        registry.rule_sets.append(
            RuleSetInfo(
                rules.name,
                rules.version,
                rules.description,
                {t.function: t.inputs for t in rules.tables},
            )
        )
    for function in rule_functions():
        registry.functions.register(function)
