"""Git for the builder, through the git command: a saved file's diff against HEAD, and a
commit of some files on a branch that never touches the working tree, the index or the
checked-out branch, and never pushes.

The commit is built with git's plumbing on a temporary index (`read-tree`, `update-index`,
`write-tree`, `commit-tree`) and the branch moved with `update-ref` guarded by its old tip, so
other people's uncommitted changes in the same checkout are neither committed nor disturbed.
"""

from __future__ import annotations

import difflib
import os
import subprocess
import tempfile
from pathlib import Path

from mesh_platform.builder.errors import GitRefused
from mesh_platform.spec.workspace import DOMAINS_DIR

_ZERO = "0" * 40


def _git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run git in `root`; its stdout, or GitRefused with git's own message."""
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitRefused(f"git could not run: {exc}") from None
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip().splitlines()
        raise GitRefused(f"git {args[0]} failed: {message[-1] if message else 'no message'}")
    return result.stdout


def head_text(root: Path, path: Path) -> str | None:
    """The file's text at HEAD; None when it is not in HEAD or `root` is not a git checkout."""
    try:
        return _git(root, "show", f"HEAD:./{_relative(root, path)}")
    except GitRefused:
        return None


def diff_to_head(root: Path, path: Path, text: str) -> str:
    """The unified diff from the file at HEAD (empty when new) to `text`."""
    name = _relative(root, path)
    before = head_text(root, path) or ""
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        text.splitlines(keepends=True),
        fromfile=f"a/{name}" if before else "/dev/null",
        tofile=f"b/{name}",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def commit_on_branch(root: Path, paths: list[Path], branch: str, message: str) -> str:
    """Commit `paths` as they are on disk on `branch` (created from HEAD when new, else on
    top of its tip); returns the commit id. Refused: a bad branch name, the checked-out branch
    (its working tree would then differ from it), a path outside the mesh's `domains/`, no
    change, an empty message. Never pushes."""
    if not message.strip():
        raise GitRefused("write a commit message saying what changed and why")
    _git(root, "check-ref-format", "--branch", branch)
    current = _git(root, "rev-parse", "--abbrev-ref", "HEAD").strip()
    if current == branch:
        raise GitRefused(
            f"branch {branch!r} is checked out here: the builder commits on another branch, "
            "leaving your working tree alone; pick a new branch name"
        )
    for path in paths:
        _relative(root, path, inside=DOMAINS_DIR)
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip())
    names = [_relative(top, root / path) for path in paths]
    root = top
    ref = f"refs/heads/{branch}"
    old = _tip(root, ref)
    parent = old or _git(root, "rev-parse", "--verify", "HEAD^{commit}").strip()
    tree = _tree_with(root, parent, names)
    if tree == _git(root, "rev-parse", f"{parent}^{{tree}}").strip():
        raise GitRefused(f"nothing to commit: {', '.join(names)} as on {branch or 'HEAD'}")
    commit = _git(root, "commit-tree", tree, "-p", parent, "-m", message).strip()
    _git(root, "update-ref", "-m", f"mesh builder: {message.splitlines()[0]}", ref, commit,
         old or _ZERO)  # fmt: skip
    return commit


def _tip(root: Path, ref: str) -> str | None:
    try:
        return _git(root, "rev-parse", "--verify", "--quiet", ref).strip() or None
    except GitRefused:
        return None


def _tree_with(root: Path, parent: str, names: list[str]) -> str:
    """The tree of `parent` with `names` as they are on disk (a deleted one removed)."""
    with tempfile.TemporaryDirectory(prefix="mesh-builder-index-") as folder:
        env = {**os.environ.copy(), "GIT_INDEX_FILE": str(Path(folder) / "index")}
        _git(root, "read-tree", parent, env=env)
        for name in names:
            if (root / name).is_file():
                blob = _git(root, "hash-object", "-w", "--", name).strip()
                _git(root, "update-index", "--add", "--cacheinfo", f"100644,{blob},{name}", env=env)
            else:
                _git(root, "update-index", "--force-remove", "--", name, env=env)
        return _git(root, "write-tree", env=env).strip()


def _relative(root: Path, path: Path, inside: str | None = None) -> str:
    """`path` relative to `root` (git's form); refused outside `root` (or its `inside`)."""
    base = (root / inside) if inside else root
    try:
        relative = (root / path).resolve().relative_to(base.resolve())
    except ValueError:
        where = f"{inside}/ of the mesh" if inside else "the mesh"
        raise GitRefused(f"{path} is outside {where}: the builder commits only there") from None
    return (Path(inside) / relative).as_posix() if inside else relative.as_posix()
