"""The cross-domain reads the specs declare, and the approvals file the platform team keeps.

Light on purpose (no database): `mesh validate` compares the two before deciding whether it
needs the catalog at all.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mesh_platform.errors import SpecError

if TYPE_CHECKING:
    # Only a type here: the loader brings the sandbox client and pyarrow (0.2 s) with it.
    from mesh_platform.spec.loading import ProductSource
    from mesh_platform.spec.yaml_source import YamlDocument

APPROVALS_FILE = "subscriptions.yaml"


class MeshProducts(Protocol):
    """What seeding reads of a mesh: its products' specs by `(domain, product)`."""

    @property
    def products(self) -> Mapping[tuple[str, str], ProductSource]: ...


@dataclass(frozen=True)
class DeclaredRead:
    """A cross-domain input a spec declares: who reads what, and through which product."""

    consumer: str
    product: str  # domain.product read
    reader: str  # domain.product that reads it


def declared_reads(mesh: MeshProducts) -> list[DeclaredRead]:
    """Every read of another domain's product the specs declare, in a stable order."""
    found: dict[tuple[str, str], DeclaredRead] = {}
    for key, source in sorted(mesh.products.items()):
        for ref in source.spec.input_refs().values():
            if ref[0] != key[0]:
                read = DeclaredRead(key[0], ".".join(ref), ".".join(key))
                found.setdefault((read.consumer, read.product), read)
    return list(found.values())


class _Approval(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    consumer: str
    product: str
    purpose: str = ""


class _ApprovalsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    approved: tuple[_Approval, ...] = Field(default=())
    # Domains besides the access policy's `landing:` ones that may declare landing sources.
    landing: tuple[str, ...] = Field(default=())


def _parsed(root: Path) -> tuple[_ApprovalsFile, YamlDocument | None]:
    """`root/subscriptions.yaml` parsed (empty when it does not exist); a malformed file is a
    `SpecError` with its line.

    Parsed once per content: every domain's plan asks for it (who may ingest landing files),
    and the line-numbering reader takes a second for the approvals of 1,000 domains.
    """
    path = root / APPROVALS_FILE
    if not path.is_file():
        return _ApprovalsFile(), None
    return _parsed_text(path, hashlib.sha256(path.read_bytes()).hexdigest())


@functools.lru_cache(maxsize=16)
def _parsed_text(path: Path, digest: str) -> tuple[_ApprovalsFile, YamlDocument]:
    """The approvals file at `path` whose content has `digest` (the cache key), parsed."""
    from mesh_platform.spec.yaml_source import read_yaml, to_plain

    document = read_yaml(path)
    try:
        return _ApprovalsFile.model_validate(to_plain(document.data)), document
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SpecError(
            f"{first['msg']} at {'.'.join(str(p) for p in first['loc'])}",
            file=path,
            line=document.line_of(first["loc"]),
            fix="each entry of `approved:` is {consumer: DOMAIN, product: DOMAIN.PRODUCT, "
            "purpose: TEXT}; `landing:` is a list of domains",
        ) from None


def landing_approved(root: Path) -> tuple[str, ...]:
    """The domains `root/subscriptions.yaml` names under `landing:` (access/landing.py)."""
    return _parsed(root)[0].landing


def approvals_file(root: Path) -> list[tuple[str, str, str]]:
    """`(consumer, product, purpose)` of each approval in `root/subscriptions.yaml` (none when
    the file does not exist); a malformed file is a `SpecError` with its line."""
    parsed, document = _parsed(root)
    path = root / APPROVALS_FILE
    out = []
    for index, entry in enumerate(parsed.approved):
        domain, _, name = entry.product.partition(".")
        if not domain or not name:
            raise SpecError(
                f"{entry.product!r} is not a product name",
                file=path,
                line=document.line_of(("approved", index, "product")) if document else None,
                fix="write DOMAIN.PRODUCT, e.g. sales.orders (`mesh list` shows them)",
            )
        out.append((entry.consumer, entry.product, entry.purpose))
    return out


def unlisted_reads(mesh: MeshProducts, root: Path) -> list[DeclaredRead]:
    """The declared cross-domain reads `root/subscriptions.yaml` does not approve."""
    listed = {(consumer, product) for consumer, product, _ in approvals_file(root)}
    return [r for r in declared_reads(mesh) if (r.consumer, r.product) not in listed]
