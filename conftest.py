"""Collects the domains' example-based product tests (domains/*/tests/*.yaml) into pytest, and
adds the suite's own options."""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--docs-images",
        action="store_true",
        help="the builder's browser tests write their screenshots to docs/images (the pictures "
        "of docs/builder.md) instead of a temporary folder",
    )


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if (
        file_path.suffix == ".yaml"
        and file_path.parent.name == "tests"
        and (file_path.parent.parent / "domain.yaml").exists()
    ):
        from mesh_platform.dev.pytest_plugin import ProductTestFile

        return ProductTestFile.from_parent(parent, path=file_path)
    return None
