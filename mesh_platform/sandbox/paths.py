"""What a Python step's sandbox may read: an allow-list, never a folder holding data.

Read (and execute) beneath: the Python installation (the interpreter's prefixes: standard
library, the virtual environment and its site-packages), the system's libraries (`/usr`,
`/lib*`, the loader cache, the time zone), the CPU topology, the sandboxed process's own
`/proc/<pid>` (not `/proc`: another process's environment would be readable), the platform's
package `mesh_platform`, and the step's own code: its domain's folder (`domains/<domain>/`,
the package two levels down), else its package, else its file. Not the checkout: the lake
and landing folders (`var/`) are beneath it. A path that contains a forbidden root (the
lake, the landing folder, Mesh's home) is never allowed, whatever the rule that named it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.machinery import ModuleSpec, PathFinder
from pathlib import Path

SYSTEM = (
    "/usr",
    "/lib",
    "/lib64",
    "/lib32",
    "/libx32",
    "/etc/ld.so.cache",
    "/etc/localtime",
    "/sys/devices/system/cpu",
)
READ_WRITE_FILES = ("/dev/null",)
READ_FILES = ("/dev/urandom", "/dev/zero")


def _real(path: str) -> str:
    return os.path.realpath(path).rstrip("/") or "/"


def contains(folder: str, path: str) -> bool:
    """Whether `path` is `folder` or beneath it (both resolved)."""
    folder, path = _real(folder), _real(path)
    return path == folder or folder == "/" or path.startswith(folder + "/")


def permitted(paths: Iterable[str], forbidden: Iterable[str]) -> list[str]:
    """`paths` without those that hold (or are) a forbidden root, or are `/`."""
    roots = [_real(f) for f in forbidden if f]
    kept: list[str] = []
    for path in paths:
        if not path or _real(path) == "/" or any(contains(path, root) for root in roots):
            continue
        if path not in kept:
            kept.append(path)
    return kept


def installation() -> list[str]:
    """The Python installation and the platform's package (of the running interpreter)."""
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    found = sorted(prefixes | {os.path.dirname(os.path.realpath(sys.executable))})
    # site-packages outside the prefixes (a venv using the system's packages).
    found += [
        p for p in sys.path if p and os.path.basename(p) in ("site-packages", "dist-packages")
    ]
    found.append(str(Path(__file__).resolve().parents[1]))  # mesh_platform/
    return found + list(SYSTEM)


@dataclass(frozen=True)
class ModulePart:
    """One level of a dotted module name: its file, and its folders when it is a package."""

    name: str
    origin: str | None  # the source (or __init__) file; None for a namespace package
    locations: tuple[str, ...] | None  # a package's folders

    def as_message(self) -> dict[str, object]:
        return {"name": self.name, "origin": self.origin, "locations": self.locations}


def locate(module: str) -> tuple[ModulePart, ...]:
    """Where `module` and its packages are, found without importing (or running) any of them.

    Raises ModuleNotFoundError as an import would.
    """
    parts: list[ModulePart] = []
    search: list[str] | None = None
    names = module.split(".")
    for depth in range(len(names)):
        name = ".".join(names[: depth + 1])
        loaded = sys.modules.get(name)
        spec: ModuleSpec | None = getattr(loaded, "__spec__", None) if loaded else None
        if spec is None:
            spec = PathFinder.find_spec(name, search)
        if spec is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        locations = spec.submodule_search_locations
        origin = spec.origin if spec.has_location else None
        parts.append(ModulePart(name, origin, tuple(locations) if locations is not None else None))
        if depth + 1 < len(names):
            if locations is None:
                raise ModuleNotFoundError(
                    f"No module named {module!r}; {name!r} is not a package", name=module
                )
            search = list(locations)
    return tuple(parts)


def of_module(parts: tuple[ModulePart, ...], forbidden: Iterable[str]) -> list[str]:
    """The paths the step's own code needs: its packages' `__init__` files, its file, and its
    home folder (the package two levels down: `domains/<domain>/`; else its package), unless
    that folder holds a forbidden root."""
    forbidden = list(forbidden)
    files = [p.origin for p in parts if p.origin]
    packages = [p for p in parts if p.locations]
    folders: list[str] = []
    if packages:
        home = packages[min(1, len(packages) - 1)]
        folders = list(home.locations or ())
    return permitted(folders, forbidden) + permitted(files, forbidden)
