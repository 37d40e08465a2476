"""The access policy as object-storage credentials (`mesh grants --storage s3`).

In the production profile each domain's code location (its code server, its runs and the
workers taking its steps) runs under its own storage identity. Its policy lets it:

- read and write its own domain's prefix of the lake (`<lake>/<domain>/`);
- read the tables of the products it has an approved subscription to (`<lake>/<d>/<p>/`), and
  only those the grants allow (`grantees`: published, not hidden by the access policy);
- read the landing prefix only when the domain may declare landing sources (`access.landing`:
  by default only `platform`);
- nothing else: no other domain's table, no listing outside these prefixes.

Where the tables are comes from the caller (`table_uri`, the lakehouse's own path function),
so the policy follows the layout the runs write, never a copy of it. A column scope cannot be
expressed in storage (a Delta file holds every column): the whole table is readable, and the
platform enforces the scope and the masks on read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mesh_platform.access.grantees import Subscriptions, grantees
from mesh_platform.compile.contracts import PublishedContract
from mesh_platform.errors import MeshError
from mesh_platform.spec.model import DomainSpec

STORAGES = ("s3",)
S3_SCHEMES = ("s3", "s3a")
_OBJECT_READ = ("s3:GetObject",)
_OBJECT_WRITE = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)


class StorageGrantsError(MeshError):
    """The storage policies cannot be written for this lake (e.g. a local folder for S3)."""


@dataclass(frozen=True)
class Published:
    """A product as the storage grants need it: its contract, spec tags and visibility."""

    contract: PublishedContract
    spec_tags: Mapping[str, str] | None = None
    visibility: str | None = None


@dataclass(frozen=True)
class StorageGrant:
    """What one domain's storage identity may do: prefixes (URIs ending in `/`) it reads and
    writes, prefixes it only reads, and why (one line each, for people)."""

    domain: str
    team: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    notes: tuple[str, ...]


def storage_grants(
    products: Sequence[Published],
    domains: Iterable[DomainSpec],
    subscribed: Subscriptions,
    table_uri: Callable[[tuple[str, str]], str],
    landing_root: str,
    landing_domains: Iterable[str],
) -> list[StorageGrant]:
    """Every domain's `StorageGrant`, by domain name.

    `table_uri((domain, product))` is where the product's table lives (`Lakehouse.uri`);
    `landing_domains` the domains that may declare landing sources (`access.landing`).
    """
    domains = sorted(domains, key=lambda d: d.name)
    reads: dict[str, list[str]] = {d.name: [] for d in domains}
    notes: dict[str, list[str]] = {d.name: [] for d in domains}
    for product in products:
        contract = product.contract
        uri = _prefix(table_uri((contract.domain, contract.name)))
        for grantee in grantees(
            contract, domains, subscribed, product.spec_tags, product.visibility
        )[1:]:
            line = f"{contract.qualified_name}: {grantee.because}"
            if grantee.because.startswith("internal product"):
                continue  # nobody else reads it: not worth a line per domain
            if grantee.granted:
                reads[grantee.domain].append(uri)
                if grantee.columns is not None:
                    line += f" (scope {', '.join(grantee.columns)}: enforced on read, not here)"
            notes[grantee.domain].append(("read " if grantee.granted else "no access ") + line)
    allowed = set(landing_domains)
    found = []
    for domain in domains:
        own = _own_prefix(domain.name, products, table_uri)
        landing = [_prefix(landing_root)] if domain.name in allowed else []
        why = (
            f"read {landing[0]}: the landing files (it may declare landing sources)"
            if landing
            else "none (it may not declare landing sources)"
        )
        found.append(
            StorageGrant(
                domain.name,
                domain.team,
                (own,),
                tuple(reads[domain.name] + landing),
                (f"read and write {own}: its own tables", *notes[domain.name], f"landing: {why}"),
            )
        )
    return found


def _prefix(uri: str) -> str:
    return uri.rstrip("/") + "/"


def _own_prefix(
    domain: str, products: Sequence[Published], table_uri: Callable[[tuple[str, str]], str]
) -> str:
    """The folder of `domain`'s tables: `table_uri` of an empty product name, checked to hold
    every table of the domain (a layout where it does not cannot be granted by prefix)."""
    own = _prefix(table_uri((domain, "")))
    for product in products:
        contract = product.contract
        uri = table_uri((contract.domain, contract.name))
        if contract.domain == domain and not uri.startswith(own):
            raise StorageGrantsError(
                f"{contract.qualified_name}'s table {uri} is not under its domain's prefix "
                f"{own}: the lake's layout must keep a domain's tables in one folder"
            )
    return own


def s3_location(uri: str, variable: str) -> tuple[str, str]:
    """`(bucket, key prefix)` of an `s3://bucket/prefix/` URI; `variable` names its setting."""
    parts = urlsplit(uri)
    if parts.scheme not in S3_SCHEMES or not parts.netloc:
        raise StorageGrantsError(
            f"{variable} is {uri.rstrip('/')!r}, not an S3 location (s3://BUCKET/PREFIX): S3 "
            "policies are for a lake in S3. Fix: set MESH_LAKE_ROOT and MESH_LANDING_ROOT to "
            "the production profile's s3:// URIs (docs/deployment.md), or pass --lake-root and "
            "--landing-root"
        )
    return parts.netloc, parts.path.lstrip("/")


def s3_policy(grant: StorageGrant) -> dict[str, Any]:
    """The IAM policy document of `grant`: objects under its prefixes, listing only there
    (`s3_location` of each prefix: check the roots with it first, naming their settings)."""

    def arn(uri: str) -> tuple[str, str]:
        return s3_location(uri, "a storage prefix")

    statements: list[dict[str, Any]] = []
    listed: dict[str, list[str]] = {}
    for sid, actions, uris in (
        ("OwnDomainReadWrite", _OBJECT_WRITE, grant.writes),
        ("SubscribedRead", _OBJECT_READ, grant.reads),
    ):
        if not uris:
            continue
        located = [arn(u) for u in uris]
        resources = [f"arn:aws:s3:::{bucket}/{key}*" for bucket, key in located]
        statements.append(
            {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": resources}
        )
        for bucket, key in located:
            listed.setdefault(bucket, []).append(f"{key}*")
    for index, (bucket, prefixes) in enumerate(sorted(listed.items())):
        statements.append(
            {
                "Sid": f"ListGrantedPrefixes{index}",
                "Effect": "Allow",
                "Action": ["s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}"],
                "Condition": {"StringLike": {"s3:prefix": sorted(set(prefixes))}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
