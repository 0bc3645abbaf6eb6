"""``keytrail init``: a working project folder, written without overwriting anything.

The files come from the ``project/`` folder beside this module (real YAML that the test
suite lints and tests), plus the JSON Schemas the files' ``yaml-language-server`` lines
point at, written from the packaged schemas so editors complete and validate offline.
Every file is checked before the first is written: a folder that already holds any of
them is refused whole, so a rerun never replaces a person's work. The one exception is
``.pre-commit-config.yaml``: a repository that already has one keeps it untouched, and the
hooks to add are printed instead.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from keytrail.errors import Problem, UsageError

TEMPLATES = Path(__file__).parent / "project"
#: (file in ``project/``, where it goes in the new project)
FILES = (
    ("keytrail.yaml", "keytrail.yaml"),
    ("directory.yaml", "directory.yaml"),
    ("keys.yaml", "keys.yaml"),
    ("policies/example.yaml", "policies/example.yaml"),
    ("policies/tests/example.test.yaml", "policies/tests/example.test.yaml"),
)
PRE_COMMIT = ("pre-commit-config.yaml", ".pre-commit-config.yaml")
#: The schemas the templates' ``yaml-language-server`` lines name.
SCHEMAS = ("project", "directory", "keys", "policy", "policytest")
SCHEMA_DIR = ".keytrail/schemas"
FOLDERS = ("history",)


class InitRefused(UsageError):
    consequence = "nothing was written"


@dataclass
class Scaffold:
    """What ``init`` wrote, and what it left alone."""

    root: Path
    written: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)   # existing files left untouched (pre-commit)
    pre_commit_snippet: str = ""


def plan(root: Path) -> list[tuple[str, bytes]]:
    """Every (relative path, content) to write; refuses (writing nothing) if any exists."""
    from keytrail.catalogue import schema_text

    files = [(dest, (TEMPLATES / src).read_bytes()) for src, dest in FILES]
    files += [(f"{SCHEMA_DIR}/{name}.schema.json", schema_text(name).encode("utf-8"))
              for name in SCHEMAS]
    if root.exists() and not root.is_dir():
        raise InitRefused(f"{root} is a file: keytrail init makes a project folder")
    above = _nearest_existing(root)
    if not above.is_dir():
        raise InitRefused(f"{above} is a file, not a folder: keytrail init cannot make {root} in it")
    taken = [dest for dest, _ in files if os.path.lexists(root / dest)]
    problems = [Problem(str(root / name), 0, 0, "", "exists (keytrail init never overwrites)")
                for name in sorted(taken)]
    # A folder init writes into must be a real folder of the project: a link there
    # (`policies -> ../elsewhere`, `.keytrail -> ~/.config`) would send the files outside
    # it, and a file there would stop the writing halfway.
    problems += [Problem(str(root / name), 0, 0, "", problem)
                 for name, problem in sorted(_bad_folders(root, [dest for dest, _ in files]))]
    if problems:
        raise InitRefused(
            f"{root} already holds keytrail files: keytrail init never overwrites",
            sorted(set(problems)))
    return files


def _nearest_existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists (the current folder at the end)."""
    for candidate in (path, *path.parents):
        if os.path.lexists(candidate):
            return candidate
    return Path(".")


def _bad_folders(root: Path, dests: list[str]) -> set[tuple[str, str]]:
    """(folder, problem) for each folder under ``root`` that init would write into, or
    create, and that is a link or not a folder."""
    folders = {str(Path(dest).parent) for dest in dests} | set(FOLDERS)
    bad: set[tuple[str, str]] = set()
    for folder in folders:
        parts = Path(folder).parts if folder != "." else ()
        for depth in range(1, len(parts) + 1):
            name = "/".join(parts[:depth])
            path = root / name
            if path.is_symlink():
                bad.add((name, "is a link (keytrail init writes only into folders of its own)"))
                break
            if os.path.lexists(path) and not path.is_dir():
                bad.add((name, "is a file where keytrail init makes a folder"))
                break
    return bad


def init(root: Path) -> Scaffold:
    """Write a new project into ``root`` (created if missing)."""
    files = plan(root)
    done = Scaffold(root)
    snippet_src, snippet_dest = PRE_COMMIT
    snippet = (TEMPLATES / snippet_src).read_text(encoding="utf-8")
    if os.path.lexists(root / snippet_dest):
        done.kept.append(snippet_dest)
        done.pre_commit_snippet = snippet
    else:
        files.append((snippet_dest, snippet.encode("utf-8")))
    try:
        for folder in FOLDERS:
            (root / folder).mkdir(parents=True, exist_ok=True)
        for dest, content in files:
            path = root / dest
            path.parent.mkdir(parents=True, exist_ok=True)
            if _bad_folders(root, [dest]):  # a link planted since the plan
                raise FileExistsError(f"{path.parent} became a link or a file")
            with open(path, "xb") as handle:  # "x": never replace a file that appeared meanwhile
                done.written.append(dest)
                handle.write(content)
    except OSError as exc:
        # Take back exactly the files this run created, so that "nothing was written" holds.
        for dest in done.written:
            with contextlib.suppress(OSError):
                os.unlink(root / dest)
        where = exc.filename if isinstance(exc.filename, str) else str(root)
        raise InitRefused(f"{root}: cannot write the project",
                          [Problem(where, 0, 0, "", f"cannot write: {exc.strerror or exc}")]) from None
    return done


def project_root_of(out: Path) -> Path | None:
    """The project an imported history file lands in: the nearest folder (the file's own, or
    its parent's for ``history/x.jsonl``) with a ``keytrail.yaml``; None when there is none."""
    from keytrail.project import PROJECT_FILE  # the one name a project is loaded from

    folder = out.parent
    for candidate in (folder, folder.parent):
        if (candidate / PROJECT_FILE).is_file():
            return candidate
    return None
