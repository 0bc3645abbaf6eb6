"""Identifiers that look like other identifiers: a warning, never a silent difference.

``user:li.wеi`` (with a Cyrillic ``е``) and ``user:li.wei`` are two principals
to every comparison keytrail makes, and one to a reviewer's eye; so are
``user:LI.WEI`` and ``user:li.wei``. Invisible characters are already errors
(:mod:`keytrail.ids`); what is left is reported here, as a note beside the
findings (``keytrail check``) and as a warning (``keytrail lint``):

- **lookalikes**: distinct ids whose *skeletons* are equal. The skeleton
  follows Unicode TR39: compatibility-normalise and case-fold the id (NFKC,
  then ``casefold``), then replace each non-ASCII character by the ASCII
  character it is confusable with, from Unicode's confusables data (as shipped
  by the ``confusable-homoglyphs`` package). Ids differing only in letter case
  are the simplest lookalikes and are named as such. ASCII characters are not
  mapped to each other (``0``/``O``, ``1``/``l``): that is a font's choice, and
  flagging it in every large organisation would bury the real signal.
- **mixed scripts**: an id whose name mixes letters of two scripts (Latin and
  Cyrillic, say), except the combinations that are ordinary writing (Han with
  Hiragana, Katakana, Hangul or Bopomofo, each also with Latin), as TR39's
  "highly restrictive" level allows. An id already in a lookalike group gets
  that group's note only.

The ids compared are every principal, group and role of the directory, the
holders, owners and approvers of the key registry, and every subject, target,
actor, approver and owner in the history and the snapshot. One note per group
of lookalikes, not one per pair. Ids of different kinds never collide (the
kind prefix is part of the skeleton). The confusables data is loaded only
when some id is not plain ASCII, so an ASCII organisation pays for one
``casefold`` per id.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from itertools import filterfalse
from operator import itemgetter
from typing import Any

from keytrail.model import Location

#: Script sets that are ordinary writing, not a mix (TR39 highly restrictive), besides one script.
_ALLOWED_MIXES = (frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}), frozenset({"LATIN", "HAN", "BOPOMOFO"}),
                  frozenset({"LATIN", "HAN", "HANGUL"}))
_NEUTRAL_SCRIPTS = frozenset({"COMMON", "INHERITED", "Unknown"})


@dataclass(frozen=True)
class IdNote:
    """One warning about identifiers: the ids concerned, why, and where the first suspect one is."""

    ids: tuple[str, ...]
    message: str
    location: Location | None = None
    event: str | None = None


@cache
def _confusable_map() -> dict[str, str]:
    """Each non-ASCII character confusable with others, mapped to one representative.

    The package's data is a symmetric relation; its connected components are
    Unicode's confusable classes (a prototype and the characters mapped to it).
    A character listed as confusable with an ASCII character maps to it directly;
    otherwise, the representative is an ASCII lower-case letter where the class has one
    (``l`` rather than ``1``), else an ASCII digit, else another ASCII character,
    else the lowest code point.
    """
    from confusable_homoglyphs import confusables

    parent: dict[str, str] = {}

    def root(char: str) -> str:
        while parent.setdefault(char, char) != char:
            parent[char] = parent[parent[char]]
            char = parent[char]
        return char

    direct: dict[str, list[str]] = {}
    for char, glyphs in confusables.confusables_data.items():
        char = char.replace("\u200e", "")  # right-to-left letters come wrapped in marks
        if len(char) != 1:
            continue
        for glyph in glyphs:
            other = glyph["c"].replace("\u200e", "")
            if len(other) == 1:
                if other.isascii():
                    direct.setdefault(char, []).append(other)
                a, b = root(char), root(other)
                if a != b:
                    parent[a] = b
    classes: dict[str, list[str]] = {}
    for char in list(parent):
        classes.setdefault(root(char), []).append(char)

    def preference(char: str) -> tuple[bool, bool, bool, int]:
        ascii_ = char.isascii()
        return (not (ascii_ and char.islower()), not (ascii_ and char.isdigit()), not ascii_, ord(char))

    mapping: dict[str, str] = {}
    for members in classes.values():
        best = min(members, key=preference)
        mapping.update((c, best) for c in members if not c.isascii() and c != best)
    # A character Unicode lists as confusable with an ASCII one maps to that one itself:
    # the classes above can chain two prototypes (``l`` and ``i``) through a third glyph.
    mapping.update((c, min(ascii_, key=preference)) for c, ascii_ in direct.items() if not c.isascii())
    return mapping


def skeleton(identifier: str) -> str:
    """What ``identifier`` looks like: equal skeletons look alike (see the module docstring)."""
    if identifier.isascii():
        return identifier.casefold()
    mapping = _confusable_map()
    folded = unicodedata.normalize("NFKC", identifier).casefold()
    return "".join(mapping.get(c, c) for c in folded).casefold()


def scripts(identifier: str) -> list[str]:
    """The scripts of the letters of an id's name (not its kind), sorted; neutral ones left out."""
    if identifier.isascii():
        return ["LATIN"] if any(c.isalpha() for c in identifier.partition(":")[2]) else []
    from confusable_homoglyphs import categories

    found = {categories.alias(c) for c in identifier.partition(":")[2] if c.isalpha()}
    return sorted(found - _NEUTRAL_SCRIPTS)


def mixed(identifier: str) -> list[str] | None:
    """The scripts an id mixes when the mix is suspicious (see the module docstring), else None."""
    if identifier.isascii():
        return None
    found = scripts(identifier)
    if len(found) < 2 or any(set(found) <= allowed for allowed in _ALLOWED_MIXES):
        return None
    return found


def groups(identifiers: Iterable[str]) -> list[tuple[str, ...]]:
    """Groups of two or more distinct ids that look alike, each sorted, in sorted order."""
    ids = list(set(identifiers))
    # C-level passes first: an organisation of plain ASCII ids without a case clash
    # (the common case) is settled without a Python loop over its ids.
    if all(map(str.isascii, ids)):
        keys = list(map(str.casefold, ids))
    else:
        keys = [i.casefold() if i.isascii() else skeleton(i) for i in ids]
    if len(set(keys)) == len(keys):
        return []
    by_look: dict[str, list[str]] = {}
    for ident, key in zip(ids, keys, strict=True):
        by_look.setdefault(key, []).append(ident)
    return sorted(tuple(sorted(g)) for g in by_look.values() if len(g) > 1)


def suspect(ids: tuple[str, ...], known: Any = ()) -> str:
    """The id of a note to point at: a non-ASCII one, else one not in ``known`` (the
    directory), else the last in sorted order."""
    return next((i for i in ids if not i.isascii()), None) or \
        next((i for i in ids if i not in known), ids[-1])


def _describe(group: tuple[str, ...]) -> str:
    from keytrail.ids import describe_char
    from keytrail.textsafe import inline

    shown = ", ".join(inline(i) for i in group)
    if len({i.casefold() for i in group}) == 1:
        return f"{shown} differ only in letter case: keytrail treats them as different identifiers"
    unusual = sorted({c for i in group for c in i if not c.isascii()})
    chars = "; ".join(describe_char(c) for c in unusual[:5]) + (" …" if len(unusual) > 5 else "")
    return (f"{shown} look alike ({chars}): keytrail treats them as different identifiers "
            "(Unicode confusables)")


def notes(identifiers: Iterable[str], where: Any = None) -> list[IdNote]:
    """Lookalike and mixed-script notes for ``identifiers``; ``where(id)`` gives (location, event id)."""
    ids = set(identifiers)
    out: list[IdNote] = []
    grouped = groups(ids)
    in_groups = {i for g in grouped for i in g}
    for group in grouped:
        location, event = where(suspect(group)) if where else (None, None)
        out.append(IdNote(group, _describe(group), location, event))
    # An id in a lookalike group is explained by its group's note; one note per id.
    for ident in sorted(i for i in filterfalse(str.isascii, ids) if i not in in_groups):
        found = mixed(ident)
        if found:
            from keytrail.textsafe import inline

            location, event = where(ident) if where else (None, None)
            names = " and ".join(s.title() for s in found)
            out.append(IdNote((ident,), f"{inline(ident)} mixes {names} letters in one identifier "
                                        "(a lookalike of an id in one script?)", location, event))
    return out


def project_ids(project: Any) -> set[str]:
    """Every id a project names: directory, key registry, history and snapshot."""
    directory = project.directory
    ids: set[str] = set(directory.principals) | set(directory.groups) | set(directory.roles)
    for p in directory.principals.values():
        ids.update(x for x in (p.manager, p.owner) if x)
    for t in (*directory.groups.values(), *directory.roles.values()):
        if t.owner:
            ids.add(t.owner)
    for key in project.keys.values():
        ids.update(x for x in (key.holder, key.owner, key.approved_by) if x)
    known = getattr(project, "history_ids", None)
    if known is not None:
        ids |= known
    else:
        events = project.events
        for index in (3, 4, 6, 8):  # subject, target, actor, approver (C-level passes)
            ids.update(map(itemgetter(index), events))
    for entry in project.snapshot or ():
        ids.update((entry.subject, entry.target))
    ids.discard(None)  # type: ignore[arg-type]
    return ids


def project_notes(project: Any) -> list[IdNote]:
    """The identifier notes of a loaded project, each located where its suspect id is first named."""
    ids = project_ids(project)
    found = notes(ids)
    if not found:
        return []
    directory = project.directory
    known = directory.principals.keys() | directory.groups.keys() | directory.roles.keys()
    suspects = {suspect(n.ids, known) for n in found}
    first: dict[str, tuple[Location | None, str | None]] = {}
    for ident in suspects:
        entry = directory.principals.get(ident) or directory.target(ident)
        if entry is not None and entry.location is not None:
            first[ident] = (entry.location, None)
    missing = suspects - set(first)
    for event in project.events if missing else ():
        for ident in (event.subject, event.target, event.actor, event.approver):
            if ident in missing:
                first[ident] = (project.event_location(event), event.id)
                missing.discard(ident)
        if not missing:
            break
    from dataclasses import replace

    located = []
    for note in found:
        location, event = first.get(suspect(note.ids, known), (None, None))
        located.append(replace(note, location=location, event=event))
    return located


def directory_warnings(directory: Any) -> list[Any]:
    """``keytrail lint``'s warnings: the notes over a directory's own ids, at their entries."""
    from keytrail.errors import Problem

    ids = set(directory.principals) | set(directory.groups) | set(directory.roles)
    out = []
    for note in notes(ids):
        odd = suspect(note.ids)
        entry = directory.principals.get(odd) or directory.target(odd)
        where = entry.location if entry is not None and entry.location is not None else None
        out.append(Problem(where.path if where else directory.file, where.line if where else 0,
                           where.column if where else 0, "", note.message, level="warning"))
    return out


__all__ = ["IdNote", "skeleton", "scripts", "mixed", "groups", "notes", "project_ids", "project_notes", "directory_warnings"]
