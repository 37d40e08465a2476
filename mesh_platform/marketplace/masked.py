"""How a reader of another domain without clearance sees a product's columns, for its page."""

from __future__ import annotations

from collections.abc import Mapping


def uncleared_marks(
    producer: str,
    tags: Mapping[str, tuple[str, ...]],
    spec_tags: Mapping[str, str],
    types: Mapping[str, str],
) -> dict[str, str]:
    """The columns a reader of another domain without clearance does not see in clear, and
    how (the access policy's decision, `access/policy.py` `uncleared_view`):
    `masked (redact): tag 'pii': clear for clearance 'pii'`, `hidden: ...`."""
    from mesh_platform.access.policy import uncleared_view

    view = uncleared_view(producer, tags, spec_tags, types)
    if not view.readable:
        return {name: f"hidden: {view.because}" for name in tags}
    return {
        c.column: f"masked ({c.step.use}): {c.because}"
        if c.action == "masked" and c.step is not None
        else f"hidden: {c.because}"
        for c in view.columns
        if c.action != "clear"
    }
