"""Editing ``keys.yaml`` in place: comments, order, quoting and layout kept; all or nothing.

The registry is a file people write and review; an edit must change the lines it
is about and no other. The file is read with ruamel.yaml's round-trip loader
(imported here only: no other command pays for it) and, before anything is
changed, dumped back unchanged: if that does not give the same text (a layout
the round trip cannot reproduce), the edit is refused rather than reformatting
the file. Indentation is taken from the file; entries keep their field order;
a new key is written in the order of the schema, with its times unquoted as the
registry writes them; a section comment that followed the entry a new key is
inserted after stays in front of its section.

Writing is atomic and confined: only the project's own ``keys.yaml`` (a regular
file inside the project, not a symbolic link, not a second hard link to
another file) is written; the new text goes to ``.keys.yaml.partial`` beside
it with the original's permissions, is validated as a registry (schema and
semantics, :func:`keytrail.project.load_keys`), and only then replaces the
original, and only if nobody changed the file meanwhile.
"""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, Problem, UsageError
from keytrail.textsafe import excerpt


class EditRefused(InputError):
    """An edit of the key registry was refused: every reason is listed, nothing was written."""

    consequence = "nothing was written"


class Time(str):
    """A time written as a plain YAML timestamp (``2026-04-01T00:00:00Z``), as the registry has them."""


def _yaml(indent: int | None, block_seq_indent: int | None) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 1 << 16  # never fold a long purpose onto a second line
    offset = block_seq_indent if block_seq_indent is not None else 2
    sequence = indent if indent is not None else 4
    yaml.indent(mapping=max(sequence - offset, 2), sequence=sequence, offset=offset)
    yaml.representer.add_representer(
        type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    yaml.representer.add_representer(
        Time, lambda rep, value: rep.represent_scalar("tag:yaml.org,2002:timestamp", str(value)))
    return yaml


def _first_difference(a: str, b: str) -> int:
    for n, (x, y) in enumerate(zip(a.splitlines(), b.splitlines(), strict=False), 1):
        if x != y:
            return n
    return min(len(a.splitlines()), len(b.splitlines())) + 1


@dataclass
class Registry:
    """``keys.yaml`` loaded for editing."""

    path: Path
    display: str
    original: bytes
    doc: Any
    yaml: Any
    newline: str
    bom: bool = False

    @property
    def entries(self) -> Any:
        return self.doc["keys"]

    def entry(self, ident: str) -> Any:
        """The entry of key ``ident`` (a round-trip mapping), or None."""
        return next((e for e in self.entries if isinstance(e, dict) and e.get("id") == ident), None)

    def line_of(self, ident: str) -> int:
        """The 1-based line where key ``ident``'s entry starts in the edited text."""
        entry = self.entry(ident)
        return entry.lc.line + 1 if entry is not None and getattr(entry, "lc", None) and \
            entry.lc.line is not None else 0

    def add(self, fields: dict[str, Any], after: str | None = None) -> None:
        """Add an entry, after key ``after``'s (the end of the registry by default)."""
        from ruamel.yaml.comments import CommentedMap, CommentedSeq

        entry = CommentedMap()
        for name, value in fields.items():
            if isinstance(value, list):
                seq = CommentedSeq(value)
                seq.fa.set_flow_style()  # scope on one line, as the registry writes it
                value = seq
            elif name in ("not_before", "expires", "revoked_at") and value is not None:
                value = Time(value)
            entry[name] = value
        entries = self.entries
        if not entries:
            entries.fa.set_block_style()  # `keys: []` becomes a list of entries
        index = len(entries) if after is None else \
            next(i for i, e in enumerate(entries) if isinstance(e, dict) and e.get("id") == after) + 1
        if index > 0:
            self._separate(entries[index - 1], entry)
        entries.insert(index, entry)

    def _separate(self, before: Any, new: Any) -> None:
        """Move what follows ``before``'s last line (a blank line, the next section's comment)
        after ``new``, and separate the two as the registry separates its entries."""
        from ruamel.yaml.error import CommentMark
        from ruamel.yaml.tokens import CommentToken

        if not hasattr(before, "ca") or not before:
            return  # an entry written in flow style, or empty: nothing to carry over
        last = list(before.keys())[-1]
        if isinstance(before[last], (dict, list)):
            return  # a comment after a nested value belongs to it; leave the layout alone
        trailing = before.ca.items.pop(last, None)
        if trailing is not None:
            new.ca.items[list(new.keys())[-1]] = trailing
        if self._blank_lines_between_entries():
            before.ca.items[last] = [None, None, CommentToken("\n\n", CommentMark(0), None), None]

    def _blank_lines_between_entries(self) -> bool:
        text = self.original.decode("utf-8").replace("\r\n", "\n")  # a BOM cannot hold "\nkeys:"
        return "\n\n" in text.partition("\nkeys:")[2]

    def set(self, ident: str, name: str, value: Any, after: str | None = None) -> None:
        """Set field ``name`` of key ``ident`` in place; a new field goes after ``after``
        (or last, taking over what followed the entry: a blank line, the next section's comment)."""
        entry = self.entry(ident)
        if name in ("not_before", "expires", "revoked_at") and value is not None:
            value = Time(value)
        if name in entry:
            entry[name] = value
            return
        fields = list(entry.keys())
        if after in entry and after != fields[-1]:
            entry.insert(fields.index(after) + 1, name, value)
            return
        last = fields[-1]
        trailing = None if isinstance(entry[last], (dict, list)) else entry.ca.items.pop(last, None)
        entry[name] = value
        if trailing is not None:
            entry.ca.items[name] = trailing

    def text(self) -> str:
        out = io.StringIO()
        self.yaml.dump(self.doc, out)
        text = out.getvalue()
        text = text.replace("\n", "\r\n") if self.newline == "\r\n" else text
        return "\ufeff" + text if self.bom else text

    def write(self, validate: Callable[[Path, str], Any]) -> str:
        """Validate the edited registry and put it in place atomically; return its text."""
        from keytrail.commands._output import PARTIAL, open_new

        text = self.text()
        partial = self.path.with_name(PARTIAL.format(self.path.name))
        try:
            mode = stat.S_IMODE(self.path.stat().st_mode)
            with open_new(partial) as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(partial, mode)
            validate(partial, self.display)
            if self.path.read_bytes() != self.original:
                raise UsageError(f"{self.display} changed while it was being edited; nothing was "
                                 "written (run the command again)")
            os.replace(partial, self.path)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise UsageError(f"cannot write {self.display}: {exc.strerror or exc}; nothing was written") from None
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return text


def open_registry(path: Path, display: str, root: Path) -> Registry:
    """Load the project's key registry for editing, refusing a file keytrail must not write."""
    from keytrail.confine import Confinement

    def refuse(why: str) -> InputError:
        return EditRefused(f"{display}: not edited", [Problem(display, 0, 0, "", why)])

    if path.is_symlink():
        raise refuse("is a symbolic link; keytrail edits only a regular file inside the project "
                     "(name the real file in keytrail.yaml's `keys:`)")
    if not Confinement.of(root).contains(path):
        raise refuse("is outside the project folder; keytrail writes only inside it")
    try:
        info = path.stat()
        original = path.read_bytes()
    except OSError as exc:
        raise refuse(f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise refuse("is not a regular file")
    if info.st_nlink > 1:
        raise refuse(f"has {info.st_nlink} hard links; replacing it would leave the other names "
                     "with the old registry")
    try:
        text = original.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise refuse(f"is not UTF-8 (byte {exc.start + 1})") from None
    newline = "\r\n" if "\r\n" in text else "\n"
    bom = text.startswith("\ufeff")  # kept: an editor that wrote one expects it back
    plain = text[1:].replace("\r\n", "\n") if bom else text.replace("\r\n", "\n")
    from ruamel.yaml.util import load_yaml_guess_indent

    try:
        _, indent, block_seq_indent = load_yaml_guess_indent(plain)
        yaml = _yaml(indent, block_seq_indent)
        doc = yaml.load(plain)
        out = io.StringIO()
        yaml.dump(doc, out)
    except Exception as exc:  # the registry was validated already; this is ruamel's own limit
        raise refuse(f"cannot be read for editing ({excerpt(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)})") from None
    if out.getvalue() != plain:
        line = _first_difference(plain, out.getvalue())
        raise refuse(f"its layout near line {line} cannot be kept by an automatic edit (a "
                     "construct the round-trip writer would rewrite); edit it by hand, or "
                     "reformat that part")
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise refuse("has no `keys:` list")
    return Registry(path, display, original, doc, yaml, newline, bom)
