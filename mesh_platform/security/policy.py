"""Which SQL functions a product may call, and which products need the keyring.

`decrypt_det` needs the product to declare `tags: {decrypt: authorized}`, so decryption is
visible in review and in the UI; the registry's reserved names (engine internals that would
expose key material) are never callable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

from mesh_platform.registry import RESERVED, registry

if TYPE_CHECKING:
    from sqlglot import exp

DECRYPT_TAG = ("decrypt", "authorized")


def reserved_calls(functions: Sequence[str], tags: Mapping[str, str]) -> list[str]:
    """The functions of `functions` this product's SQL may not call."""
    reserved = set(RESERVED)
    if tags.get(DECRYPT_TAG[0]) != DECRYPT_TAG[1]:
        reserved.add("decrypt_det")
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
