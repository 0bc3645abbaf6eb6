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
    taken = [dest for dest, _ in files if os.path.lexists(root / dest)]
    taken += [folder for folder in FOLDERS
              if os.path.lexists(root / folder) and not (root / folder).is_dir()]
    if taken:
        raise InitRefused(
            f"{root} already holds keytrail files: keytrail init never overwrites",
            [Problem(str(root / name), 0, 0, "", "exists (keytrail init never overwrites)")
             for name in sorted(taken)])
    return files


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
    for folder in FOLDERS:
        (root / folder).mkdir(parents=True, exist_ok=True)
    for dest, content in files:
        path = root / dest
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "xb") as handle:  # "x": never replace a file that appeared meanwhile
            handle.write(content)
        done.written.append(dest)
    return done


def project_root_of(out: Path) -> Path | None:
    """The project an imported history file lands in: the nearest folder (the file's own, or
    its parent's for ``history/x.jsonl``) with a ``keytrail.yaml``; None when there is none."""
    folder = out.parent
    for candidate in (folder, folder.parent):
        if (candidate / "keytrail.yaml").is_file() or (candidate / "keytrail.yml").is_file():
            return candidate
    return None
