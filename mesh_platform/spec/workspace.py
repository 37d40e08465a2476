"""Where a mesh lives on disk: `<root>/domains/<domain>/` folders, each a code location.

Everything here reads only the files it is asked about: one domain folder, or one product of
another domain, never the whole tree (a code location must not grow with the mesh).
"""

from __future__ import annotations

from pathlib import Path

from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.spec.loading import (
    DOMAIN_FILE,
    PRODUCTS_DIR,
    DomainSource,
    ProductSource,
    load_domain_source,
    load_domain_spec,
    load_product_module,
    load_product_yaml,
)

DOMAINS_DIR = "domains"
Key = tuple[str, str]


def repo_root() -> Path:
    """The checkout this package was installed from: the folder that holds `domains/`."""
    return Path(__file__).resolve().parents[2]


def domain_folder(root: Path, domain: str) -> Path:
    """The folder of `domain` under the mesh `root`."""
    return root / DOMAINS_DIR / domain


def domain_package(domain: str) -> str:
    """The Python package of a domain's folder (for Python products and steps)."""
    return f"{DOMAINS_DIR}.{domain}"


def discover_domains(root: Path) -> list[Path]:
    """Domain folders: `<root>/domains/<name>/` holding a domain.yaml (or a misnamed
    domain.yml, which the load then reports)."""
    base = root / DOMAINS_DIR
    found = {p.parent for name in (DOMAIN_FILE, "domain.yml") for p in base.glob(f"*/{name}")}
    return sorted(found)


def find_domain_folder(start: Path) -> Path | None:
    """The domain folder holding `start` (a file or folder inside it), if any."""
    for folder in (start, *start.parents):
        if (folder / DOMAIN_FILE).is_file() and folder.parent.name == DOMAINS_DIR:
            return folder
    return None


def read_domain(root: Path, domain: str) -> DomainSource:
    """Read one domain folder: its domain file and every product spec in it."""
    folder = domain_folder(root, domain)
    if not folder.is_dir():
        raise SpecError(
            f"no domain {domain!r} under {root / DOMAINS_DIR}",
            file=folder / DOMAIN_FILE,
            fix=f"check the name, or create {DOMAINS_DIR}/{domain}/{DOMAIN_FILE}",
        )
    return load_domain_source(folder, domain_package(domain))


def product_exists(root: Path, key: Key) -> bool:
    """Whether `key` names a product: its YAML file, or (for Python products) a name found by
    `product_names`."""
    folder = domain_folder(root, key[0])
    if not (folder / DOMAIN_FILE).is_file():
        return False
    if (folder / PRODUCTS_DIR / f"{key[1]}.yaml").is_file():
        return True
    return key[1] in product_names(root, key[0])


def product_names(root: Path, domain: str) -> list[str]:
    """The names of a domain's products (YAML file names; Python modules are imported)."""
    folder = domain_folder(root, domain)
    products = folder / PRODUCTS_DIR
    if not (folder / DOMAIN_FILE).is_file() or not products.is_dir():
        return []
    names = [p.stem for p in sorted(products.glob("*.yaml"))]
    try:
        spec = load_domain_spec(folder)
        for path in sorted(products.glob("*.py")):
            if not path.name.startswith("_"):
                module = f"{domain_package(domain)}.{PRODUCTS_DIR}.{path.stem}"
                names += [s.spec.name for s in load_product_module(module, path, spec)]
    except (SpecError, SpecErrors):
        pass  # the domain's own load reports its errors; here we only look for names
    return names


def load_product(root: Path, key: Key) -> ProductSource:
    """Read one product of a domain, without reading the domain's other product files.

    A YAML product is `products/<name>.yaml`; otherwise the domain's Python product modules
    are imported to find it.
    """
    domain, name = key
    folder = domain_folder(root, domain)
    spec = load_domain_spec(folder)
    products = folder / PRODUCTS_DIR
    yaml_path = products / f"{name}.yaml"
    if yaml_path.is_file():
        return load_product_yaml(yaml_path, spec)
    for path in sorted(products.glob("*.py")) if products.is_dir() else []:
        if path.name.startswith("_"):
            continue
        module = f"{domain_package(domain)}.{PRODUCTS_DIR}.{path.stem}"
        for source in load_product_module(module, path, spec):
            if source.spec.name == name:
                return source
    raise SpecErrors(
        [
            SpecError(
                f"domain {domain!r} has no product {name!r}",
                file=products,
                fix="check the name with `mesh list --domain " + domain + "`",
            )
        ]
    )
