"""Checking a product test case as strictly as a spec: ports, columns and values.

Every problem is a `SpecError` with the test file, the line of the offending port, column or
value, and the valid choices (close matches first), so a misspelled column cannot silently
become a null, and a wrong value cannot become a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesh_platform.column_types import UNKNOWN
from mesh_platform.dev.example_values import BadValue, check_family, convert
from mesh_platform.errors import SpecError
from mesh_platform.spec.yaml_source import YamlDocument

CASE_KEYS = ("name", "inputs", "expected", "ordered")
MAX_ERRORS = 20  # per case: enough to see the pattern, not a wall of text


@dataclass(frozen=True)
class Column:
    """A column a test row may name: its type, and whether the contract declares it."""

    type: str
    declared: bool


Columns = Mapping[str, Column]  # column name -> type; empty when the columns are not known


@dataclass
class CaseChecker:
    """Collects the problems of case `index` of a test file, each with its line."""

    document: YamlDocument
    index: int
    errors: list[SpecError] = field(default_factory=list)

    def error(self, message: str, loc: Sequence[str | int], fix: str | None = None) -> None:
        """Record a problem at `loc` (keys and indexes under the case)."""
        if len(self.errors) < MAX_ERRORS:
            line = self.document.line_of(["cases", self.index, *loc])
            self.errors.append(
                SpecError(
                    f"case {self.index + 1}: {message}", file=self.document.path, line=line, fix=fix
                )
            )

    def keys(self, case: Mapping[str, Any]) -> None:
        """Refuse keys a case does not have (`expect:` for `expected:`)."""
        for key in case:
            if key not in CASE_KEYS:
                self.error(
                    f"unknown key {key!r}{_close(key, CASE_KEYS)}; a case has: "
                    f"{', '.join(CASE_KEYS)}",
                    [key],
                )

    def inputs(self, given: Any, ports: Mapping[str, Columns]) -> dict[str, list[dict[str, Any]]]:
        """Each port's rows, converted; every port of the product must be given."""
        if given is None:
            given = {}
        if not isinstance(given, Mapping):
            self.error("`inputs:` must map each input port to its rows", ["inputs"])
            return {}
        rows: dict[str, list[dict[str, Any]]] = {}
        for port, port_rows in given.items():
            if port not in ports:
                self.error(
                    f"unknown input {port!r}{_close(port, ports)}; the product's inputs: "
                    f"{', '.join(ports) or '(none)'}",
                    ["inputs", port],
                    fix="name the rows after an input port of the product (`inputs:` in its spec)",
                )
                continue
            rows[port] = self.rows(port_rows, ports[port], ["inputs", port], f"input {port!r}")
        for port in ports:
            if port not in given:
                self.error(
                    f"no rows for input {port!r}: every input of the product must be given",
                    ["inputs"],
                    fix=f"add `{port}: []` (an empty input) or rows for it under `inputs:`",
                )
        return rows

    def rows(
        self, given: Any, columns: Columns, loc: list[str | int], what: str
    ) -> list[dict[str, Any]]:
        """Rows (a list of mappings) with known columns and values that fit their types."""
        if given is None:
            return []
        if not isinstance(given, list):
            self.error(f"{what} must be a list of rows (`- {{column: value, ...}}`)", loc)
            return []
        reported: set[str] = set()
        converted = []
        for number, row in enumerate(given):
            if not isinstance(row, Mapping):
                self.error(f"{what}, row {number + 1} is not a mapping of columns", [*loc, number])
                continue
            converted.append(self._row(row, columns, [*loc, number], what, reported))
        return converted

    def _row(
        self,
        row: Mapping[str, Any],
        columns: Columns,
        loc: list[str | int],
        what: str,
        reported: set[str],
    ) -> dict[str, Any]:
        out = {}
        for name, value in row.items():
            column = columns.get(name)
            if column is None:
                if columns and name not in reported:
                    reported.add(name)
                    self.error(
                        f"{what}, row {int(loc[-1]) + 1}: unknown column {name!r}"
                        f"{_close(name, columns)}; its columns: {', '.join(columns)}",
                        [*loc, name],
                    )
                out[name] = value
                continue
            try:
                if column.declared:
                    out[name] = convert(value, column.type)
                else:
                    check_family(value, column.type)
                    out[name] = value
            except BadValue as exc:
                self.error(
                    f"{what}, row {int(loc[-1]) + 1}, column {name!r}: {exc}",
                    [*loc, name],
                    fix=f"write a {column.type} value, or null",
                )
                out[name] = None
        return out


def columns_of(types: Mapping[str, str], declared: Mapping[str, bool]) -> dict[str, Column]:
    """Column name -> `Column`, from a schema and which of its types the contract declares."""
    return {
        name: Column(type_name, declared.get(name, False) and type_name != UNKNOWN)
        for name, type_name in types.items()
    }


def _close(word: str, choices: Sequence[str] | Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
