"""pytest items for the example-based product tests.

A test file pytest cannot load (unknown product, malformed YAML, a broken mesh) becomes one
failing item with the clean message, not a collection traceback, so the other files run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mesh_platform.dev.product_tests import ProductTestCase, load_cases, run_case
from mesh_platform.errors import BusinessLogicError, MeshError
from mesh_platform.loader.mesh import Mesh


def _mesh_of(path: Path) -> Mesh:
    """The mesh a test file belongs to: `<root>/domains/<domain>/tests/<product>.yaml`.

    Loaded in isolation: another product's spec error does not fail this file's tests (a
    product that is itself left out fails its file with the reason).
    """
    return Mesh.load_healthy(path.resolve().parents[3])


class ProductTestFile(pytest.File):
    """A domain's `tests/<product>.yaml`."""

    def collect(self) -> Iterator[pytest.Item]:
        try:
            cases = load_cases(self.path, _mesh_of(self.path))
        except MeshError as exc:
            yield InvalidTestFile.from_parent(self, name=self.path.name, message=str(exc))
            return
        for case in cases:
            yield ProductTestItem.from_parent(self, name=case.name, case=case)


class ProductTestItem(pytest.Item):
    """One case of a product test file."""

    def __init__(self, *, case: ProductTestCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        result = run_case(self.case, _mesh_of(self.path))
        if not result.passed:
            raise ProductTestFailure(result.diff)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ProductTestFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, self.case.line, f"{self.case.product}: {self.case.name}"


class InvalidTestFile(pytest.Item):
    """A test file that cannot be loaded: fails with the spec error."""

    def __init__(self, *, message: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message

    def runtest(self) -> None:
        raise ProductTestFailure(self.message)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        return str(excinfo.value)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"{self.path.name}: invalid test file"


class ProductTestFailure(BusinessLogicError, AssertionError):
    """A product produced other rows than its example expects, or its test is invalid."""
