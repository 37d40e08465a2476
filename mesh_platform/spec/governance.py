"""The platform team's governance files at the root of a mesh (`governance/`), as specs.

- `governance/clearances.yaml`: the clearances the platform team granted each domain (who
  granted, when, why). A domain's clearances come from here only: a `clearances:` line in its
  own `domain.yaml` grants nothing (`mesh validate` says so and how to request one).
- `governance/people.yaml`: who is who, the people (emails) of each team (read by
  `access/identity.py`).

Both are platform-owned (CODEOWNERS) and versioned with the mesh. Errors name the file, the
line and the fix, like a spec error.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from pydantic import Field, ValidationError, field_validator

from mesh_platform.errors import SpecError, SpecErrors
from mesh_platform.spec.fields import Frozen, Name
from mesh_platform.spec.validation import validation_errors
from mesh_platform.spec.yaml_source import read_yaml, to_plain

GOVERNANCE_DIR = "governance"
CLEARANCES_FILE = f"{GOVERNANCE_DIR}/clearances.yaml"
PEOPLE_FILE = f"{GOVERNANCE_DIR}/people.yaml"


class ClearanceGrant(Frozen):
    """One clearance granted to a domain by the platform team."""

    domain: Name
    clearance: Name
    granted_by: str = Field(min_length=1, description="Who of the platform team granted it.")
    granted_at: str = Field(min_length=1, description="When (ISO date or time).")
    reason: str = Field(min_length=1, description="Why the domain needs it.")

    @field_validator("granted_at", mode="before")
    @classmethod
    def _when(cls, value: object) -> object:
        return value.isoformat() if isinstance(value, (date, datetime)) else value


class ClearanceGrants(Frozen):
    """`governance/clearances.yaml`: every grant, oldest first."""

    grants: tuple[ClearanceGrant, ...] = ()

    def of(self, domain: str) -> tuple[str, ...]:
        """The clearances granted to `domain`, in the order granted, each once."""
        return tuple(dict.fromkeys(g.clearance for g in self.grants if g.domain == domain))


def mesh_root_of(domain_folder: Path) -> Path:
    """The mesh root holding `<root>/domains/<name>/`."""
    return domain_folder.resolve().parent.parent


def read_clearance_grants(root: Path) -> ClearanceGrants:
    """The grants of `root/governance/clearances.yaml` (none when the file is absent)."""
    path = root / CLEARANCES_FILE
    if not path.is_file():
        return ClearanceGrants()
    document = read_yaml(path)
    try:
        return ClearanceGrants.model_validate(to_plain(document.data))
    except ValidationError as exc:
        raise SpecErrors(validation_errors(exc, path, document)) from None


def granted_clearances(root: Path, domain: str) -> tuple[str, ...]:
    """The clearances the platform team granted `domain` in the mesh at `root`."""
    return read_clearance_grants(root).of(domain)


def self_declared_notice(path: Path, declared: tuple[str, ...], domain: str) -> SpecError:
    """What `mesh validate` says about a `clearances:` line in a domain's own file."""
    line = next(
        (
            number
            for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
            if text.startswith("clearances:")
        ),
        None,
    )
    first = declared[0] if declared else "pii"
    return SpecError(
        f"`clearances: [{', '.join(declared)}]` in domain {domain!r}'s own file grants nothing: "
        f"clearances are granted by the platform team in {CLEARANCES_FILE}",
        file=path,
        line=line,
        fix=f"remove the line and ask for it: `mesh request-clearance {domain} {first} "
        '--reason "what you need it for"` (the platform team grants it with '
        "`mesh grant-clearance`)",
    )
