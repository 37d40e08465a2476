"""One product being edited in the builder: its spec file's text, edited as values.

A draft stands for `domains/<domain>/products/<name>.yaml` and nothing else: its name and
domain are checked (no path may escape the domain's `products/`), edits change the values and
`text()` writes them back changing only what was edited (`document.py`). `validate` runs
`mesh validate`'s checks with the draft in place of its file, writing nothing; `save` writes
the file only when it is still what the draft was opened from (the token), and shows the diff
against git's HEAD.
"""

from __future__ import annotations

import copy
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from mesh_platform.builder.document import SpecDocument, position_for
from mesh_platform.builder.errors import DraftConflict, DraftNotFound, DraftRefused
from mesh_platform.builder.gitops import diff_to_head
from mesh_platform.builder.schedule import schedule_from_form
from mesh_platform.errors import SpecError
from mesh_platform.spec.fields import NAME_PATTERN
from mesh_platform.spec.loading import DOMAIN_FILE, PRODUCTS_DIR
from mesh_platform.spec.workspace import DOMAINS_DIR, product_names

TESTS_DIR = "tests"  # as `mesh scaffold` writes them (dev/scaffold.py)
SETTABLE = (
    "description", "owners", "visibility", "version", "freshness", "automation", "schedule",
    "tags", "write", "keys", "delete_when", "incremental",
)  # fmt: skip
STEP_KINDS = ("sql", "use", "python", "include")
_REF = re.compile(r"^([a-z][a-z0-9_]*\.)?[a-z][a-z0-9_]*$")
LANDING = "landing:"  # an input that is a landing source: `landing:<file>` (platform ingestion)


def token_of(text: str) -> str:
    """The token of a file's text: a save is refused when the file's token changed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SaveResult:
    """A saved draft: its file, the diff against git's HEAD, `mesh validate`'s errors of the
    saved spec (saved even when there are some: a draft in progress), and its new token."""

    path: Path
    diff: str
    errors: tuple[SpecError, ...]
    token: str


class Draft:
    """One product being edited; see the module's docstring."""

    def __init__(self, root: Path, domain: str, name: str, text: str, token: str) -> None:
        self.root = root
        self.domain = domain
        self.name = name
        self.path = product_path(root, domain, name)
        self.token = token
        self._document = SpecDocument(text, self.path)
        self._values: dict[str, Any] = copy.deepcopy(self._document.values)

    @classmethod
    def open(cls, root: Path, domain: str, name: str) -> Draft:
        """The draft of an existing YAML product."""
        path = product_path(root, domain, name)
        if not path.is_file():
            python = path.with_suffix(".py")
            if python.is_file() or name in product_names(root, domain):
                raise DraftRefused(
                    f"{domain}.{name} is written in Python: the builder edits YAML specs; "
                    f"edit its module in domains/{domain}/{PRODUCTS_DIR}/"
                )
            raise DraftNotFound(f"domain {domain!r} has no product {name!r} (see `mesh list`)")
        text = path.read_text(encoding="utf-8")
        return cls(root, domain, name, text, token_of(text))

    @classmethod
    def new(cls, root: Path, domain: str, name: str, description: str = "") -> Draft:
        """A new product's draft; refuses a name the domain already has."""
        path = product_path(root, domain, name)
        if path.exists() or name in product_names(root, domain):
            raise DraftRefused(
                f"domain {domain!r} already has a product {name!r}: open it to edit it, or "
                "pick another name"
            )
        draft = cls(root, domain, name, "", "")
        draft._values = {"name": name, "description": description}
        return draft

    @classmethod
    def from_text(cls, root: Path, domain: str, name: str, text: str, token: str) -> Draft:
        """A draft kept as text between requests (`token`: the file's when it was opened)."""
        try:
            return cls(root, domain, name, text, token)
        except SpecError as exc:
            raise DraftRefused(f"the draft's text does not read: {exc}") from None

    def text(self) -> str:
        """The YAML as it would be saved."""
        return self._document.render(self._values)

    # -- inputs and steps -----------------------------------------------------------------

    def inputs(self) -> dict[str, str]:
        """Each input port and the product it reads; a landing source as `landing:<file>`."""
        found = {str(k): str(v) for k, v in (self._values.get("inputs") or {}).items()}
        source = self._values.get("source")
        if isinstance(source, dict) and "landing" in source:
            found["source"] = LANDING + str(source["landing"])
        return found

    def set_input(self, port: str, ref: str) -> None:
        """Read `ref` ("domain.product", "product" of this domain, `landing:<file>`) as `port`."""
        if ref.startswith(LANDING):
            landing = ref.removeprefix(LANDING)
            _check_name(landing, "landing source")
            self._set_top("source", {**(self._values.get("source") or {}), "landing": landing})
            return
        _check_name(port, "input port")
        if not _REF.match(ref):
            raise DraftRefused(f"input {ref!r}: write 'product' (same domain) or 'domain.product'")
        self._set_top("inputs", {**(self._values.get("inputs") or {}), port: ref})

    def remove_input(self, port: str) -> None:
        """Stop reading `port` (`source`: the landing source)."""
        if port == "source" and "source" in self._values:
            self._set_top("source", None)
            return
        inputs = dict(self._values.get("inputs") or {})
        if port not in inputs:
            raise DraftRefused(f"no input {port!r} (inputs: {', '.join(inputs) or 'none'})")
        del inputs[port]
        self._set_top("inputs", inputs)

    def steps(self) -> list[dict[str, Any]]:
        """The steps, each a plain dict as in YAML."""
        return copy.deepcopy(list(self._values.get("steps") or []))

    def add_step(self, step: dict[str, Any], at: int | None = None) -> None:
        """Add `step` at position `at` (the end by default)."""
        steps = self.steps()
        at = len(steps) if at is None else at
        if not 0 <= at <= len(steps):
            raise DraftRefused(f"step position {at} is outside 0..{len(steps)}")
        steps.insert(at, _checked_step(step))
        self._set_top("steps", steps)

    def update_step(self, index: int, step: dict[str, Any]) -> None:
        """Replace step `index`."""
        steps = self.steps()
        steps[self._index(index)] = _checked_step(step)
        self._set_top("steps", steps)

    def remove_step(self, index: int) -> None:
        """Remove step `index`."""
        steps = self.steps()
        del steps[self._index(index)]
        self._set_top("steps", steps)

    def move_step(self, index: int, to: int) -> None:
        """Move step `index` to position `to` (the others keep their order)."""
        steps = self.steps()
        step = steps.pop(self._index(index))
        if not 0 <= to <= len(steps):
            raise DraftRefused(f"step position {to} is outside 0..{len(steps)}")
        steps.insert(to, step)
        self._set_top("steps", steps)

    def _index(self, index: int) -> int:
        count = len(self._values.get("steps") or [])
        if not 0 <= index < count:
            raise DraftRefused(f"no step {index}: the draft has {count} step(s)")
        return index

    # -- contract, quality and schedule ---------------------------------------------------

    def set(self, field: str, value: object) -> None:
        """Set a product field (`SETTABLE`); None (or empty) removes it."""
        if field not in SETTABLE:
            raise DraftRefused(f"the builder sets {', '.join(SETTABLE)}, not {field!r}")
        self._set_top(field, _plain(value))

    def set_schedule(
        self, kind: str, *, time: str = "06:00", weekday: str | None = None, day: int | None = None
    ) -> None:
        """The schedule form: `eager` (when inputs update), `manual`, or a cron (`daily`,
        `weekly`, `monthly`: a Dagster schedule; kept as `automation: on_cron` if so)."""
        cron = schedule_from_form(kind, time=time, weekday=weekday, day=day)
        self._set_top("schedule", cron)
        if cron is None:
            self._set_top("automation", "eager" if kind == "eager" else None)
        elif self._values.get("automation") != "on_cron":  # a cron alone: a Dagster schedule
            self._set_top("automation", None)

    def set_column(
        self,
        name: str,
        *,
        description: str | None = None,
        tags: list[str] | None = None,
        type: str | None = None,
    ) -> None:
        """Describe, tag or type the output column `name` (declared if it is not yet)."""
        _check_name(name, "column")
        columns = copy.deepcopy(list(self._values.get("columns") or []))
        found = next((c for c in columns if c.get("name") == name), None)
        if found is None:
            found = {"name": name}
            columns.append(found)
        for key, value in (("type", type), ("description", description), ("tags", tags)):
            if value is not None:
                if value in ("", []):
                    found.pop(key, None)
                else:
                    found[key] = list(value) if key == "tags" else value
        self._set_top("columns", columns)

    def set_quality(self, rules: list[dict[str, Any]]) -> None:
        """The product's quality rules (`[{rule: not_null, column: x}, ...]`)."""
        self._set_top("quality", [_plain(rule) for rule in rules])

    def _set_top(self, field: str, value: Any) -> None:
        if (value is None or value in ({}, [], "")) and field != "description":
            self._values.pop(field, None)
            return
        if field in self._values:
            self._values[field] = value
            return
        items = list(self._values.items())
        items.insert(position_for([k for k, _ in items], field), (field, value))
        self._values = dict(items)

    # -- checking and saving --------------------------------------------------------------

    def validate(self) -> list[SpecError]:
        """`mesh validate`'s errors with this draft in place of its file (nothing written)."""
        from mesh_platform.builder.planning import draft_errors

        return draft_errors(self.root, self.domain, self.name, self.text())

    def save(self, *, expected_token: str) -> SaveResult:
        """Write the file, refused (DraftConflict) when it changed on disk since it was
        opened; the errors are `validate`'s, the diff against git's HEAD."""
        on_disk = self.path.read_text(encoding="utf-8") if self.path.exists() else None
        if (token_of(on_disk) if on_disk is not None else "") != expected_token:
            what = "was created" if not expected_token else "changed on disk"
            raise DraftConflict(
                f"{self.path.relative_to(self.root)} {what} since the draft was opened: saving "
                "would overwrite that change. Reload it to see the file as it is now, then "
                "make your edits again"
            )
        text = self.text()
        errors = tuple(self.validate())
        _write(self.path, text)
        self.token = token_of(text)
        self._document = SpecDocument(text, self.path)
        return SaveResult(self.path, diff_to_head(self.root, self.path, text), errors, self.token)

    def save_example_test(self, rows_in: dict[str, list[dict]], rows_out: list[dict]) -> Path:
        """Write the product test (`domains/<d>/tests/<name>.yaml`, as `mesh scaffold` does)
        with one case of these rows, for the author to correct; an existing test file gets
        the case added to its cases."""
        unknown = sorted(set(rows_in) - set(self._values.get("inputs") or {}))
        if unknown:
            raise DraftRefused(f"no input port {', '.join(unknown)} in the draft")
        path = self.path.parent.parent / TESTS_DIR / f"{self.name}.yaml"
        case = {
            "name": "example rows from the builder's preview: check the expected rows",
            "inputs": {port: [_row(r) for r in rows] for port, rows in rows_in.items()},
            "expected": [_row(r) for r in rows_out],
        }
        old = (
            path.read_text(encoding="utf-8")
            if path.exists()
            else _TEST_HEADER.format(domain=self.domain, name=self.name)
        )
        document = SpecDocument(old, path)
        values = dict(document.values) or {"product": self.name}
        values["cases"] = [*(values.get("cases") or []), case]
        _write(path, document.render(values))
        return path


_TEST_HEADER = """\
# Example-based tests: a few input rows -> the expected output rows (docs/product-tests.md).
# Run with `mesh test {domain}.{name}` or pytest. Written from the builder's preview rows.
product: {name}
"""


def product_path(root: Path, domain: str, name: str) -> Path:
    """`domains/<domain>/products/<name>.yaml` under `root`: refused for a bad name, an unknown
    domain, or a path that leads outside the domain's `products/` (a symlink)."""
    _check_name(domain, "domain")
    _check_name(name, "product")
    folder = root / DOMAINS_DIR / domain
    if not (folder / DOMAIN_FILE).is_file():
        raise DraftNotFound(
            f"no domain {domain!r} under {root / DOMAINS_DIR}: create it with "
            f"`mesh scaffold domain {domain}`, or check the name"
        )
    path = folder / PRODUCTS_DIR / f"{name}.yaml"
    inside = (folder / PRODUCTS_DIR).resolve()
    if path.resolve().parent != inside or not inside.is_relative_to(folder.resolve()):
        raise DraftRefused(f"{path} leads outside domain {domain!r}'s products folder")
    return path


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not re.match(NAME_PATTERN, name):
        raise DraftRefused(
            f"{what} name {name!r} must be lowercase snake_case (letters, digits, `_`, starting "
            "with a letter), e.g. daily_revenue"
        )


def _checked_step(step: dict[str, Any]) -> dict[str, Any]:
    kinds = [k for k in STEP_KINDS if isinstance(step, dict) and k in step]
    if len(kinds) != 1:
        raise DraftRefused(
            f"a step has exactly one of {', '.join(k + ':' for k in STEP_KINDS)}; got {step!r}"
        )
    return _plain(step)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _row(row: dict[str, Any]) -> dict[str, Any]:
    """A preview row as YAML values (decimals as numbers, timestamps as text)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, datetime):
            value = value.isoformat(sep=" ")
        elif isinstance(value, date):
            value = value.isoformat()
        out[str(key)] = value
    return out


def _write(path: Path, text: str) -> None:
    """Write `path` whole or not at all (a temporary file beside it, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
