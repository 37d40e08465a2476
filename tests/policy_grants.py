"""Tests that need another access policy than the repository's: one registered over it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mesh_platform.access import policy
from mesh_platform.registry import registry


@contextmanager
def policy_with(folder: Path, extra: str) -> Iterator[Path]:
    """The repository's policy with `extra` YAML (its top-level keys replace the policy's),
    registered as a higher version while inside."""
    keys = {line.split(":")[0] for line in extra.splitlines() if line[:1].isalpha()}
    lines = policy.policy_files()[0].read_text().splitlines(keepends=True)
    text = "".join(line for line in lines if line.split(":")[0] not in keys)
    path = folder / "access_policy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.replace("\nversion: 1\n", "\nversion: 99\n") + extra)
    files = registry().access_policy_files
    files.append(path)
    policy.access_policy.cache_clear()
    try:
        yield path
    finally:
        files.remove(path)
        policy.access_policy.cache_clear()


@contextmanager
def decryption_granted(folder: Path, *domains: str) -> Iterator[Path]:
    """An access policy granting `domains` decryption (`decrypt: {granted_to: [...]}`)."""
    with policy_with(folder, f"decrypt: {{granted_to: [{', '.join(domains)}]}}\n") as path:
        yield path
