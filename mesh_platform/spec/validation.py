"""Pydantic validation errors as SpecErrors that point at the file and line a person wrote."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from mesh_platform.errors import SpecError
from mesh_platform.spec.fields import FIX_KEY
from mesh_platform.spec.yaml_source import YamlDocument


def written_loc(
    origins: Sequence[tuple[int, bool]], loc: Sequence[str | int]
) -> tuple[str | int, ...]:
    """A location in the expanded steps, as written: an included step points at its include."""
    loc = tuple(loc)
    if len(loc) < 2 or loc[0] != "steps" or not isinstance(loc[1], int):
        return loc
    if loc[1] >= len(origins):
        return loc
    index, included = origins[loc[1]]
    return ("steps", index) if included else ("steps", index, *loc[2:])


def validation_errors(
    exc: ValidationError,
    path: Path,
    document: YamlDocument | None,
    prefix: Sequence[str | int] = (),
    origins: Sequence[tuple[int, bool]] = (),
) -> list[SpecError]:
    """Pydantic errors as SpecErrors with file, line and a fix (`origins`: see expand)."""
    errors = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS)]
        dotted = ".".join(str(p) for p in loc) or "(top level)"
        line = document.line_of(written_loc(origins, [*prefix, *loc])) if document else None
        kind = err["type"]
        fix: str | None
        if kind == "missing":
            message, fix = f"missing required field `{dotted}`", f"add `{loc[-1]}:` to the spec"
        elif kind == "extra_forbidden":
            message = f"unknown field `{dotted}`"
            fix = "remove it or check its spelling against docs/product-spec.md"
        else:
            msg = err["msg"].removeprefix("Value error, ")
            message = f"field `{dotted}`: {msg}"
            fix = (err.get("ctx") or {}).get(FIX_KEY) or _fix_for(kind)
        errors.append(SpecError(message, file=path, line=line, fix=fix))
    return errors


_UNION_TAGS = {"sql", "use", "python", "function-after[check_name(), str]"}


def _fix_for(kind: str) -> str | None:
    if kind.endswith("_type") or kind.endswith("_parsing"):
        return "give a value of the type shown in docs/product-spec.md"
    if kind == "literal_error":
        return "use one of the allowed values listed above"
    return None
