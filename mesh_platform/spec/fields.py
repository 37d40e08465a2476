"""The building blocks of specs: the immutable base, names, owners, tags and enumerations."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)


class Frozen(BaseModel):
    """Base of spec objects: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


def check_name(value: str) -> str:
    """`value`, if it is a lowercase snake_case name; else a ValueError saying what to write."""
    if not _NAME_RE.match(value):
        raise ValueError(
            f"{value!r} must be lowercase snake_case (letters, digits, _), starting with a "
            "letter, at most 63 characters"
        )
    return value


Name = Annotated[str, AfterValidator(check_name)]
"""A name of a domain, product, column, step, rule or input: lowercase snake_case."""

# Dagster's own rule for asset owners: an email address, or `team:` and a name.
_EMAIL_RE = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Z|a-z]{2,7}\b")


def check_owner(value: str) -> str:
    """`value`, if it is an owner Dagster accepts; else a ValueError saying what to write."""
    team = value.startswith("team:") and len(value) > len("team:")
    if not (team or _EMAIL_RE.fullmatch(value)):
        raise ValueError(
            f"owner {value!r} must be an email address (data@example.com) or 'team:<name>'"
        )
    return value


Owner = Annotated[str, AfterValidator(check_owner)]

TAG_KEY = re.compile(r"^([A-Za-z0-9_.-]{1,63}/)?[A-Za-z0-9_.-]{1,63}$")
TAG_VALUE = re.compile(r"^[A-Za-z0-9_.-]{0,63}$")
PLATFORM_TAGS = ("domain", "visibility", "contains_pii")  # stamped on every asset
MAX_SPEC_KINDS = 5

Visibility = Literal["internal", "published"]
Automation = Literal["eager", "on_cron", "on_missing"]
Severity = Literal["error", "warn"]
RuleKind = Literal[
    "not_null", "unique", "accepted_values", "between", "regex", "row_count", "references", "sql"
]
