"""What a consumer's quality rules may compare: only what its domain sees.

A `references` rule checks that each of the product's values exists in an input's column. The
rule runs with the platform's rights, so against a column the access policy masks or hides for
the consumer it would compare the consumer's values with the producer's clear ones, and its
failing rows would say which guessed values exist: an oracle for a domain without clearance.
Such a rule is refused when the product loads (`mesh validate`, every code location), with
the reason; a reference to a column the consumer sees in clear (a key) is what the rule is for.
"""

from __future__ import annotations

from collections.abc import Mapping

from mesh_platform.access.policy import ColumnAccess
from mesh_platform.compile.rules import reference_port
from mesh_platform.spec.loading import ProductSource


def refuse_masked_references(
    source: ProductSource, protected: Mapping[str, Mapping[str, ColumnAccess]]
) -> None:
    """A SpecError for the first `references` rule of `source` against a column that the
    policy does not let its domain see in clear (`protected`: input port -> column -> what
    the domain sees of it, as `ProductAccess.masked()` gives)."""
    spec = source.spec
    refs = spec.input_refs()
    for index, rule in enumerate(spec.quality):
        if rule.rule != "references":
            continue
        port = reference_port(spec, rule)
        column = rule.ref_column or rule.column or ""
        decided = protected.get(port or "", {}).get(column)
        if port is None or decided is None:
            continue
        how = "hides" if decided.action == "hidden" else "masks"
        raise source.error(
            f"quality rule {rule.check_name!r} compares {spec.qualified_name}'s values with "
            f"{'.'.join(refs[port])}.{column}, which the access policy {how} for the "
            f"{spec.domain} domain ({decided.because}): the rule reads the clear column, so its "
            "failing rows would tell which guessed values exist",
            "quality",
            index,
            "ref_column" if rule.ref_column else "product",
            fix="reference a column the domain sees in clear (a key such as an id), or ask the "
            f"platform team for the clearance (`mesh request-clearance {spec.domain} CLEARANCE "
            "--reason ...`; granted in governance/clearances.yaml; docs/access.md)",
        )
