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
from keytrail.textsafe import excerpt

#: The most values aliases may add to one document (a "billion laughs" guard;
#: values written out in full are bounded by the file size limit instead).
MAX_NODES = 2_000_000
#: The deepest nesting accepted (no keytrail file needs more than a dozen levels);
#: deeper documents are refused before they exhaust Python's recursion limit.
MAX_DEPTH = 100

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

    def __init__(self, problems: list[Problem], partial: tuple[Any, Locator] | None = None) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems
        #: The document, when it was read to its end despite the problems (a duplicate
        #: key keeps its first value): what lets one run report every other problem too.
        self.partial = partial


def load_yaml(text: str | bytes, file: str) -> tuple[Any, Locator]:
    """Parse one YAML document into plain data and a :class:`Locator`.

    Raises :class:`YamlError` listing every duplicate key and unsupported tag
    found, or the syntax error that stopped parsing.
    """
    if isinstance(text, bytes):
        raw = text
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            # Columns count characters; everything before the bad byte decodes.
            col = len(raw[raw.rfind(b"\n", 0, exc.start) + 1:exc.start].decode("utf-8")) + 1
            raise YamlError([Problem(file, line, col, "", f"not valid UTF-8: byte 0x{raw[exc.start]:02x} "
                                     "(save the file as UTF-8)")]) from None
    locator = Locator(file)
    builder = _Builder(locator)
    loader = _Loader(text)
    try:
        data = builder.document(loader)
    except yaml.MarkedYAMLError as exc:
        raise YamlError([_syntax_problem(file, exc)]) from None
    except yaml.reader.ReaderError as exc:
        # A control character. The reader stops at its first occurrence; its
        # offset is in bytes or characters depending on the parser, so find it.
        char = exc.character if isinstance(exc.character, str) else chr(exc.character)
        pos = text.find(char)
        line, col = text.count("\n", 0, pos) + 1, pos - (text.rfind("\n", 0, pos) + 1) + 1
        raise YamlError([Problem(file, line, col, "", f"invalid YAML: control character "
                                 f"U+{ord(char):04X} is not allowed")]) from None
    except yaml.YAMLError as exc:
        raise YamlError([Problem(file, 0, 0, "", f"invalid YAML: {excerpt(str(exc), 200)}")]) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise YamlError(sorted(builder.problems), (data, locator))
    return data, locator


def _syntax_problem(file: str, exc: yaml.MarkedYAMLError) -> Problem:
    """A syntax error where parsing stopped, naming where the unfinished construct began."""
    mark = exc.problem_mark or exc.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
    what = exc.problem or exc.context or "syntax error"
    if exc.context and exc.problem:
        ctx = exc.context_mark
        if ctx is not None and mark is not None and (ctx.line, ctx.column) != (mark.line, mark.column):
            what += f" ({exc.context} that starts at line {ctx.line + 1}, column {ctx.column + 1})"
        else:
            what += f" ({exc.context})"
    # The parser quotes what it found (a tag, a character): briefly and inertly.
    return Problem(file, line, col, "", f"invalid YAML: {excerpt(what, 200)}")


_RESOLVERS = _Loader.yaml_implicit_resolvers
_STR = "tag:yaml.org,2002:str"
_MERGE = "tag:yaml.org,2002:merge"


def _resolve_plain(value: str) -> str:
    """The tag a plain (unquoted) scalar resolves to, as PyYAML's safe loader would."""
    for tag, regexp in _RESOLVERS.get(value[:1] if value else "", ()):
        if regexp.match(value):
            return str(tag)
    return _STR


class _Builder:
    """Builds plain data straight from the parser's event stream, recording positions.

    Going from events rather than composed nodes skips PyYAML's composer and
    resolver objects, which dominate the cost of large files (a directory of
    100,000 people), while keeping exact marks for every value.
    """

    def __init__(self, locator: Locator) -> None:
        self.locator = locator
        self.positions = locator.positions
        self.problems: list[Problem] = []
        self.count = 0
        self.anchors: dict[str, tuple[Any, int]] = {}

    def document(self, loader: Any) -> Any:
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            return None
        loader.get_event()  # DocumentStart
        data, _ = self.value(loader, loader.get_event(), ())
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            event = loader.get_event()
            mark = event.start_mark
            self.problems.append(Problem(self.locator.file, mark.line + 1, mark.column + 1, "",
                                         "expected a single YAML document, found another"))
        return data

    def _problem(self, event: Any, path: tuple[Any, ...], message: str) -> None:
        mark = event.start_mark
        self.problems.append(Problem(self.locator.file, mark.line + 1, mark.column + 1,
                                     format_path(path), message))

    def _grow(self, size: int, event: Any, path: tuple[Any, ...]) -> None:
        self.count += size
        if self.count > MAX_NODES:
            self._problem(event, path, f"aliases expand the document by more than {MAX_NODES:,} values")
            raise YamlError(self.problems)

    def value(self, loader: Any, event: Any, path: tuple[Any, ...]) -> tuple[Any, int]:
        """Build the value that starts with ``event``; return it and its expanded size."""
        mark = event.start_mark
        if path not in self.positions:
            self.positions[path] = (mark.line + 1, mark.column + 1)
        if len(path) > MAX_DEPTH:
            self._problem(event, path[:2], f"nested more than {MAX_DEPTH} levels deep")
            raise YamlError(self.problems)
        cls = type(event)
        if cls is yaml.ScalarEvent:
            result, size = self.scalar(event, path), 1
        elif cls is yaml.MappingStartEvent:
            self._check_tag(event, path, "tag:yaml.org,2002:map")
            result, size = self.mapping(loader, path)
        elif cls is yaml.SequenceStartEvent:
            self._check_tag(event, path, "tag:yaml.org,2002:seq")
            result, size = [], 1
            index = 0
            # One get_event per item (not a check_event first): the parser's calls are most
            # of the cost of a large file.
            item_event = loader.get_event()
            while type(item_event) is not yaml.SequenceEndEvent:
                item, item_size = self.value(loader, item_event, path + (index,))
                result.append(item)
                size += item_size
                index += 1
                item_event = loader.get_event()
        elif cls is yaml.AliasEvent:
            if event.anchor not in self.anchors:
                self._problem(event, path, f"unknown alias *{event.anchor}")
                return None, 1
            result, size = self.anchors[event.anchor]
            self._grow(size, event, path)
            return result, size
        else:  # pragma: no cover - the parser never yields anything else here
            raise YamlError([Problem(self.locator.file, mark.line + 1, mark.column + 1,
                                     format_path(path), "unexpected YAML structure")])
        anchor = getattr(event, "anchor", None)
        if anchor:
            self.anchors[anchor] = (result, size)
        return result, size

    def _check_tag(self, event: Any, path: tuple[Any, ...], expected: str) -> None:
        tag = event.tag
        if tag not in (None, "!", expected):
            self._problem(event, path, f"unsupported YAML tag '{excerpt(str(tag))}'")

    def scalar(self, event: Any, path: tuple[Any, ...]) -> Any:
        tag = event.tag
        value = event.value
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return value  # quoted: always a string
            tag = _resolve_plain(value)
        if tag == _STR:
            return value
        if tag not in _STANDARD_TAGS:
            self._problem(event, path, f"unsupported YAML tag '{excerpt(str(tag))}'")
            return None
        if tag == "tag:yaml.org,2002:timestamp":
            return value
        node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
        return _constructor.construct_object(node, deep=True)

    def mapping(self, loader: Any, path: tuple[Any, ...]) -> tuple[dict[str, Any], int]:
        out: dict[str, Any] = {}
        seen: dict[str, tuple[int, int]] = {}
        merged: list[dict[str, Any]] = []
        size = 1
        positions = self.positions
        scalar_event = yaml.ScalarEvent
        deep = len(path) >= MAX_DEPTH  # a child of this mapping is too deep: value() says so
        while True:
            key_event = loader.get_event()
            if type(key_event) is yaml.MappingEndEvent:
                break
            if type(key_event) is not scalar_event:
                self._problem(key_event, path, "mapping keys must be plain strings")
                self.value(loader, key_event, path + ("?",))
                self.value(loader, loader.get_event(), path + ("?",))
                continue
            key = key_event.value
            where = (key_event.start_mark.line + 1, key_event.start_mark.column + 1)
            if key == "<<" and key_event.implicit[0] and key_event.tag in (None, "!"):
                value_event = loader.get_event()
                value, value_size = self.value(loader, value_event, path + ("<<",))
                sources = value if isinstance(value, list) else [value]
                for src in sources:
                    if isinstance(src, dict):
                        merged.append(src)
                    else:
                        self._problem(value_event, path, "a merge key (<<) needs a mapping or a list of mappings")
                size += value_size
                continue
            if key in seen:
                self.problems.append(Problem(self.locator.file, where[0], where[1],
                                             format_path(path + (excerpt(key),)),
                                             f"duplicate key '{excerpt(key)}' (first defined at line {seen[key][0]})"))
                self.value(loader, loader.get_event(), path + (key,))
                continue
            seen[key] = where
            child = path + (key,)
            # The key's position is more useful than its value's for errors about the entry.
            positions[child] = where
            value_event = loader.get_event()
            if type(value_event) is scalar_event and not deep and not value_event.anchor:
                # The common case, built here rather than through value(): what value() would
                # do for a scalar without an anchor (its position is the key's, set above).
                out[key] = self.scalar(value_event, child)
                size += 1
                continue
            out[key], child_size = self.value(loader, value_event, child)
            positions[child] = where
            size += child_size
        if merged:
            base: dict[str, Any] = {}
            for src in merged:
                for k, v in src.items():
                    base.setdefault(k, v)
            base.update(out)
            out = base
        return out, size
