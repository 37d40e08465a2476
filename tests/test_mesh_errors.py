"""Every exception the platform raises on purpose is a `MeshError`, and the `mesh` command
maps each to one clean block (no traceback) in one place: its command group."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import mesh_platform
from mesh_platform import errors
from mesh_platform.catalog import Catalog, CatalogUnavailable
from mesh_platform.cli import main
from mesh_platform.cli.app import MeshGroup
from mesh_platform.errors import MeshError, PlatformError, SpecError, SpecErrors

PACKAGE = Path(mesh_platform.__file__).parent
# Exceptions that must keep a base outside Mesh's, with the reason.
NOT_MESH_ERRORS: set[str] = set()


def _exception_classes() -> list[tuple[str, str]]:
    """(module, class) of every class under mesh_platform/ deriving from an exception,
    found from the source (a class whose base is a built-in exception or such a class)."""
    known = {n for n, v in vars(builtins).items() if isinstance(v, type)}
    known = {n for n in known if issubclass(getattr(builtins, n), BaseException)}
    known |= {n for n, v in vars(errors).items() if isinstance(v, type)}
    classes: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [
                    b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
                    for b in node.bases
                ]
                classes[(module, node.name)] = bases
    found: set[tuple[str, str]] = set()
    while True:
        more = {k for k, bases in classes.items() if k not in found and set(bases) & known}
        if not more:
            return sorted(found)
        found |= more
        known |= {name for _, name in more}


def test_every_exception_the_platform_defines_is_a_mesh_error() -> None:
    classes = _exception_classes()
    assert ("mesh_platform.catalog.db", "CatalogUnavailable") in classes
    assert ("mesh_platform.dagster.holds", "Held") in classes
    outside = []
    for module, name in classes:
        cls = getattr(importlib.import_module(module), name)
        if issubclass(cls, BaseException) and not issubclass(cls, MeshError):
            outside.append(f"{module}.{name}")
    assert sorted(set(outside) - NOT_MESH_ERRORS) == []


def test_errors_callers_catch_as_value_errors_still_are() -> None:
    from mesh_platform.dev.example_values import BadValue
    from mesh_platform.security.crypto import DecryptionFailed

    assert issubclass(BadValue, ValueError) and issubclass(DecryptionFailed, ValueError)
    assert issubclass(CatalogUnavailable, PlatformError)


def test_a_sqlite_catalog_under_a_file_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "not_a_folder").write_text("")
    url = f"sqlite:///{tmp_path / 'not_a_folder' / 'catalog.db'}"
    with pytest.raises(CatalogUnavailable) as caught:
        Catalog.open(url)
    message = str(caught.value)
    assert f"the catalog database {url} is unavailable" in message
    assert "not_a_folder" in message and "check: " in message and "is a file" in message


@pytest.mark.parametrize("command", [["cost"], ["budget", "list"], ["subscriptions"]])
def test_a_catalog_outage_is_one_clean_message(tmp_path: Path, command: list[str]) -> None:
    (tmp_path / "not_a_folder").write_text("")
    url = f"sqlite:///{tmp_path / 'not_a_folder' / 'catalog.db'}"
    env = {"MESH_HOME": str(tmp_path / "home"), "MESH_CATALOG_URL": url}
    result = CliRunner().invoke(main, command, env=env)
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: the catalog database {url} is unavailable")
    assert "Traceback" not in result.output


def test_the_group_maps_a_mesh_error_to_one_block_and_a_spec_error_to_its_text() -> None:
    @click.group(cls=MeshGroup)
    def group() -> None:
        pass

    @group.command()
    def spec() -> None:
        raise SpecErrors([SpecError("bad field", file="p.yaml", line=4, fix="drop it")])

    @group.command()
    def platform() -> None:
        raise PlatformError("the lake is read-only")

    result = CliRunner().invoke(group, ["spec"])
    assert (result.exit_code, result.output) == (1, "Error: p.yaml:4: bad field\n  fix: drop it\n")
    result = CliRunner().invoke(group, ["platform"])
    assert (result.exit_code, result.output) == (1, "Error: the lake is read-only\n")
