"""YAML reading that remembers where each value came from, for errors with line numbers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

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


def read_yaml(path: Path) -> YamlDocument:
    """Parse a YAML file whose top level must be a mapping; errors name the file and line."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror}", file=path) from exc
    yaml = YAML(typ="rt")
    try:
        data = yaml.load(text)
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
    if not isinstance(data, CommentedMap):
        raise SpecError(
            "the file must contain a mapping of fields (name: ..., description: ...)",
            file=path,
            line=1,
            fix="start the file with `name: <product_name>`",
        )
    return YamlDocument(path, data)


def to_plain(node: Any) -> Any:
    """ruamel's commented containers as plain dicts and lists."""
    if isinstance(node, dict):
        return {str(k): to_plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_plain(v) for v in node]
    return node
