"""The registry: one per process, filled by the standards packages through an entry point.

The platform owns the registries (standard steps, SQL functions, step sequences); what the
platform team publishes lives outside it, in packages that declare an entry point in the
`mesh.standards` group (this repository's `standards` package does). Each entry point is a
function taking the `Registry` and registering into it, so the platform never imports a
standards package by name.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path

from mesh_platform.errors import PlatformError
from mesh_platform.registry.functions import FunctionRegistry
from mesh_platform.registry.steps import StepRegistry

ENTRY_POINT_GROUP = "mesh.standards"


@dataclass(frozen=True)
class RuleSetInfo:
    """A published business rule set, for `mesh standards`: its functions and their inputs."""

    name: str
    version: str
    description: str
    functions: dict[str, tuple[str, ...]]


@dataclass
class Registry:
    """What the platform's standards provide: steps, SQL functions, step-sequence folders,
    budget standards (YAML files read by `cost/budgets.py`) and access policies."""

    steps: StepRegistry = field(default_factory=StepRegistry)
    functions: FunctionRegistry = field(default_factory=FunctionRegistry)
    sequence_folders: list[Path] = field(default_factory=list)
    rule_sets: list[RuleSetInfo] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    budget_files: list[Path] = field(default_factory=list)
    access_policy_files: list[Path] = field(default_factory=list)
    search_synonym_files: list[Path] = field(default_factory=list)

    def add_sequence_folder(self, folder: Path) -> None:
        """Publish the step sequences (`<name>.yaml`) of `folder`."""
        self.sequence_folders.append(folder)

    def add_budget_file(self, path: Path) -> None:
        """Publish a versioned budget standard (the highest `version:` registered applies)."""
        self.budget_files.append(path)

    def add_access_policy_file(self, path: Path) -> None:
        """Publish a versioned access policy (read by `mesh_platform.access.policy`)."""
        self.access_policy_files.append(path)

    def add_search_synonyms_file(self, path: Path) -> None:
        """Publish versioned search synonyms (read by `mesh_platform.marketplace.analysis`)."""
        self.search_synonym_files.append(path)


@functools.cache
def registry() -> Registry:
    """The process's registry, with every installed standards package registered into it."""
    found = Registry()
    for entry_point in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            register = entry_point.load()
            register(found)
        except Exception as exc:
            raise PlatformError(
                f"the standards package {entry_point.value!r} failed to register: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        found.sources.append(entry_point.value)
    return found
