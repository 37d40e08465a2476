"""Which SQL functions a product may call, and which products need the keyring.

`decrypt_det` is callable only where the platform's access policy grants the domain
decryption (`compile/decryption.py`; never by a tag the product sets itself) and never in a
quality rule; the registry's reserved names (engine internals that would expose key material)
are never callable.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mesh_platform.registry import RESERVED, registry

if TYPE_CHECKING:
    from sqlglot import exp

DECRYPT = "decrypt_det"


def reserved_calls(functions: Sequence[str], decrypt_granted: bool = False) -> list[str]:
    """The functions of `functions` this SQL may not call (`decrypt_det` unless granted)."""
    reserved = set(RESERVED)
    if not decrypt_granted:
        reserved.add(DECRYPT)
    return sorted({f.lower() for f in functions if f.lower() in reserved})


def needs_keys(queries: Iterable[exp.Query | None]) -> bool:
    """Whether any of these queries calls a keyed function (so its run needs the keyring)."""
    from sqlglot import exp

    keyed = registry().functions.keyed()
    return any(
        f.name.lower() in keyed
        for query in queries
        if query is not None
        for f in query.find_all(exp.Anonymous)
    )
