"""Where a mesh lives on disk: `<root>/domains/<domain>/` folders, each a code location.

Everything here reads only the files it is asked about: one domain folder, or one product of
another domain, never the whole tree (a code location must not grow with the mesh).
"""

from __future__ import annotations

from pathlib import Path

from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.spec import discovery
from mesh_platform.spec.discovery import DomainFiles, UnknownProduct, read_domain_files
from mesh_platform.spec.loading import DOMAIN_FILE, DomainSource, ProductSource, load_domain_spec
from mesh_platform.spec.model import DomainSpec

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
    """Read one domain folder: its domain file and every product spec in it; raises
    SpecErrors with every error of every file."""
    files = domain_files(root, domain)
    if files.errors:
        raise SpecErrors(list(files.errors))
    return files.source


def domain_files(root: Path, domain: str) -> DomainFiles:
    """One domain folder read file by file: the products of the files that load and every
    error (`discovery.read_domain_files`); raises only when the domain file does not load."""
    folder = domain_folder(root, domain)
    if not folder.is_dir():
        raise SpecError(
            f"no domain {domain!r} under {root / DOMAINS_DIR}",
            file=folder / DOMAIN_FILE,
            fix=f"check the name, or create {DOMAINS_DIR}/{domain}/{DOMAIN_FILE}",
        )
    return read_domain_files(folder, domain_package(domain))


def product_names(root: Path, domain: str) -> list[str]:
    """The names of a domain's products (YAML file names; Python modules are imported, those
    that do not load left out: the domain's own load reports them)."""
    folder = domain_folder(root, domain)
    if not (folder / DOMAIN_FILE).is_file():
        return []
    try:
        spec: DomainSpec | None = load_domain_spec(folder)
    except SpecError:
        spec = None  # the domain's own load reports its domain file
    return discovery.product_names(folder, spec, domain_package(domain))


def load_product(root: Path, key: Key) -> ProductSource:
    """Read one product of a domain, without reading the domain's other product files.

    A YAML product is `products/<name>.yaml`; otherwise the domain's Python product modules
    are imported to find it. `UnknownProduct` when the domain or the product does not exist;
    when no file defines it and a module does not load, that module's error.
    """
    domain, name = key
    folder = domain_folder(root, domain)
    if not (folder / DOMAIN_FILE).is_file():
        raise UnknownProduct(
            f"no domain {domain!r} under {root / DOMAINS_DIR}",
            file=folder / DOMAIN_FILE,
            fix="check the name with `mesh list`",
        )
    spec = load_domain_spec(folder)
    return discovery.find_product(folder, spec, domain_package(domain), name)
