"""Reading a domain's files: its domain file and each product spec, YAML or Python.

`discovery` finds a domain's product files and reads each through here.
"""

from __future__ import annotations

import importlib
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.sandbox import domain_code
from mesh_platform.spec.governance import granted_clearances, mesh_root_of
from mesh_platform.spec.model import DomainSpec, ProductSpec
from mesh_platform.spec.sequences import expand
from mesh_platform.spec.validation import validation_errors, written_loc
from mesh_platform.spec.yaml_source import YamlDocument, read_yaml, to_plain

DOMAIN_FILE = "domain.yaml"
PRODUCTS_DIR = "products"


@dataclass(frozen=True)
class ProductSource:
    """A product spec and where it was written, for errors that point at a line."""

    spec: ProductSpec
    path: Path
    document: YamlDocument | None = field(default=None, compare=False)
    # Per expanded step: (its index as written, whether an `include:` produced it).
    step_origins: tuple[tuple[int, bool], ...] = field(default=(), compare=False)

    def _written(self, loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
        return written_loc(self.step_origins, loc)

    def line_of(self, *loc: str | int) -> int | None:
        """The line of a field (e.g. `line_of("inputs", "orders")`), when written in YAML."""
        return self.document.line_of(self._written(loc)) if self.document else None

    def sql_start_line(self, step_index: int) -> int | None:
        """The line on which the SQL text of step `step_index` starts (None if included)."""
        if self.document is None:
            return None
        loc = self._written(("steps", step_index, "sql"))
        return self.document.block_start_line(loc) if len(loc) == 3 else None

    def error(self, message: str, *loc: str | int, fix: str | None = None) -> SpecError:
        """A SpecError about this product, pointing at the field `loc`."""
        return SpecError(message, file=self.path, line=self.line_of(*loc), fix=fix)


@dataclass(frozen=True)
class DomainSource:
    """A domain folder: its spec and its products."""

    spec: DomainSpec
    folder: Path
    products: tuple[ProductSource, ...]


def load_domain_spec(folder: Path) -> DomainSpec:
    """Read and validate `<folder>/domain.yaml`."""
    path = folder / DOMAIN_FILE
    misnamed = folder / "domain.yml"
    if not path.exists() and misnamed.exists():
        raise SpecError(
            "the domain file is named domain.yml; Mesh reads domain.yaml",
            file=misnamed,
            fix=f"rename it: mv {misnamed} {path}",
        )
    if not path.exists():
        raise SpecError(
            f"domain folder {folder.name!r} has no {DOMAIN_FILE}",
            file=path,
            fix=f"create {DOMAIN_FILE} with `name: {folder.name}` and `team: <team>`",
        )
    document = read_yaml(path)
    try:
        spec = DomainSpec.model_validate(to_plain(document.data))
    except ValidationError as exc:
        raise SpecErrors(validation_errors(exc, path, document)) from None
    if spec.name != folder.name:
        raise SpecError(
            f"domain name {spec.name!r} differs from its folder {folder.name!r}",
            file=path,
            line=document.line_of(["name"]),
            fix=f"write `name: {folder.name}`",
        )
    # A domain's clearances are the platform team's grants, never its own file's.
    granted = granted_clearances(mesh_root_of(folder), spec.name)
    return spec.with_granted_clearances(granted, spec.clearances)


def load_product_yaml(path: Path, domain: DomainSpec, text: str | None = None) -> ProductSource:
    """Read one YAML product spec; the domain fills in what the spec leaves out. `text`, when
    given, is read in place of the file's contents (the builder's unsaved draft)."""
    document = read_yaml(path, text)
    raw: dict[str, Any] = to_plain(document.data)
    if "domain" in raw and raw["domain"] != domain.name:
        raise SpecError(
            f"product says domain {raw['domain']!r} but lives in domain {domain.name!r}",
            file=path,
            line=document.line_of(["domain"]),
            fix="remove the `domain:` field: the folder decides the domain",
        )
    raw["domain"] = domain.name
    origins: list[tuple[int, bool]] = []
    if isinstance(raw.get("steps"), list):
        raw["steps"], origins = expand(raw["steps"], path, lambda i: document.line_of(["steps", i]))
    try:
        spec = ProductSpec.model_validate(raw)
    except ValidationError as exc:
        raise SpecErrors(validation_errors(exc, path, document, origins=origins)) from None
    if spec.name != path.stem:
        raise SpecError(
            f"product name {spec.name!r} differs from its file name {path.stem!r}",
            file=path,
            line=document.line_of(["name"]),
            fix=f"rename the file to {spec.name}.yaml or write `name: {path.stem}`",
        )
    return ProductSource(stamp_domain_defaults(spec, domain), path, document, tuple(origins))


def load_product_module(module_name: str, path: Path, domain: DomainSpec) -> list[ProductSource]:
    """Python-authored products: a module's `product` (or `products`) ProductSpec values.

    The module is imported in the sandbox (`sandbox/domain_code.py`: it cannot read the lake,
    the landing files or the network) and its values come back as JSON, validated again here;
    in this process only with `MESH_SANDBOX=off`. A module that does not import (syntax
    error, missing import, an invalid `ProductSpec`, a refused read) is a SpecError naming the
    file and line, not a traceback.
    """
    if domain_code.enabled():
        found = _sandboxed_values(module_name, path)
    else:
        found = _imported_values(module_name, path)
    sources = []
    for spec in found:
        if not isinstance(spec, ProductSpec):
            raise SpecError(
                "a Python product module must define `product = ProductSpec(...)`",
                file=path,
                fix="see docs/product-spec.md, 'Python products'",
            )
        if spec.domain != domain.name:
            raise SpecError(
                f"product {spec.name!r} says domain {spec.domain!r} but lives in {domain.name!r}",
                file=path,
                fix=f"write domain={domain.name!r}",
            )
        sources.append(ProductSource(stamp_domain_defaults(spec, domain), path))
    return sources


def _imported_values(module_name: str, path: Path) -> list[object]:
    """The module's product values, imported in this process (`MESH_SANDBOX=off`)."""
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        raise _syntax_error(path, exc.msg, exc.lineno) from None
    except ValidationError as exc:
        raise _invalid(exc, path, _traceback_line(exc, path)) from None
    except Exception as exc:
        raise _not_imported(module_name, path, exc, _traceback_line(exc, path)) from None
    return list(getattr(module, "products", None) or [getattr(module, "product", None)])


def _sandboxed_values(module_name: str, path: Path) -> list[object]:
    """The module's product values, imported in a sandboxed child and validated again."""
    try:
        found = domain_code.import_values(module_name, ["products", "product"], ProductSpec)
    except ModuleNotFoundError as exc:  # not located
        raise _not_imported(module_name, path, exc, None) from None
    except domain_code.DomainCodeFailed as exc:
        raise _sandbox_error(module_name, path, exc.failure) from None
    values: list[object] = []
    for value in found:
        if "json" not in value:
            values.append(value.get("type"))
            continue
        try:
            values.append(ProductSpec.model_validate(value["json"]))
        except ValidationError as exc:
            raise _invalid(exc, path, None) from None
    return values


def _sandbox_error(module_name: str, path: Path, failure: domain_code.Failure) -> SpecError:
    line = failure.line_in(path)
    if failure.refused:
        return SpecError(
            f"the product module tried to {failure.refused}: product modules are imported in "
            "a sandbox that cannot read the lake, the landing files or the network",
            file=path,
            line=line,
            fix="declare the product with literal values; data reaches a product only through "
            "its inputs, at run time",
        )
    if failure.syntax is not None:
        return _syntax_error(path, failure.syntax.get("msg"), failure.syntax.get("lineno"))
    invalid = failure.validation_error()
    if invalid is not None:
        return _invalid(invalid, path, line)
    return _not_imported(module_name, path, f"{failure.type}: {failure.message}", line)


def _syntax_error(path: Path, message: object, line: object) -> SpecError:
    return SpecError(
        f"Python syntax error: {message}",
        file=path,
        line=line if isinstance(line, int) else None,
        fix="fix the syntax at this line",
    )


def _invalid(exc: ValidationError, path: Path, line: int | None) -> SpecErrors:
    return SpecErrors(
        [
            SpecError(e.problem, file=path, line=line, fix=e.fix)
            for e in validation_errors(exc, path, None)
        ]
    )


def _not_imported(
    module_name: str, path: Path, cause: BaseException | str, line: int | None
) -> SpecError:
    what = cause if isinstance(cause, str) else f"{type(cause).__name__}: {cause}"
    return SpecError(
        f"the module does not import: {what}",
        file=path,
        line=line,
        fix="fix the import or the code at this line; `python -c 'import "
        f"{module_name}'` shows the traceback",
    )


def _traceback_line(exc: BaseException, path: Path) -> int | None:
    """The line of `path` where `exc` was raised (its deepest frame in that file)."""
    line = None
    for frame, number in traceback.walk_tb(exc.__traceback__):
        if Path(frame.f_code.co_filename).resolve() == path.resolve():
            line = number
    return line


def stamp_domain_defaults(spec: ProductSpec, domain: DomainSpec) -> ProductSpec:
    """Owners (and nothing else a domain team must repeat) come from the domain file."""
    owners = spec.owners or (domain.default_owner, *domain.owners)
    return spec.model_copy(update={"owners": tuple(dict.fromkeys(owners))})
