"""The mesh as of a git ref, for `mesh diff`: its `domains/` folder extracted with `git archive`
into a temporary folder and loaded there (the working tree is the other side)."""

from __future__ import annotations

import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from mesh_platform.errors import MeshError
from mesh_platform.spec.workspace import DOMAINS_DIR

if TYPE_CHECKING:
    from mesh_platform.loader.mesh import Mesh


class GitRefError(MeshError):
    """The base of `mesh diff` cannot be read from git."""


def load_at_ref(root: Path, ref: str) -> Mesh:
    """The mesh under `root` as committed at `ref` (what spec errors break left out)."""
    from mesh_platform.loader.mesh import load_healthy

    with tree_at_ref(root, ref) as tree, _domains_package_of(tree):
        return load_healthy(tree)


@contextmanager
def tree_at_ref(root: Path, ref: str) -> Iterator[Path]:
    """A temporary folder holding the mesh's `domains/` as of `ref`; the mesh root in it."""
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    prefix = _git(root, "rev-parse", "--show-prefix").strip()
    commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", ref=ref).strip()
    folder = f"{prefix}{DOMAINS_DIR}"
    with tempfile.TemporaryDirectory(prefix="mesh-diff-") as tmp:
        if _git(top, "ls-tree", "-d", "--name-only", commit, folder).strip():
            archive = subprocess.run(
                ["git", "archive", "--format=tar", commit, "--", folder],
                cwd=top,
                capture_output=True,
                check=True,
            ).stdout
            with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
                tar.extractall(tmp, filter="data")
        tree = Path(tmp) / prefix
        tree.mkdir(parents=True, exist_ok=True)
        yield tree


def _git(cwd: Path, *args: str, ref: str | None = None) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise GitRefError("`mesh diff` needs git on the PATH") from None
    if result.returncode != 0:
        if ref is not None:
            raise GitRefError(
                f"no git ref {ref!r} in {cwd}; pass --base with a branch, tag or commit "
                "(in CI fetch it first, e.g. `git fetch origin main` and `--base origin/main`)"
            )
        raise GitRefError(
            f"`git {' '.join(args)}` failed in {cwd}: {result.stderr.strip()}; `mesh diff` "
            "compares the working tree with a git ref, so the mesh must be in a git checkout"
        )
    return result.stdout


@contextmanager
def _domains_package_of(tree: Path) -> Iterator[None]:
    """Import `domains` (Python products and steps) from `tree` while the base loads, then put
    the working tree's modules back."""
    saved = _forget_domains()
    sys.path.insert(0, str(tree))
    importlib.invalidate_caches()
    try:
        yield
    finally:
        sys.path.remove(str(tree))
        _forget_domains()
        sys.modules.update(saved)
        importlib.invalidate_caches()


def _forget_domains() -> dict[str, ModuleType]:
    names = [n for n in sys.modules if n == DOMAINS_DIR or n.startswith(f"{DOMAINS_DIR}.")]
    return {name: sys.modules.pop(name) for name in names}
