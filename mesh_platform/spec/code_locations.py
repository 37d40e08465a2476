"""`workspace.yaml`: the code locations `mesh up` serves, one per domain folder.

A domain folder that is not listed there loads in `mesh validate`, `mesh test` and
`mesh materialize` but never shows in the UI, so `check_workspace` (run by `mesh validate`)
compares the file with the folders, and `register_domain` (run by `mesh scaffold domain`) adds
an entry, keeping the file's comments and layout.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mesh_platform.errors import SpecError
from mesh_platform.spec.loading import DOMAIN_FILE
from mesh_platform.spec.workspace import DOMAINS_DIR, discover_domains

WORKSPACE_FILE = "workspace.yaml"
DEFINITIONS_FILE = "definitions.py"


def definitions_module(domain: str) -> str:
    """The module a domain's code location loads: `domains.<domain>.definitions`."""
    return f"{DOMAINS_DIR}.{domain}.{DEFINITIONS_FILE.removesuffix('.py')}"


@dataclass(frozen=True)
class Location:
    """One entry of `load_from:` in workspace.yaml."""

    kind: str  # python_module, python_file, python_package, grpc_server, ...
    target: str  # the module, file or package it loads ("" when none is named)
    name: str | None  # its location_name
    line: int | None

    @property
    def domain(self) -> str | None:
        """The domain folder this entry loads, if it names one (`domains.<d>.definitions` or
        `domains/<d>/definitions.py`)."""
        if self.kind == "python_module":
            parts = self.target.split(".")
            if len(parts) == 3 and parts[0] == DOMAINS_DIR and parts[2] == "definitions":
                return parts[1]
        if self.kind == "python_file":
            path = Path(self.target).parts
            if len(path) == 3 and path[0] == DOMAINS_DIR and path[2] == DEFINITIONS_FILE:
                return path[1]
        return None


def read_locations(root: Path) -> list[Location]:
    """The entries of `<root>/workspace.yaml`; a SpecError when it is missing or malformed."""
    from mesh_platform.spec.yaml_source import read_yaml, to_plain

    path = root / WORKSPACE_FILE
    if not path.is_file():
        raise SpecError(
            f"no {WORKSPACE_FILE} beside {DOMAINS_DIR}/",
            file=path,
            fix="create it with `load_from:` and one `python_module:` entry per domain "
            "(`mesh scaffold domain NAME` adds one)",
        )
    fix = "write `load_from:` followed by one `- python_module:` entry per domain"
    no_list = "the file has no `load_from:` list of code locations"
    try:
        document = read_yaml(path)
    except SpecError as exc:
        if exc.line == 1 and "mapping" in exc.problem:  # empty, or not a mapping
            raise SpecError(no_list, file=path, fix=fix) from None
        raise
    entries = document.data.get("load_from")
    if not isinstance(entries, list):
        raise SpecError(no_list, file=path, line=document.line_of(["load_from"]), fix=fix)
    found = []
    for index, entry in enumerate(entries):
        plain: Any = to_plain(entry)
        kind, body = next(iter(plain.items())) if isinstance(plain, dict) and plain else ("", {})
        body = body if isinstance(body, dict) else {"module_name": body}
        target = body.get("module_name") or body.get("relative_path") or ""
        target = target or body.get("package_name") or body.get("host") or ""
        line = document.line_of(["load_from", index])
        found.append(Location(str(kind), str(target), body.get("location_name"), line))
    return found


def check_workspace(root: Path) -> list[SpecError]:
    """Every mismatch between the domain folders under `root` and its workspace.yaml.

    A domain folder (one holding a domain.yaml) must be listed exactly once, as the module
    `domains.<domain>.definitions` (or the file `domains/<domain>/definitions.py`), and that
    file must exist; every entry must name such a folder. A `grpc_server` entry (a location
    served elsewhere) is not checked.
    """
    path = root / WORKSPACE_FILE
    try:
        locations = read_locations(root)
    except SpecError as exc:
        return [exc]
    folders = {folder.name: folder for folder in discover_domains(root)}
    errors, listed = _check_entries(path, locations, folders)
    return errors + _check_folders(path, folders, listed)


def _check_entries(
    path: Path, locations: list[Location], folders: dict[str, Path]
) -> tuple[list[SpecError], dict[str, Location]]:
    """The errors of the file's entries (no such folder, listed twice, misnamed), and the
    entry of each domain folder listed."""
    errors: list[SpecError] = []
    listed: dict[str, Location] = {}
    for location in locations:
        domain = location.domain
        if location.kind == "grpc_server":
            continue
        if domain is None or domain not in folders:
            errors.append(_no_domain_folder(path, location))
            continue
        if domain in listed:
            errors.append(
                SpecError(
                    f"domain {domain!r} is listed twice (also at line {listed[domain].line})",
                    file=path,
                    line=location.line,
                    fix="keep one entry per domain",
                )
            )
            continue
        listed[domain] = location
        if location.name not in (None, domain):
            errors.append(
                SpecError(
                    f"the code location of domain {domain!r} is named {location.name!r}",
                    file=path,
                    line=location.line,
                    fix=f"name it after its domain: `location_name: {domain}`",
                )
            )
    return errors, listed


def _no_domain_folder(path: Path, location: Location) -> SpecError:
    """The error of an entry that names no domain folder."""
    domain = location.domain
    where = f"{DOMAINS_DIR}/{domain}/" if domain else "a domain folder"
    return SpecError(
        f"the code location {location.name or location.target!r} ({location.kind}: "
        f"{location.target or '?'}) names no domain folder: {where} with a "
        f"{DOMAIN_FILE} does not exist",
        file=path,
        line=location.line,
        fix="remove the entry, or create the domain with `mesh scaffold domain "
        f"{domain or 'NAME'}`; an entry loads `{definitions_module('NAME')}`",
    )


def _check_folders(
    path: Path, folders: dict[str, Path], listed: dict[str, Location]
) -> list[SpecError]:
    """The errors of the domain folders: not listed, or listed with no definitions.py."""
    errors: list[SpecError] = []
    for domain, folder in sorted(folders.items()):
        if domain not in listed:
            errors.append(
                SpecError(
                    f"domain folder {DOMAINS_DIR}/{domain}/ is not a code location in "
                    f"{WORKSPACE_FILE}: it validates and runs from `mesh`, but the UI and the "
                    "daemon never load it",
                    file=path,
                    fix=f"add it under `load_from:`:\n    - python_module:\n        module_name: "
                    f"{definitions_module(domain)}\n        location_name: {domain}",
                )
            )
        elif not (folder / DEFINITIONS_FILE).is_file():
            errors.append(
                SpecError(
                    f"domain folder {DOMAINS_DIR}/{domain}/ has no {DEFINITIONS_FILE}, which "
                    f"its code location in {WORKSPACE_FILE} loads",
                    file=folder / DEFINITIONS_FILE,
                    fix="write it: `from mesh_platform import load_domain` then "
                    "`defs = load_domain(__file__)`",
                )
            )
    return errors


# Indentations tried, most common first, to write the file back in its own layout.
_INDENTS = ((2, 4, 2), (2, 2, 0), (4, 6, 4), (4, 4, 0), (2, 4, 0))


def register_domain(root: Path, domain: str) -> bool:
    """Add `domain`'s code location to `<root>/workspace.yaml`, keeping the file's comments and
    indentation; False when it was already listed (nothing written). A missing file is created
    with every domain folder under `root`."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    path = root / WORKSPACE_FILE
    entry = CommentedMap(module_name=definitions_module(domain), location_name=domain)
    if not path.is_file():  # a new file lists every domain folder, this one included
        names = sorted({folder.name for folder in discover_domains(root)} | {domain})
        path.write_text(
            "# One code location per domain. `mesh up` serves these with the Dagster UI.\n"
            "load_from:\n"
            + "".join(
                f"  - python_module:\n      module_name: {definitions_module(name)}\n"
                f"      location_name: {name}\n"
                for name in names
            )
        )
        return True
    if any(location.domain == domain for location in read_locations(root)):
        return False
    text = path.read_text()
    yaml = _yaml_keeping_layout(text)
    data = yaml.load(text)
    if not isinstance(data.get("load_from"), list):
        data["load_from"] = CommentedSeq()
    data["load_from"].append(CommentedMap(python_module=entry))
    path.write_text(_dump(yaml, data))
    return True


def _dump(yaml: Any, data: Any) -> str:
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def _yaml_keeping_layout(text: str) -> Any:
    """A round-trip YAML whose indentation reproduces `text` unchanged, if one does."""
    from ruamel.yaml import YAML

    for mapping, sequence, offset in _INDENTS:
        yaml = YAML(typ="rt")
        yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
        yaml.preserve_quotes = True
        if text and _dump(yaml, yaml.load(text)) == text:
            return yaml
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml
