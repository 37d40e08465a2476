"""YAML reading that remembers where each value came from, for errors with line numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode

from mesh_platform.errors import SpecError


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML mapping and the file it came from."""

    path: Path
    data: CommentedMap

    def line_of(self, loc: Sequence[str | int]) -> int | None:
        """The 1-based line of the value at `loc` (keys and list indexes), or its nearest parent."""
        node: Any = self.data
        line: int | None = _first_line(node)
        for part in loc:
            if isinstance(node, CommentedMap) and part in node:
                line = node.lc.key(part)[0] + 1
                node = node[part]
            elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
                line = node.lc.item(part)[0] + 1
                node = node[part]
            else:
                break
        return line

    def block_start_line(self, loc: Sequence[str | int]) -> int | None:
        """The line where a (block) scalar's text starts: the line after `key: |`."""
        parent_loc, key = loc[:-1], loc[-1]
        node: Any = self.data
        for part in parent_loc:
            node = node[part]
        if isinstance(node, CommentedMap) and key in node:
            key_line, _ = node.lc.key(key)
            value_line, _ = node.lc.value(key)
            value = node[key]
            is_block = isinstance(value, str) and value_line == key_line and "\n" in value
            return key_line + (2 if is_block else 1)
        return self.line_of(loc)


def _first_line(node: Any) -> int | None:
    if isinstance(node, (CommentedMap, CommentedSeq)) and node.lc.line is not None:
        return int(node.lc.line) + 1
    return None


MAX_BYTES = 1_000_000  # a spec is a page of YAML and SQL, not a data file
MAX_EXPANDED_NODES = 100_000  # what aliases may expand to: far above any real spec


def read_yaml(path: Path, text: str | None = None) -> YamlDocument:
    """Parse a YAML file whose top level must be a mapping; errors name the file and line.

    `text`, when given, is parsed in place of the file's contents (an unsaved draft of it).

    Refused with a SpecError: a file over `MAX_BYTES`, one that is not UTF-8 text, and one
    whose aliases expand past `MAX_EXPANDED_NODES` (a "billion laughs" file would otherwise
    take a code location's memory and time).
    """
    data = _parse(path, _read_text(path) if text is None else _checked_text(path, text))
    if not isinstance(data, CommentedMap):
        raise SpecError(
            "the file must contain a mapping of fields (name: ..., description: ...)",
            file=path,
            line=1,
            fix="start the file with `name: <product_name>`",
        )
    return YamlDocument(path, data)


def _read_text(path: Path, raw: bytes | None = None) -> str:
    """The file's text (or `raw`): refused when unreadable, too large, not UTF-8 or holding
    NULs."""
    try:
        raw = path.read_bytes() if raw is None else raw
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror}", file=path) from exc
    if len(raw) > MAX_BYTES:
        raise SpecError(
            f"the file is {len(raw):,} bytes; a spec may have at most {MAX_BYTES:,}",
            file=path,
            fix="keep data out of specs: data belongs in the landing zone or an input product",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"the file is not UTF-8 text (byte {exc.start} cannot be decoded)",
            file=path,
            line=raw[: exc.start].count(b"\n") + 1,
            fix="save the file as UTF-8; a binary file does not belong in a domain folder",
        ) from None
    if "\0" in text:
        raise SpecError(
            "the file holds NUL characters: it is not a text file",
            file=path,
            fix="remove the file, or save the spec as plain UTF-8 text",
        )
    return text


def _checked_text(path: Path, text: str) -> str:
    """`text` given for `path`, with the file's limits (size, NULs)."""
    return _read_text(path, text.encode("utf-8"))


def _parse(path: Path, text: str) -> Any:
    """The YAML document of `text` (round-trip, with line numbers), aliases bounded."""
    yaml = YAML(typ="rt")
    try:
        if "&" in text and "*" in text:  # aliases: bound their expansion before loading
            _check_expansion(path, yaml.compose(text))
        return yaml.load(text)
    except RecursionError:
        raise SpecError(
            "the file nests values too deeply to read",
            file=path,
            fix="a spec nests a few levels (steps, columns, rules); flatten the structure",
        ) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise SpecError(
            f"malformed YAML: {problem}",
            file=path,
            line=line,
            fix="check the indentation and quoting around this line (SQL with ':' belongs in a "
            "block: `sql: |`)",
        ) from None


def _check_expansion(path: Path, root: Any) -> None:
    """Refuse a document whose nodes, aliases expanded, exceed `MAX_EXPANDED_NODES`."""
    sizes: dict[int, int] = {}

    def size(node: Any) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a recursive alias counts once instead of looping
        children: list[Any] = []
        if isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        elif isinstance(node, SequenceNode):
            children = list(node.value)
        total = 1
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                break
        sizes[id(node)] = total
        return total

    if root is not None and size(root) > MAX_EXPANDED_NODES:
        raise SpecError(
            f"the file's aliases expand to more than {MAX_EXPANDED_NODES:,} values",
            file=path,
            fix="write the values out, or use fewer nested aliases (`*name`)",
        )


def to_plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node
