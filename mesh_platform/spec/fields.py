"""The building blocks of specs: the immutable base, names, owners, tags and enumerations."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
_NAME_RE = re.compile(NAME_PATTERN)


class Frozen(BaseModel):
    """Base of spec objects: immutable, unknown fields rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


FIX_KEY = "spec_fix"


def invalid(problem: str, fix: str) -> PydanticCustomError:
    """A spec value's validation error that carries its fix (`validation_errors` shows both).

    Raised by a validator instead of a ValueError, whose message has no place for the fix.
    (pydantic fills only `{spec_fix}` in the problem's text: other braces stay as written.)
    """
    return PydanticCustomError("spec_value", problem, {FIX_KEY: fix})


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

# The notifier's channels (notify/channels.py): a webhook's name keys its MESH_WEBHOOK_ URL.
CHANNEL_KINDS = ("webhook", "slack", "email")
_CHANNEL_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,63}$")


def check_channel(value: str) -> str:
    """`value`, if it is a channel the notifier delivers to; else an error with the fix."""
    kind, _, target = value.partition(":")
    if kind == "email" and _EMAIL_RE.fullmatch(target):
        return value
    if kind in ("webhook", "slack") and _CHANNEL_NAME_RE.match(target):
        return value
    if _EMAIL_RE.fullmatch(value):
        fix = f"write `email:{value}`"
    else:
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", target or kind).strip("-") or "<name>"
        fix = f"write `webhook:{name}` (its URL in MESH_WEBHOOK_<NAME>) or `email:<address>`"
    raise invalid(
        f"channel {value!r} is not one of webhook:<name>, slack:<name>, email:<address>", fix
    )


Channel = Annotated[str, AfterValidator(check_channel)]


def check_on_call(value: str, domain: str | None) -> str:
    """`value`, if it is an email address (the notifier emails the on-call); else an error."""
    if _EMAIL_RE.fullmatch(value):
        return value
    kind, _, target = value.partition(":")
    if kind == "email" and _EMAIL_RE.fullmatch(target):
        fix = f"write the address alone: `on_call: {target}`"
    elif kind in CHANNEL_KINDS:
        fix = f"move it to `channels: [{value}]` and give `on_call:` an email address"
    else:
        example = f"{domain or 'team'}-oncall@example.com"
        fix = f"write the on-call's email address, e.g. `on_call: {example}`"
    raise invalid(
        f"on_call {value!r} is not an email address: the notifier emails the domain's on-call",
        fix,
    )


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
