"""Finding a domain's product files and reading each one: the one walk of `products/`.

Every reader of a domain's specs goes through here: the domain's own load (its code location,
`mesh validate`), one product of another domain (a consumer's published contract) and the
names of a domain's products. Each file is read on its own and gives its products or its
errors, so a bad file never hides another file's error nor the domain's other products.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mesh_platform.errors import SpecError, SpecErrors, every_error
from mesh_platform.spec.loading import (
    PRODUCTS_DIR,
    DomainSource,
    ProductSource,
    load_domain_spec,
    load_product_module,
    load_product_yaml,
)
from mesh_platform.spec.model import DomainSpec

PRODUCT_SUFFIXES = (".yaml", ".py")


class UnknownProduct(SpecError):
    """No product of that name exists."""


@dataclass(frozen=True)
class ProductFile:
    """One file of a domain's `products/`: the products it defines, or why it does not load."""

    path: Path
    products: tuple[ProductSource, ...] = ()
    errors: tuple[SpecError, ...] = ()


@dataclass(frozen=True)
class DomainFiles:
    """A domain folder read file by file: the products of the files that load, every error,
    and the products left out because their file does not load (`read_domain_files`)."""

    spec: DomainSpec
    folder: Path
    products: tuple[ProductSource, ...]
    errors: tuple[SpecError, ...] = ()
    left_out: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def source(self) -> DomainSource:
        """The domain with the products of its files that load."""
        return DomainSource(self.spec, self.folder, self.products)


def product_paths(folder: Path, suffixes: Iterable[str] = PRODUCT_SUFFIXES) -> list[Path]:
    """The product files of a domain folder: its YAML specs, then its Python modules (a
    module whose name starts with `_` is a helper, not a product), each sorted by name."""
    product_dir = folder / PRODUCTS_DIR
    if not product_dir.is_dir():
        return []
    return [
        path
        for suffix in suffixes
        for path in sorted(product_dir.glob(f"*{suffix}"))
        if suffix != ".py" or not path.name.startswith("_")
    ]


def unread_files(folder: Path) -> list[SpecError]:
    """Files in `products/` that Mesh would not read: each is an error, never a silent skip."""
    product_dir = folder / PRODUCTS_DIR
    if not product_dir.is_dir():
        return []
    errors = []
    for path in sorted(product_dir.iterdir()):
        if path.name.startswith((".", "__")) or path.suffix in PRODUCT_SUFFIXES:
            continue
        if path.suffix == ".yml":
            fix = f"rename it to {path.stem}.yaml"
        else:
            fix = "products are `<name>.yaml` specs or `<name>.py` modules; move other files out"
        errors.append(
            SpecError(f"{path.name} is not read: not a product spec file", file=path, fix=fix)
        )
    return errors


def read_product_file(path: Path, domain: DomainSpec, package: str) -> ProductFile:
    """The products of one file (a YAML spec, or a Python module of the domain's `package`),
    or its errors: it never raises a SpecError."""
    try:
        if path.suffix == ".yaml":
            return ProductFile(path, (load_product_yaml(path, domain),))
        module = f"{package}.{PRODUCTS_DIR}.{path.stem}"
        return ProductFile(path, tuple(load_product_module(module, path, domain)))
    except SpecError as exc:
        return ProductFile(path, errors=tuple(every_error(exc)))


def iter_product_sources(
    folder: Path, domain: DomainSpec, package: str, paths: Iterable[Path] | None = None
) -> Iterator[ProductFile]:
    """Each product file of the domain `folder`, read: its products or its errors.

    `paths`: only these files; by default every product file, after one error-only entry per
    file of `products/` that Mesh would not read.
    """
    if paths is None:
        for error in unread_files(folder):
            yield ProductFile(error.file or folder, errors=(error,))
        paths = product_paths(folder)
    for path in paths:
        yield read_product_file(path, domain, package)


def read_domain_files(folder: Path, package: str) -> DomainFiles:
    """Read a domain folder file by file, collecting every error of every file.

    A file with an error (its own, or a product name another file already defines) is left
    out whole. The domain file's own errors are raised: without it nothing can be read.
    """
    domain = load_domain_spec(folder)
    files = list(iter_product_sources(folder, domain, package))
    errors = [error for file in files for error in file.errors]
    bad = {file.path for file in files if file.errors}
    seen: dict[str, ProductSource] = {}
    for file in files:
        for product in file.products:
            first = seen.setdefault(product.spec.name, product)
            if first is not product:
                bad.add(file.path)
                errors.append(
                    product.error(
                        f"duplicate product name {product.spec.name!r}: also defined in "
                        f"{first.path}",
                        "name",
                        fix="give each product of a domain its own name",
                    )
                )
    products = tuple(p for f in files if f.path not in bad for p in f.products)
    left_out = {
        (domain.name, f.path.stem): f"its spec has errors ({f.path.name})"
        for f in files
        if f.path in bad and f.path.suffix in PRODUCT_SUFFIXES
    }
    return DomainFiles(domain, folder, products, tuple(errors), left_out)


def find_product(folder: Path, domain: DomainSpec, package: str, name: str) -> ProductSource:
    """One product of a domain folder, reading as few of its files as it can.

    `<name>.yaml` when it exists (its errors raised), else the Python modules until one
    defines it. When none does, a module that does not load may be the one: that is the
    error (naming the module), else `UnknownProduct`.
    """
    yaml_path = folder / PRODUCTS_DIR / f"{name}.yaml"
    if yaml_path.is_file():
        found = read_product_file(yaml_path, domain, package)
        if found.errors:
            raise SpecErrors(list(found.errors))
        return found.products[0]
    broken: list[ProductFile] = []
    modules = product_paths(folder, (".py",))
    for file in iter_product_sources(folder, domain, package, modules):
        broken += [file] if file.errors else []
        for source in file.products:
            if source.spec.name == name:
                return source
    if broken:
        raise _maybe_in(broken, folder, domain.name, name)
    raise UnknownProduct(
        f"domain {domain.name!r} has no product {name!r}",
        file=folder / PRODUCTS_DIR,
        fix=f"check the name with `mesh list --domain {domain.name}`",
    )


def _maybe_in(broken: list[ProductFile], folder: Path, domain: str, name: str) -> SpecError:
    """The error for a product no loading file defines while some module does not load."""
    root = folder.parent.parent
    first = broken[0].errors[0]
    names = ", ".join(str(shown_path(f.path, root)) for f in broken)
    verb = "does" if len(broken) == 1 else "do"
    return SpecError(
        f"{names} {verb} not load ({first.problem}), and no other product file of domain "
        f"{domain!r} defines {name!r}",
        file=broken[0].path,
        line=first.line,
        fix=f"the {domain} team fixes {shown_path(broken[0].path, root)} "
        "(`mesh validate` lists its errors)",
    )


def shown_path(path: Path, root: Path) -> Path:
    """`path` as a message shows it: relative to the mesh `root` when under it."""
    try:
        return path.resolve().relative_to(root.resolve())
    except ValueError:
        return path


def product_names(folder: Path, domain: DomainSpec | None, package: str) -> list[str]:
    """The names of a domain's products: its YAML files' names, and the products of its
    Python modules that load (the domain's own load reports those that do not); only the
    YAML files' when the domain file does not load (`domain` None)."""
    names = [path.stem for path in product_paths(folder, (".yaml",))]
    if domain is None:
        return names
    modules = product_paths(folder, (".py",))
    for file in iter_product_sources(folder, domain, package, modules):
        names += [source.spec.name for source in file.products]
    return names
