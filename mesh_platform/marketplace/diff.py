"""The breaking-change check: each product's contract in two meshes (a git ref, the working
tree), every change classified, and a verdict for CI.

Breaking (for a product published in the base): a column removed or renamed, a type narrowed,
a column made nullable (its `not_null` rule dropped or made a warning), a quality rule removed
or loosened, the freshness SLA loosened or dropped, the product unpublished or deleted. Not
breaking: a column or product added, a description or tag changed, a type widened, a rule or
SLA added or tightened. A breaking change to a published product fails the check unless the
product's MAJOR version is bumped (semantic versioning; the MINOR one while MAJOR is 0). The
message names the consumers and their columns that depend on what changed (`impact`, read in
the base mesh, where the consumers still read it).

A consumer's right fix is its SQL, not its version (`diff_consumers.py`): each direct reader
of a removed, renamed or narrowed column is told the file, line and column to change, and a
consumer whose unchanged spec no longer loads in head is reported as "must change its SQL"
(a version bump does not pass it). An auto-named rule that follows a renamed column is the
same rule: the rename is the one breaking change.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from mesh_platform.compile.contracts import ContractColumn, contract_of
from mesh_platform.marketplace.diff_changes import Change
from mesh_platform.marketplace.diff_consumers import follow_renames, renames, sql_fixes
from mesh_platform.marketplace.diff_rules import rule_changes
from mesh_platform.marketplace.diff_types import widens
from mesh_platform.marketplace.impact import ColumnUse, impact, plain

if TYPE_CHECKING:
    from mesh_platform.loader.mesh import Mesh
    from mesh_platform.spec.loading import ProductSource
    from mesh_platform.spec.workspace import Key


@dataclass(frozen=True)
class Consumer:
    """A consumer hit by a product's breaking changes: which of its columns, and its owners."""

    product: str
    columns: tuple[str, ...]  # `column = formula`, or `reads X in a join, filter or grouping`
    owners: tuple[str, ...]
    sql_fixes: tuple[str, ...] = ()  # `file:line reads p.column (renamed to x)`: its SQL to change


@dataclass(frozen=True)
class ProductDiff:
    """The changes to one product's contract and what they mean for its consumers."""

    product: str
    base_version: str | None
    head_version: str | None
    published: bool  # published in the base: other domains may rely on it
    changes: tuple[Change, ...]
    consumers: tuple[Consumer, ...] | None  # None: unknown (the product plans in neither mesh)
    # A consumer broken by an upstream change: where its SQL must change (not its version).
    must_change_sql: tuple[str, ...] | None = None

    @property
    def breaking(self) -> tuple[Change, ...]:
        """The breaking changes."""
        return tuple(c for c in self.changes if c.breaking)

    @property
    def version_bumped(self) -> bool:
        """Whether head's version announces a breaking change (semantic versioning)."""
        if self.base_version is None or self.head_version is None:
            return False
        return major_bump(self.base_version, self.head_version)

    @property
    def fails(self) -> bool:
        """A published product changed in a breaking way without a version bump, or a consumer
        an upstream change broke (whatever its version)."""
        if self.must_change_sql is not None:
            return True
        return self.published and bool(self.breaking) and not self.version_bumped

    def message(self) -> str:
        """Why the check fails (or passes) for this product, naming consumers and columns."""
        lines = [
            f"{self.product} ({self.base_version or 'new'} -> {self.head_version or 'removed'}):"
        ]
        for change in self.changes:
            mark = "BREAKING" if change.breaking else "ok"
            lines.append(f"  {mark}: {change.kind}: {change.detail}")
        if self.breaking and self.published:
            if self.consumers is None:
                lines.append("  consumers unknown: the product plans in neither tree")
            elif self.consumers:
                lines.append("  consumers affected:")
                for consumer in self.consumers:
                    owners = ", ".join(consumer.owners) or "no owner"
                    lines.append(f"    {consumer.product} (owners: {owners})")
                    lines += [f"      {c}" for c in consumer.columns]
                    if consumer.sql_fixes:
                        lines.append(f"      {consumer.product} must change its SQL:")
                        lines += [f"        {f}" for f in consumer.sql_fixes]
            else:
                lines.append("  no consumer in the mesh depends on what changed")
            major = next_major(self.base_version or "1.0.0")
            if self.must_change_sql is not None:
                lines.append(
                    f"  fix: {self.product} must change its SQL (not its version), to read "
                    "its inputs as they are now:"
                )
                lines += [f"    {f}" for f in self.must_change_sql or ["(see `mesh validate`)"]]
            elif self.fails and self.head_version is None:
                lines.append(
                    f"  fix: retire it in two steps: unpublish it (`visibility: internal`, "
                    f"`version: {major}`) and tell the consumers; delete it once none is left"
                )
            elif self.fails:
                lines.append(
                    f"  fix: bump `version:` to {major} and tell the consumers, or keep the "
                    "contract compatible"
                )
            else:
                lines.append(f"  allowed: version bumped to {self.head_version}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        data = plain(asdict(self))
        data.update(fails=self.fails, version_bumped=self.version_bumped)
        return data


@dataclass(frozen=True)
class DiffReport:
    """Every changed product between two meshes."""

    base: str
    products: tuple[ProductDiff, ...]

    @property
    def failed(self) -> bool:
        """Whether any published product changed in a breaking way without a version bump."""
        return any(p.fails for p in self.products)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "base": self.base,
            "failed": self.failed,
            "products": [p.to_dict() for p in self.products],
        }

    def render(self) -> str:
        """The report for a terminal and a CI log."""
        if not self.products:
            return f"No contract changes against {self.base}."
        failing = [p.product for p in self.products if p.fails and p.must_change_sql is None]
        broken = [p.product for p in self.products if p.must_change_sql is not None]
        verdicts = [
            f"breaking change(s) without a version bump: {', '.join(failing)}" if failing else "",
            f"consumer(s) that must change their SQL: {', '.join(broken)}" if broken else "",
        ]
        verdict = (
            "FAILED: " + "; ".join(v for v in verdicts if v)
            if failing or broken
            else "OK: no breaking change to a published product without a version bump"
        )
        body = "\n".join(p.message() for p in self.products)
        return f"Contract changes against {self.base}:\n{body}\n{verdict}"


def diff_contracts(base: Mesh, head: Mesh, base_name: str = "base") -> DiffReport:
    """Compare every product's contract in `base` and `head`; see the module docstring.

    Contracts are read from the specs, so a product that does not plan still has one (the base
    is planned by today's platform, which may refuse an old spec); consumers are read from
    the base mesh's plans, else the head's.
    """
    old_specs, new_specs = _specs(base), _specs(head)
    found = []
    for key in sorted(set(old_specs) | set(new_specs)):
        diff = _product_diff(base, head, key, old_specs.get(key), new_specs.get(key))
        if diff is not None and diff.changes:
            found.append(diff)
    return DiffReport(base_name, tuple(found))


def major_bump(base: str, head: str) -> bool:
    """Whether `head` is a new MAJOR version of `base` (a new MINOR one while MAJOR is 0)."""
    old, new = _semver(base), _semver(head)
    if old[0] == 0 and new[0] == 0:
        return new[1] > old[1]
    return new[0] > old[0]


def next_major(version: str) -> str:
    """The version announcing a breaking change after `version`."""
    major, minor, _ = _semver(version)
    return f"0.{minor + 1}.0" if major == 0 else f"{major + 1}.0.0"


def _semver(version: str) -> tuple[int, int, int]:
    major, minor, patch = (int(p) for p in version.split("."))
    return major, minor, patch


def _specs(mesh: Mesh) -> dict[Key, ProductSource]:
    """Every product spec that reads, planned or not."""
    return {p.spec.key: p for d in mesh.domains.values() for p in d.products}


def _product_diff(
    base: Mesh, head: Mesh, key: Key, old: ProductSource | None, new: ProductSource | None
) -> ProductDiff | None:
    published = old is not None and old.spec.visibility == "published"
    if not published and (new is None or new.spec.visibility != "published"):
        return None  # internal on both sides: no contract with other domains
    name = ".".join(key)
    changes: list[Change] = []
    if old is None:
        changes.append(Change("product published", False, f"new published product {name}"))
    elif new is None:
        changes.append(Change("product removed", True, f"{name} was deleted"))
    else:
        changes += _contract_changes(old, new)
    broken: tuple[str, ...] | None = None
    if new is not None and key in head.excluded:
        reason = f"{name} is left out: {head.excluded[key]}; `mesh validate` shows the errors"
        if old is not None and old.spec == new.spec:  # its spec unchanged: broken upstream
            broken = _upstream_fixes(base, head, old)
            changes.append(Change("broken by an upstream change", True, reason))
        else:
            changes.append(Change("product does not load", True, reason))
    diff = ProductDiff(
        name,
        old.spec.version if old else None,
        new.spec.version if new else None,
        published,
        tuple(changes),
        None,
        broken,
    )
    if published and diff.breaking:
        consumers = _consumers(base, name, diff.breaking) if key in base.plans else None
        if consumers is None and key in head.plans:
            consumers = _consumers(head, name, diff.breaking)
        return replace(diff, consumers=consumers)
    return diff


def _contract_changes(old: ProductSource, new: ProductSource) -> list[Change]:
    changes: list[Change] = []
    if new.spec.visibility != "published":
        changes.append(Change("product unpublished", True, "visibility: published -> internal"))
    if old.spec.description.strip() != new.spec.description.strip():
        changes.append(Change("description changed", False, "the product's description"))
    columns = _column_changes(contract_of(old).columns, contract_of(new).columns)
    changes += columns
    changes += rule_changes(follow_renames(old.spec.quality, renames(columns)), new.spec.quality)
    changes += _sla_changes(old, new)
    return changes


def _column_changes(
    old: tuple[ContractColumn, ...], new: tuple[ContractColumn, ...]
) -> list[Change]:
    changes: list[Change] = []
    before = {c.name: c for c in old}
    after = {c.name: c for c in new}
    removed = [c for c in old if c.name not in after]
    added = [c for c in new if c.name not in before]
    for column in removed:
        twin = _renamed_to(column, old, new, added)
        if twin is not None:
            added.remove(twin)
            changes.append(
                Change("column renamed", True, f"{column.name} -> {twin.name}", column.name)
            )
        else:
            changes.append(Change("column removed", True, column.name, column.name))
    changes += [Change("column added", False, f"{c.name} ({c.type})", c.name) for c in added]
    for name, was in before.items():
        now = after.get(name)
        if now is None:
            continue
        if was.type != now.type:
            if widens(was.type, now.type):
                changes.append(
                    Change("type widened", False, f"{name}: {was.type} -> {now.type}", name)
                )
            else:
                changes.append(
                    Change("type narrowed", True, f"{name}: {was.type} -> {now.type}", name)
                )
        if was.description != now.description:
            changes.append(Change("description changed", False, name, name))
        if set(was.tags) != set(now.tags):
            changes.append(
                Change("tags changed", False, f"{name}: {list(was.tags)} -> {list(now.tags)}", name)
            )
    return changes


def _renamed_to(
    column: ContractColumn,
    old: tuple[ContractColumn, ...],
    new: tuple[ContractColumn, ...],
    added: list[ContractColumn],
) -> ContractColumn | None:
    """The added column that takes a removed one's place: same position and type."""
    position = old.index(column)
    for candidate in added:
        if new.index(candidate) == position and candidate.type == column.type:
            return candidate
    return None


def _sla_changes(old: ProductSource, new: ProductSource) -> list[Change]:
    was, now = old.spec.freshness, new.spec.freshness
    if was is None and now is None:
        return []
    if now is None:
        assert was is not None
        return [Change("SLA loosened", True, f"freshness {was.max_age_hours:g}h dropped")]
    if was is None:
        return [Change("SLA added", False, f"freshness {now.max_age_hours:g}h")]
    if now.max_age_hours > was.max_age_hours:
        detail = f"freshness {was.max_age_hours:g}h -> {now.max_age_hours:g}h"
        return [Change("SLA loosened", True, detail)]
    if now.max_age_hours < was.max_age_hours:
        detail = f"freshness {was.max_age_hours:g}h -> {now.max_age_hours:g}h"
        return [Change("SLA tightened", False, detail)]
    return []


def _consumers(base: Mesh, name: str, breaking: tuple[Change, ...]) -> tuple[Consumer, ...]:
    """The base mesh's consumers that depend on the broken columns (every consumer for a change
    to the whole product: unpublished, removed, a table rule, the SLA)."""
    columns = {c.column for c in breaking}
    schema = base.plans[base.product(name).spec.key].schema
    if None in columns:
        reports = [impact(base, name)]
    else:
        reports = [impact(base, name, c) for c in sorted(c for c in columns if c in schema)]
    merged: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    for report in reports:
        for item in report.impacted:
            _, lines = merged.setdefault(item.product, (item.owners, []))
            lines += [_use_line(u) for u in item.columns]
            lines += [f"reads {f} in a join, filter or grouping" for f in item.filters]
    return tuple(
        Consumer(
            product,
            tuple(dict.fromkeys(lines)),
            owners,
            tuple(sql_fixes(base, name, breaking, product)),
        )
        for product, (owners, lines) in sorted(merged.items())
    )


def _upstream_fixes(base: Mesh, head: Mesh, consumer: ProductSource) -> tuple[str, ...]:
    """Where `consumer`'s unchanged SQL reads its inputs' removed, renamed or narrowed
    columns (base vs head contracts of each input)."""
    name = consumer.spec.qualified_name
    fixes: list[str] = []
    for ref in sorted(set(consumer.spec.input_refs().values())):
        was, now = base.products.get(ref), head.products.get(ref)
        if was is None or now is None:
            continue
        changes = _column_changes(contract_of(was).columns, contract_of(now).columns)
        fixes += sql_fixes(base, ".".join(ref), tuple(changes), name)
    return tuple(fixes)


def _use_line(use: ColumnUse) -> str:
    maybe = "" if use.certain else " (maybe: computed by a Python or standard step)"
    return f"{use.column} = {use.formula}{maybe}"
