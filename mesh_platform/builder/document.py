"""A YAML spec edited as values and written back changing only what was edited.

The text is parsed once in ruamel.yaml's round-trip mode (`spec/yaml_source.py`'s parser: line
numbers, bounded aliases) for the position of every key and item. Writing the edited values
splices the original text: an entry whose value did not change keeps its exact lines (comments,
quoting, wrapping, flow or block style); a changed block mapping or sequence is spliced entry by
entry (a moved step moves its lines); only a changed scalar, flow value or new entry is rendered
anew, in the style of its siblings. Unchanged values give the file back byte for byte.
"""

from __future__ import annotations

import io
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from mesh_platform.spec.yaml_source import read_yaml, to_plain

WIDTH = 100  # hand-written specs wrap near here
# Where a new top-level field goes: after the last present field that comes before it here.
FIELD_ORDER = (
    "name", "description", "version", "owners", "visibility", "tags", "kinds", "source",
    "inputs", "schedule", "automation", "freshness", "partitioning", "write", "keys",
    "delete_when", "incremental", "engine", "steps", "columns", "quality", "volume",
)  # fmt: skip


@dataclass(frozen=True)
class _Region:
    """Lines [start, end) of the text, the first line's first `col` characters a prefix that
    stays in place (`  - ` of a sequence item whose mapping starts on the dash line)."""

    start: int
    end: int


class SpecDocument:
    """A YAML mapping's text and its values; `render(values)` gives the text for new values."""

    def __init__(self, text: str, path: Path) -> None:
        self.text = text
        self.path = path
        self._lines = text.splitlines(keepends=True)
        parsed = read_yaml(path, text).data if text.strip() else CommentedMap()
        self._root: CommentedMap = parsed
        self.values: dict[str, Any] = to_plain(parsed)

    def render(self, values: dict[str, Any]) -> str:
        """The text of `values`: the original text where a value is unchanged."""
        if not self._root:
            return "".join(_fresh_entry(k, v, 0, flow=False) for k, v in values.items())
        return "".join(self._mapping(self._root, values, _Region(0, len(self._lines))))

    # -- block mappings and sequences, spliced entry by entry ---------------------------------

    def _mapping(self, node: CommentedMap, new: dict[str, Any], region: _Region) -> list[str]:
        keys = list(node.keys())
        col = node.lc.key(keys[0])[1]
        starts = self._with_comments([node.lc.key(k)[0] for k in keys], col)
        spans = {
            k: _Region(starts[i], starts[i + 1] if i + 1 < len(keys) else region.end)
            for i, k in enumerate(keys)
        }
        out = self._lines[region.start : starts[0]]
        prefix = self._lines[starts[0]][:col]
        body: list[str] = []
        for key, value in new.items():
            if key in spans:
                body += self._entry(node, key, value, spans[key], col)
            else:  # a new top-level field in its own house style (`inputs: {...}` is no rule)
                flow = node is not self._root and _siblings_flow(node)
                body += _fresh_entry(key, value, col, flow=flow).splitlines(keepends=True)
        return out + _with_prefix(body, prefix, col)

    def _with_comments(self, starts: list[int], col: int) -> list[int]:
        """Each entry's first line, after the first entry: the comment lines just above it
        (indented no deeper than the entry) are its own, and move with it."""
        moved = starts[:1]
        for previous, start in itertools.pairwise(starts):
            while start - 1 > previous and _is_comment(self._lines[start - 1], col):
                start -= 1
            moved.append(start)
        return moved

    def _entry(
        self, node: CommentedMap, key: str, value: Any, span: _Region, col: int
    ) -> list[str]:
        old = node[key]
        lines = self._lines[span.start : span.end]
        key_line = node.lc.key(key)[0]
        if key_line == span.start:  # a `- ` prefix is put back by the caller
            lines = [" " * col + lines[0][col:], *lines[1:]]
        if to_plain(old) == value:
            return lines
        value_line = node.lc.value(key)[0]
        if _is_block(old, value) and value_line > key_line and value:
            head = lines[: value_line - span.start]
            inner = _Region(value_line, span.end)
            if isinstance(old, CommentedMap):
                return head + self._mapping(old, value, inner)
            return head + self._sequence(old, value, inner)
        fresh = _fresh_entry(key, value, col, flow=_is_flow(old))
        leading = lines[: key_line - span.start]
        return leading + fresh.splitlines(keepends=True) + _trailing(lines)

    def _sequence(self, node: CommentedSeq, new: list[Any], region: _Region) -> list[str]:
        first = node.lc.item(0)[0]
        dash = self._lines[first].index("-")
        starts = self._with_comments([node.lc.item(i)[0] for i in range(len(node))], dash)
        spans = [
            _Region(s, starts[i + 1] if i + 1 < len(starts) else region.end)
            for i, s in enumerate(starts)
        ]
        olds = [to_plain(item) for item in node]
        matched = _match(olds, new)
        out = self._lines[region.start : starts[0]]
        flow = _siblings_flow(node)
        for position, value in enumerate(new):
            index = matched.get(position)
            if index is None:
                out += _fresh_item(value, dash, flow=flow).splitlines(keepends=True)
            elif olds[index] == value:
                out += self._lines[spans[index].start : spans[index].end]
            else:
                out += self._item(node, index, value, spans[index], dash)
        return out

    def _item(
        self, node: CommentedSeq, index: int, value: Any, span: _Region, dash: int
    ) -> list[str]:
        old = node[index]
        if (
            isinstance(old, CommentedMap)
            and isinstance(value, dict)
            and value
            and not _is_flow(old)
        ):
            return self._mapping(old, value, span)
        lines = self._lines[span.start : span.end]
        fresh = _fresh_item(value, dash, flow=_is_flow(old))
        return fresh.splitlines(keepends=True) + _trailing(lines)


def _match(olds: list[Any], new: list[Any]) -> dict[int, int]:
    """New position -> old index: equal items first (each old once), then the rest in order
    (an edited item keeps its lines where it can)."""
    free = list(range(len(olds)))
    found: dict[int, int] = {}
    for position, value in enumerate(new):
        for index in free:
            if olds[index] == value:
                found[position] = index
                free.remove(index)
                break
    for position in range(len(new)):
        if position not in found and free:
            found[position] = free.pop(0)
    return found


def _is_comment(line: str, col: int) -> bool:
    stripped = line.lstrip(" ")
    return stripped.startswith("#") and len(line) - len(stripped) <= col


def _with_prefix(body: list[str], prefix: str, col: int) -> list[str]:
    """`body` (entries indented by `col`) with its first line's indent replaced by `prefix`."""
    if not body or not prefix.strip():
        return body
    return [prefix + body[0][col:], *body[1:]]


def _trailing(lines: list[str]) -> list[str]:
    """The blank and comment-only lines that end a span: they stay when its value is redone."""
    kept: list[str] = []
    for line in reversed(lines[1:]):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        kept.insert(0, line)
    return kept


def _is_flow(node: Any) -> bool:
    return isinstance(node, (CommentedMap, CommentedSeq)) and bool(node.fa.flow_style())


def _is_block(old: Any, value: Any) -> bool:
    if _is_flow(old):
        return False
    return (isinstance(old, CommentedMap) and isinstance(value, dict)) or (
        isinstance(old, CommentedSeq) and isinstance(value, list)
    )


def _siblings_flow(node: CommentedMap | CommentedSeq) -> bool:
    """Whether the entries of `node` are written in flow style (then a new one is too)."""
    children = list(node.values()) if isinstance(node, CommentedMap) else list(node)
    containers = [c for c in children if isinstance(c, (CommentedMap, CommentedSeq))]
    return bool(containers) and all(_is_flow(c) for c in containers)


# -- rendering new values ----------------------------------------------------------------------


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.width = WIDTH
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _dump(value: Any) -> str:
    stream = io.StringIO()
    _yaml().dump(value, stream)
    return stream.getvalue()


def _node(value: Any, flow: bool) -> Any:
    """Plain values as ruamel nodes in the house style of hand-written specs: a mapping of
    scalars (and lists of scalars) and a list of scalars in flow style (`{name: x, type: y}`,
    `[a, b]`), the rest in block style, multi-line strings as `|` blocks; all flow when `flow`."""
    if isinstance(value, str) and "\n" in value and not flow:
        return LiteralScalarString(value)
    if isinstance(value, dict):
        leaf = flow or all(_is_leaf(v) for v in value.values())
        mapping = CommentedMap((k, _node(v, leaf)) for k, v in value.items())
        mapping.fa.set_flow_style() if leaf and value else mapping.fa.set_block_style()
        return mapping
    if isinstance(value, (list, tuple)):
        leaf = flow or all(_is_scalar(v) for v in value)
        seq = CommentedSeq(_node(v, leaf) for v in value)
        seq.fa.set_flow_style() if leaf else seq.fa.set_block_style()
        return seq
    return value


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list, tuple)) and not (
        isinstance(value, str) and "\n" in value
    )


def _is_leaf(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_is_scalar(v) for v in value)
    return _is_scalar(value)


def _indent(text: str, col: int) -> str:
    return "".join(" " * col + line if line.strip() else line for line in text.splitlines(True))


def _fresh_entry(key: str, value: Any, col: int, *, flow: bool) -> str:
    """`key: value` rendered at indent `col` (flow containers when `flow`; a scalar value a
    container may hold, e.g. `with: {...}` of a step, is flow when its siblings are)."""
    mapping = CommentedMap([(key, _node(value, flow))])  # the entry itself: block
    mapping.fa.set_block_style()
    return _indent(_dump(mapping), col)


def _fresh_item(value: Any, dash: int, *, flow: bool) -> str:
    """`- value` rendered with its dash at column `dash`."""
    seq = CommentedSeq([_node(value, flow)])
    seq.fa.set_block_style()
    lines = _dump(seq).splitlines(keepends=True)
    shift = dash - lines[0].index("-")
    if shift >= 0:
        return _indent("".join(lines), shift)
    return "".join(line[-shift:] if line[:-shift].isspace() else line for line in lines)


def position_for(keys: list[str], field: str) -> int:
    """Where a new top-level `field` goes among `keys` (FIELD_ORDER; unknown fields last)."""
    rank = {name: i for i, name in enumerate(FIELD_ORDER)}
    mine = rank.get(field, len(FIELD_ORDER))
    at = 0
    for i, key in enumerate(keys):
        if rank.get(key, len(FIELD_ORDER)) <= mine:
            at = i + 1
    return at
