"""Who may decrypt: `decrypt_det` only in domains the access policy grants decryption.

The grant is the platform team's (`decrypt: {granted_to: [...]}` in the access policy,
`standards/access_policy.yaml`), never a tag or field a domain sets on its own products. The
planner reads it here, from the policy file in effect (the highest `version:` registered);
`access/policy.py` validates the whole file (a malformed `decrypt:` is an error with its
line there), and a file this reader cannot read grants nothing.
"""

from __future__ import annotations

from typing import Any

from mesh_platform.errors import MeshError
from mesh_platform.registry import registry
from mesh_platform.spec.yaml_source import read_yaml, to_plain


def decrypt_grantees() -> tuple[str, ...]:
    """The domains the access policy in effect grants decryption."""
    best: tuple[int, Any] | None = None
    for path in registry().access_policy_files:
        try:
            data = to_plain(read_yaml(path).data)
        except MeshError:
            return ()
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, int):
            return ()
        if best is None or version > best[0]:
            best = (version, data.get("decrypt"))
    grant = best[1] if best else None
    named = grant.get("granted_to") if isinstance(grant, dict) else None
    if not isinstance(named, list):
        return ()
    return tuple(str(d) for d in named if isinstance(d, str))


def decrypt_granted(domain: str) -> bool:
    """Whether `domain`'s SQL may call `decrypt_det`."""
    return domain in decrypt_grantees()
