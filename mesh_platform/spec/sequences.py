"""Reusable step sequences: named, parameterized lists of steps included by reference.

A sequence is a YAML file, published by the platform (`standards/sequences/<name>.yaml`) or
local to a domain (`domains/<domain>/sequences/<name>.yaml`, found first). A product includes
it with `- include: <name>` and `with: {param: value}`. Its `steps` text is a Jinja template:
it is rendered with the parameters and parsed at load, so validation, lineage and tags see the
real steps. Lists render as YAML flow lists, so `columns: {{ columns }}` just works.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import jinja2
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from ruamel.yaml import YAML

from mesh_platform.errors import SpecError
from mesh_platform.registry import registry
from mesh_platform.spec.validation import validation_errors
from mesh_platform.spec.yaml_source import read_yaml, to_plain

SEQUENCES_DIR = "sequences"
MAX_DEPTH = 5
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

ParamType = Literal["string", "number", "boolean", "column", "columns", "list"]


class SequenceParam(BaseModel):
    """A declared parameter: its type, default (none = required) and meaning."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: ParamType = "string"
    default: Any = None
    required: bool = True
    description: str = ""


class SequenceSpec(BaseModel):
    """A step sequence file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str = "1.0.0"
    description: str
    params: dict[str, SequenceParam] = Field(default_factory=dict)
    steps: str = Field(description="Jinja template of a YAML list of steps")
    example: str = ""


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "column": lambda v: isinstance(v, str) and bool(_IDENT.match(v)),
    "columns": lambda v: (
        isinstance(v, list) and all(isinstance(c, str) and _IDENT.match(c) for c in v)
    ),
    "list": lambda v: isinstance(v, list),
}


@functools.lru_cache(maxsize=64)
def _read(path: Path) -> SequenceSpec:
    document = read_yaml(path)
    try:
        spec = SequenceSpec.model_validate(to_plain(document.data))
    except ValidationError as exc:
        raise validation_errors(exc, path, document)[0] from None
    if spec.name != path.stem:
        raise SpecError(
            f"sequence name {spec.name!r} differs from its file name {path.stem!r}",
            file=path,
            fix=f"write `name: {path.stem}`",
        )
    return spec


def is_sequence_name(name: str) -> bool:
    """Whether `name` names a sequence file of a sequences folder, not a path leaving it."""
    return bool(name) and not name.startswith(".") and not any(c in name for c in "/\\")


def find_sequence(name: str, domain_folder: Path | None) -> tuple[SequenceSpec, Path] | None:
    """The sequence `name`: the domain's own first, then the platform's."""
    if not is_sequence_name(name):
        return None  # a path is never looked up: an include cannot leave the sequences folders
    folders = [domain_folder / SEQUENCES_DIR] if domain_folder else []
    for folder in [*folders, *registry().sequence_folders]:
        path = folder / f"{name}.yaml"
        if path.is_file():
            return _read(path), path
    return None


def available(domain_folder: Path | None = None) -> list[SequenceSpec]:
    """Every sequence visible from a domain (all platform ones when no domain is given)."""
    own = [domain_folder / SEQUENCES_DIR] if domain_folder else []
    folders = [*registry().sequence_folders, *own]
    found = {p.stem: p for folder in folders for p in sorted(folder.glob("*.yaml"))}
    return [_read(found[name]) for name in sorted(found)]


def render(spec: SequenceSpec, given: dict[str, Any]) -> list[Any]:
    """The sequence's steps for these parameters; ValueError names each bad parameter."""
    unknown = sorted(set(given) - set(spec.params))
    if unknown:
        raise ValueError(
            f"sequence {spec.name!r} has no parameter(s) {', '.join(unknown)}; "
            f"its parameters: {', '.join(spec.params) or '(none)'}"
        )
    values: dict[str, Any] = {}
    for name, param in spec.params.items():
        if name in given:
            value = given[name]
            if not _CHECKS[param.type](value):
                raise ValueError(
                    f"sequence {spec.name!r}: parameter {name!r} must be a {param.type}"
                    f"{' (column names)' if param.type.startswith('column') else ''}, "
                    f"got {value!r}"
                )
            values[name] = value
        elif param.default is not None or not param.required:
            values[name] = param.default
        else:
            raise ValueError(f"sequence {spec.name!r}: missing required parameter {name!r}")
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=lambda v: json.dumps(v) if isinstance(v, list | dict) else v,
    )
    try:
        text = env.from_string(spec.steps).render(**values)
    except jinja2.TemplateError as exc:
        raise ValueError(f"sequence {spec.name!r} does not render: {exc}") from None
    steps = YAML(typ="safe").load(text)
    if not isinstance(steps, list):
        raise ValueError(f"sequence {spec.name!r}: `steps` must render to a YAML list of steps")
    return steps


Origin = tuple[int, bool]  # (index of the step as written, whether it came from an include)


def expand(
    steps: list[Any], product: Path, line_of: Callable[[int], int | None], depth: int = 0
) -> tuple[list[Any], list[Origin]]:
    """Steps with every `- include:` replaced by the sequence's rendered steps."""
    domain_folder = product.parent.parent
    out: list[Any] = []
    origins: list[Origin] = []
    for index, step in enumerate(steps):
        if not (isinstance(step, dict) and "include" in step):
            out.append(step)
            origins.append((index, False))
            continue
        name = str(step["include"])
        found = find_sequence(name, domain_folder)
        error = _include_problem(step, name, found, domain_folder, depth)
        if error is not None:
            raise SpecError(error[0], file=product, line=line_of(index), fix=error[1])
        assert found is not None
        try:
            rendered = render(found[0], dict(step.get("with") or {}))

            def at_include(_nested: int, line: int | None = line_of(index)) -> int | None:
                return line  # nested includes are reported at the product's include line

            rendered, _ = expand(rendered, product, at_include, depth + 1)
        except ValueError as exc:
            raise SpecError(
                str(exc),
                file=product,
                line=line_of(index),
                fix=f"see the parameters of {found[1].name} (`mesh standards`)",
            ) from None
        out.extend(rendered)
        origins.extend((index, True) for _ in rendered)
    return out, origins


def _include_problem(
    step: dict[str, Any],
    name: str,
    found: tuple[SequenceSpec, Path] | None,
    domain_folder: Path,
    depth: int,
) -> tuple[str, str] | None:
    """What is wrong with an `- include:` step, and the fix; None when it can be expanded."""
    extra = sorted(set(step) - {"include", "with"})
    if extra:
        return (
            f"an include takes only `include:` and `with:`, not {', '.join(extra)}",
            "move step settings into the sequence",
        )
    if not is_sequence_name(name):
        stem = re.split(r"[/\\]", name)[-1].removesuffix(".yaml") or "<name>"
        return (
            f"include {name!r} is a path: an include cannot leave the sequences folders "
            f"(`standards/sequences/` or the domain's own `{SEQUENCES_DIR}/`)",
            f"write `include: {stem}`, with the sequence in "
            f"domains/{domain_folder.name}/{SEQUENCES_DIR}/{stem}.yaml (the domain's own) or in "
            "standards/sequences/ (published by the platform team, see `mesh standards`)",
        )
    if found is None:
        known = ", ".join(s.name for s in available(domain_folder)) or "(none)"
        return (
            f"unknown step sequence {name!r}",
            f"use one of: {known} (see `mesh standards`), or add "
            f"domains/<domain>/{SEQUENCES_DIR}/{name}.yaml",
        )
    given = step.get("with")
    if given is not None and not isinstance(given, dict):
        params = found[0].params
        example = ", ".join(
            f"{p}: {'[...]' if spec.type in ('columns', 'list') else '...'}"
            for p, spec in params.items()
        )
        return (
            f"include {name!r}: `with:` must be a mapping of parameter: value, not a "
            f"{_KINDS.get(type(given), type(given).__name__)}",
            f"write `with: {{{example}}}`; the parameters of {name}: "
            f"{', '.join(params) or '(none)'} (`mesh standards`)",
        )
    if depth >= MAX_DEPTH:
        return (
            f"sequence {name!r} includes sequences more than {MAX_DEPTH} deep",
            "check for a sequence that includes itself",
        )
    return None


_KINDS: dict[type, str] = {
    list: "list", str: "string", bool: "boolean", int: "number", float: "number"
}  # fmt: skip
