"""Which products a `mesh materialize` target names.

A target is a domain (`sales`), a product (`sales.customer_revenue`), or anything Dagster's
asset selection syntax accepts (`key:"sales/*"`, `+key:"sales/customer_revenue"`,
`tag:visibility=published`, `owner:"team:sales"`, `group:finance`, `kind:sql`, `sales/x+`),
resolved over the mesh's asset graph: every product that loads, with its cross-domain edges,
group (its domain), owners, kinds and tags as its code location declares them. In a
selection, `domain.product` may stand for `key:"domain/product"`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

import dagster as dg

from mesh_platform.dagster.factory import kinds, tags
from mesh_platform.errors import MeshError
from mesh_platform.loader.mesh import Mesh
from mesh_platform.spec.workspace import Key

_PLAIN = re.compile(r"^[A-Za-z_][\w-]*(\.[A-Za-z_]\w*)?$")
# A quoted string (left as is), or `domain.product` outside quotes.
_DOTTED = re.compile(r'"[^"]*"|(?<![\w/:.@"])([A-Za-z_]\w*)\.([A-Za-z_]\w*)(?![\w/.@"])')
_QUOTED_KEY = re.compile(r'key:"([^"]*)"|key:([\w/*]+)')
EXAMPLES = (
    "targets are DOMAIN, DOMAIN.PRODUCT or a Dagster asset selection such as "
    "'key:\"sales/*\"', '+key:\"sales/customer_revenue\"', 'tag:visibility=published', "
    "'owner:\"team:sales-analytics\"' or 'group:finance' (docs/materializing.md)"
)


class SelectionError(MeshError):
    """A target names nothing that can be materialized; the message says what is close."""


def select(mesh: Mesh, targets: str | Sequence[str] | None) -> list[Key]:
    """Products named by `targets` (None or empty: all), in dependency order."""
    if targets is None or (not isinstance(targets, str) and not targets):
        return list(mesh.order)
    chosen: set[Key] = set()
    for target in [targets] if isinstance(targets, str) else targets:
        chosen |= _one(mesh, target.strip())
    return [key for key in mesh.order if key in chosen]


def _one(mesh: Mesh, target: str) -> set[Key]:
    if not _PLAIN.match(target):
        return _selection(mesh, target)
    if "." in target:
        try:
            return {mesh.product(target).spec.key}
        except KeyError as exc:
            reason = str(exc.args[0])
            problem = reason if "left out" in reason or "does not load" in reason else None
            raise SelectionError(
                _unknown(mesh, target, problem or f"no product {target!r}")
            ) from None
    if target in mesh.domains:
        found = {s.spec.key for s in mesh.of_domain(target)}
        if not found:
            raise SelectionError(f"domain {target} has no product that loads; see `mesh validate`")
        return found
    if target in mesh.broken_domains:
        raise SelectionError(
            f"domain {target} does not load: {mesh.broken_domains[target]}; see `mesh validate`"
        )
    raise SelectionError(_unknown(mesh, target, f"no domain or product {target!r}"))


def _names(mesh: Mesh) -> list[str]:
    keys = [*mesh.products, *mesh.excluded]
    return sorted({*mesh.domains, *(".".join(k) for k in keys)})


def _unknown(mesh: Mesh, target: str, problem: str) -> str:
    if "left out" in problem or "does not load" in problem:
        return problem
    names = _names(mesh)
    close = difflib.get_close_matches(target, names, n=3, cutoff=0.6)
    # A product named without its domain: `customer_revenue` for `sales.customer_revenue`.
    close += [n for n in names if n.endswith(f".{target}") and n not in close]
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return f"{problem}{hint}\n  fix: {EXAMPLES}; see `mesh list`"


def asset_graph(mesh: Mesh) -> dg.Definitions:
    """The mesh's products as (never executed) assets: keys, edges, groups, owners, kinds, tags."""
    assets = []
    for key in mesh.order:
        spec, plan = mesh.products[key].spec, mesh.plans[key]
        asset = dg.AssetSpec(
            dg.AssetKey(list(key)),
            deps=[dg.AssetKey(list(ref)) for ref in sorted(mesh.upstream(key))],
            group_name=spec.domain,
            owners=list(spec.owners),
            kinds=kinds(spec, plan),
            tags=tags(spec, plan),
        )
        assets.append(dg.multi_asset(specs=[asset], name=f"{key[0]}__{key[1]}")(_never_run))
    return dg.Definitions(assets=assets)


def _never_run() -> None:  # pragma: no cover - the graph is only resolved, never executed
    raise NotImplementedError


def _selection(mesh: Mesh, text: str) -> set[Key]:
    from dagster._core.definitions.asset_selection import DagsterInvalidAssetSelectionError

    def key_of(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)
        key = (match.group(1), match.group(2))
        if key in mesh.excluded:
            raise SelectionError(f"{'.'.join(key)} is left out: {mesh.excluded[key]}")
        return f'key:"{key[0]}/{key[1]}"' if key in mesh.products else match.group(0)

    rewritten = _DOTTED.sub(key_of, text)
    try:
        selection = dg.AssetSelection.from_string(rewritten)
        found = selection.resolve(asset_graph(mesh).resolve_asset_graph())
    except DagsterInvalidAssetSelectionError:
        raise SelectionError(
            f"{text!r} is not a domain, a product or a Dagster asset selection\n  fix: {EXAMPLES}"
        ) from None
    except dg.DagsterInvalidSubsetError:
        raise SelectionError(_unknown(mesh, text, f"{text!r} names no product")) from None
    keys = {(k.path[0], k.path[1]) for k in found if len(k.path) == 2}
    if not keys:
        named = [a or b for a, b in _QUOTED_KEY.findall(text)]
        wanted = named[0].replace("/", ".").rstrip("*.") if named else text
        raise SelectionError(_unknown(mesh, wanted, f"{text!r} selects no product"))
    return keys
