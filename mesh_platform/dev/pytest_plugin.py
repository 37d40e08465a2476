"""pytest items for the example-based product tests."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from mesh_platform.dev.product_tests import ProductTestCase, load_cases, run_case
from mesh_platform.loader.mesh import Mesh


class ProductTestFile(pytest.File):
    """A domain's `tests/<product>.yaml`."""

    def collect(self) -> Iterator[pytest.Item]:
        mesh = Mesh.load()
        for case in load_cases(self.path, mesh):
            yield ProductTestItem.from_parent(self, name=case.name, case=case)


class ProductTestItem(pytest.Item):
    """One case of a product test file."""

    def __init__(self, *, case: ProductTestCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.case = case

    def runtest(self) -> None:
        result = run_case(self.case, Mesh.load())
        if not result.passed:
            raise ProductTestFailure(result.diff)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, ProductTestFailure):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, self.case.line, f"{self.case.product}: {self.case.name}"


class ProductTestFailure(AssertionError):
    """A product produced other rows than its example expects."""
