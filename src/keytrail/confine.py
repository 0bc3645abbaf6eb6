"""Keeping the paths of ``keytrail.yaml`` inside the project.

``keytrail.yaml`` usually comes from a repository that anyone can open a pull
request against. If its paths could leave the project folder, a pull request
could make a CI run read ``~/.git-credentials`` and print it in an error
message, or crawl the whole filesystem with ``history: ["/**/*.jsonl"]``. So
every path the project file names must resolve, symbolic links included,
inside the project folder, or inside a folder the person running keytrail
allowed on the command line (``--allow-outside DIR``, repeatable). A path that
does not is refused before anything is read from it (not even whether it
exists is revealed).

Paths given on the command line (``--policy``, ``--baseline``, ``--previous``,
``--template``, worksheets) are the user's own choice and are not confined;
nor are the policy packs shipped inside keytrail (``keytrail:default``).
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from keytrail.textsafe import excerpt


@dataclass(frozen=True)
class Confinement:
    """The folders a project file's paths may resolve into: the project and any allowed."""

    root: Path
    allowed: tuple[Path, ...] = ()

    @classmethod
    def of(cls, root: Path, allow_outside: Sequence[str | Path] = ()) -> Confinement:
        """The confinement of the project at ``root`` with the folders the user allowed."""
        return cls(root.resolve(), tuple(Path(a).resolve() for a in allow_outside))

    def bases(self) -> tuple[Path, ...]:
        return (self.root, *self.allowed)

    def contains(self, path: Path) -> bool:
        """Whether ``path``, with every symbolic link resolved, lies inside an allowed folder."""
        try:
            real = path.resolve()
        except (OSError, RuntimeError):  # a symlink loop resolves nowhere
            return False
        return any(real == base or real.is_relative_to(base) for base in self.bases())

    def refusal(self, written: str, match: str | None = None) -> str:
        """Why the path ``written`` in the project file (or its ``match``) is refused."""
        what = f"'{excerpt(written)}'" if match is None else \
            f"'{excerpt(written)}' matches '{excerpt(match)}', which"
        return (f"{what} resolves outside the project folder; keytrail reads only files inside "
                "it (pass --allow-outside DIR to allow a folder outside)")

    def files_under(self, folder: Path) -> tuple[list[Path], list[Path]]:
        """Every file below ``folder`` (hidden ones too): (inside, refused). Links to
        folders are not entered; a linked file that resolves outside is refused."""
        inside: list[Path] = []
        refused: list[Path] = []
        for top, dirs, files in os.walk(folder, followlinks=False):
            dirs.sort()
            for name in sorted(files):
                path = Path(top) / name
                (inside if self.contains(path) else refused).append(path)
            refused.extend(Path(top) / d for d in dirs
                           if (Path(top) / d).is_symlink() and not self.contains(Path(top) / d))
        return sorted(inside), sorted(refused)

    def _split(self, pattern: str) -> tuple[Path, Path, tuple[str, ...]]:
        full = Path(os.path.normpath(os.path.join(str(self.root), pattern)))
        fixed: list[str] = []
        for part in full.parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        return full, Path(*fixed), full.parts[len(fixed):]

    def starts_inside(self, pattern: str) -> bool:
        """Whether a glob pattern's fixed start (before its first wildcard) is inside."""
        return self.contains(self._split(pattern)[1])

    def expand(self, pattern: str) -> tuple[list[Path], list[Path]]:
        """The files a glob pattern (relative to the project) matches: (inside, refused).

        The pattern's fixed start (everything before its first wildcard, ``..``
        collapsed) must lie inside first, so that ``/**/*.jsonl`` or ``../../**``
        is refused without walking anything; each match is then resolved and
        checked too (a symbolic link inside may point outside).
        """
        full, base, wild = self._split(pattern)
        if not self.contains(base):
            return [], [base]
        if "**" in wild:
            matches = _walk_glob(base, wild)
        else:
            matches = sorted(glob.glob(str(full)))
        inside: list[Path] = []
        refused: list[Path] = []
        for match in matches:
            path = Path(match)
            if not self.contains(path):
                refused.append(path)
            elif path.is_file():
                inside.append(path)
        return inside, refused


def _walk_glob(base: Path, segments: tuple[str, ...]) -> list[str]:
    """``glob.glob(base/segments, recursive=True)`` without following symbolic links to folders.

    ``glob`` descends into a linked folder, so one link to ``/`` inside the project
    would make ``**`` walk the whole filesystem; this walk never enters a linked
    folder but returns it, with every matching file (linked ones too), so that the
    caller refuses a link pointing outside.
    Hidden files and folders match only a segment that starts with ``.``, as in glob.
    """
    found: list[str] = []
    hidden = any(s.startswith(".") for s in segments)
    for folder, dirs, files in os.walk(base, followlinks=False):
        if not hidden:  # never walk .git and the like for a pattern that cannot match in them
            dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel = Path(folder).relative_to(base).parts
        for name in files:
            if _matches((*rel, name), segments):
                found.append(os.path.join(folder, name))
        # A linked folder is listed (so that one pointing outside is refused, not skipped
        # unseen) but never entered.
        found.extend(os.path.join(folder, d) for d in dirs if os.path.islink(os.path.join(folder, d)))
    return sorted(found)


def _matches(parts: tuple[str, ...], segments: tuple[str, ...]) -> bool:
    """Whether a relative path (its parts) matches glob ``segments``, ``**`` spanning folders."""
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        return any(_matches(parts[i:], rest) for i in range(len(parts) + 1)
                   if all(not p.startswith(".") for p in parts[:i]))
    if not parts:
        return False
    name = parts[0]
    if name.startswith(".") and not head.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, head) and _matches(parts[1:], rest)


def is_or_holds(out: Path, path: Path) -> bool:
    """Whether writing ``out`` (a file, or a folder replaced whole) would replace ``path``:
    ``out`` resolves to ``path`` or to a folder above it."""
    target = out.resolve()
    source = path.resolve()
    return source == target or target in source.parents
