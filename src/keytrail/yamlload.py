"""Safe YAML loading that remembers where every value came from.

PyYAML's safe loader never builds arbitrary objects, but it forgets line
numbers, silently keeps the last of two duplicate keys and turns unquoted
timestamps into naive or aware datetimes depending on how they were written.
This loader composes the node tree (with libyaml when available), then builds
plain Python data itself, so that:

- every mapping key and sequence item has a (line, column) in a locator,
  which is what lets a schema error say ``policy.yaml:14:7: rules[2].use``;
- a duplicate key is an error naming both places;
- timestamps stay the text the author wrote, validated later with one rule
  for YAML and JSON alike (a time without a zone is an error);
- tags other than the standard ones are refused, and alias expansion is
  bounded so that a "billion laughs" document cannot exhaust memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from keytrail.errors import Problem

#: The most values one document may expand to (aliases included).
MAX_NODES = 2_000_000

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STANDARD_TAGS = {
    "tag:yaml.org,2002:map",
    "tag:yaml.org,2002:seq",
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """A safe loader whose timestamps resolve as plain strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# Scalars are built by a pure-Python SafeConstructor so that timestamps can be
# returned as the author's text regardless of which composer produced them.
_constructor = yaml.SafeLoader("")


@dataclass
class Locator:
    """Maps a path inside a loaded document to the line and column it came from."""

    file: str
    positions: dict[tuple[Any, ...], tuple[int, int]] = field(default_factory=dict)

    def at(self, path: tuple[Any, ...] | list[Any]) -> tuple[int, int]:
        """The (line, column) of ``path``, or of its nearest located ancestor."""
        p = tuple(path)
        while p:
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), (1, 1))

    def problem(self, path: tuple[Any, ...] | list[Any], message: str, level: str = "error") -> Problem:
        """A :class:`Problem` located at ``path``."""
        line, col = self.at(path)
        return Problem(self.file, line, col, format_path(path), message, level)


def format_path(path: tuple[Any, ...] | list[Any]) -> str:
    """Render a document path as ``rules[3].use``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


class YamlError(Exception):
    """Problems found while reading one YAML file."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def load_yaml(text: str | bytes, file: str) -> tuple[Any, Locator]:
    """Parse one YAML document into plain data and a :class:`Locator`.

    Raises :class:`YamlError` listing every duplicate key and unsupported tag
    found, or the syntax error that stopped parsing.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise YamlError([Problem(file, 0, 0, "", f"not valid UTF-8 (byte {exc.start})")]) from None
    locator = Locator(file)
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        what = " ".join(x for x in (exc.context, exc.problem) if x)
        raise YamlError([Problem(file, line, col, "", f"invalid YAML: {what}")]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Problem(file, 0, 0, "", f"invalid YAML: {exc}")]) from None
    if root is None:
        return None, locator
    builder = _Builder(locator)
    data = builder.build(root, ())
    if builder.problems:
        raise YamlError(sorted(builder.problems))
    return data, locator


class _Builder:
    """Turns a composed node tree into plain data, recording positions."""

    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        self.problems: list[Problem] = []
        self.count = 0

    def _where(self, node: yaml.Node) -> tuple[int, int]:
        return node.start_mark.line + 1, node.start_mark.column + 1

    def build(self, node: yaml.Node, path: tuple[Any, ...]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            line, col = self._where(node)
            self.problems.append(Problem(self.locator.file, line, col, format_path(path),
                                         f"document expands to more than {MAX_NODES:,} values "
                                         "(too many aliases?)"))
            raise YamlError(self.problems)
        self.locator.positions.setdefault(path, self._where(node))
        if node.tag not in _STANDARD_TAGS:
            line, col = self._where(node)
            self.problems.append(Problem(self.locator.file, line, col, format_path(path),
                                         f"unsupported YAML tag {node.tag!r}"))
            return None
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.tag == "tag:yaml.org,2002:timestamp":
            return str(node.value)
        return _constructor.construct_object(node, deep=True)

    def _mapping(self, node: yaml.MappingNode, path: tuple[Any, ...]) -> dict[str, Any]:
        _flatten_merge(node)
        out: dict[str, Any] = {}
        seen: dict[str, tuple[int, int]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                line, col = self._where(key_node)
                self.problems.append(Problem(self.locator.file, line, col, format_path(path),
                                             "mapping keys must be plain strings"))
                continue
            key = str(key_node.value)
            where = self._where(key_node)
            if key in seen:
                first = seen[key]
                self.problems.append(Problem(self.locator.file, where[0], where[1],
                                             format_path(path + (key,)),
                                             f"duplicate key {key!r} (first defined at line {first[0]})"))
                continue
            seen[key] = where
            self.locator.positions[path + (key,)] = where
            out[key] = self.build(value_node, path + (key,))
            # The key's own position is more useful than the value's for errors
            # about the entry; keep it.
            self.locator.positions[path + (key,)] = where
        return out


def _flatten_merge(node: yaml.MappingNode) -> None:
    """Apply YAML merge keys (``<<: *base``) in place; explicit keys win."""
    merged: list[tuple[yaml.Node, yaml.Node]] = []
    rest: list[tuple[yaml.Node, yaml.Node]] = []
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for src in sources:
                if isinstance(src, yaml.MappingNode):
                    _flatten_merge(src)
                    merged.extend(src.value)
        else:
            rest.append((key_node, value_node))
    if merged:
        explicit = {k.value for k, _ in rest if isinstance(k, yaml.ScalarNode)}
        seen: set[str] = set()
        keep = []
        for k, v in merged:
            if k.value in explicit or k.value in seen:
                continue
            seen.add(k.value)
            keep.append((k, v))
        node.value = keep + rest

