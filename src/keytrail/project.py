"""Loading a project: ``keytrail.yaml`` and everything it names.

Each YAML input is parsed with positions (:mod:`keytrail.yamlload`), checked
against its JSON Schema, then turned into domain objects with the semantic
checks a schema cannot express (duplicate ids, impossible dates). Problems are
collected across all files and raised together, so one run shows a user
everything that is wrong, not the first thing.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keytrail.confine import Confinement
from keytrail.errors import InputError, KeytrailError, Problem, cap_problems
from keytrail.history import ChainBreak, load_history
from keytrail.model import Directory, Event, Key, Location, Policy, Principal, SnapshotEntry, Target
from keytrail.snapshot import load_snapshot
from keytrail.textsafe import excerpt
from keytrail.timeutil import TimeFormatError, parse_time
from keytrail.yamlload import Locator, YamlError, load_yaml

PROJECT_FILE = "keytrail.yaml"
#: ``policies: [keytrail:default]`` names a policy pack shipped inside the package.
PACK_PREFIX = "keytrail:"
#: Largest YAML input read (the directory of a 100,000-person organisation is ~30 MB).
MAX_YAML_BYTES = 256 << 20


@dataclass
class Project:
    """Everything ``keytrail.yaml`` names, loaded and validated."""

    root: Path
    directory: Directory
    keys: dict[str, Key]
    history_files: list[str]
    events: Sequence[Event]
    chain_breaks: list[ChainBreak] = field(default_factory=list)
    snapshot: list[SnapshotEntry] | None = None
    snapshot_file: str | None = None
    #: When the snapshot was captured and how long before as_of it may be (see keytrail.snapshot_fit).
    snapshot_time: int | None = None
    max_snapshot_age: int = 7 * 86_400_000_000
    policies: list[Policy] = field(default_factory=list)
    name: str = ""
    #: Every file read: keytrail.yaml, directory, keys, history, snapshot, policies.
    inputs: tuple[Path, ...] = ()
    #: The distinct ids of the history, when the loader kept them (see History.identifiers).
    history_ids: set[str] | None = None
    #: The history verified against its checkpoint log (an integrity.Verification), when configured.
    anchor: Any = None
    #: The usage records (``usage:``; see keytrail.usage), None when the project has none configured.
    usage: list[Any] | None = None
    usage_files: list[str] = field(default_factory=list)
    #: The history as a DuckDB table (a core.load.Loaded) when the columnar engine read it;
    #: ``events`` is then a core.rows.LazyEvents.
    columnar: Any = None

    def event_location(self, event: Event) -> Location:
        """Where an event was written."""
        return Location(self.history_files[event.file], event.line)


def yaml_kind(path: Path) -> str | None:
    """The top-level ``kind`` of a YAML file as parsed (``Policy``, ``PolicyTest``), or None.

    Never guessed from the text: a policy whose notes mention ``kind:
    PolicyTest`` is still a policy. None when the file cannot be read, is not
    a mapping, or has no string ``kind``; whoever loads it reports why.
    """
    try:
        data, _ = read_yaml(path, path.name)
    except KeytrailError:
        return None
    kind = data.get("kind") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def yaml_files(folder: Path) -> list[Path]:
    """Every ``*.yaml`` / ``*.yml`` file under ``folder``, sorted."""
    # `.YAML` too: a policy left out for the case of its extension would be a policy silently off.
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".yaml", ".yml") and p.is_file())


def pack_names() -> list[str]:
    """The names of the policy packs shipped inside the package."""
    packs = Path(__file__).parent / "packs"
    return sorted(p.stem for p in packs.glob("*.yaml"))


def packaged_pack(name: str) -> Path | None:
    """The file of packaged policy pack ``name``, if it exists."""
    path = Path(__file__).parent / "packs" / f"{name}.yaml"
    return path if name in pack_names() else None


def display_path(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` in POSIX form when inside it, else as given."""
    # Resolved first; then as written (a link inside the project is named where it is).
    for candidate, base in ((path.resolve(), root.resolve()), (Path(os.path.abspath(path)), root.resolve()),
                            (Path(os.path.abspath(path)), Path(os.path.abspath(root)))):
        try:
            return candidate.relative_to(base).as_posix()
        except ValueError:
            pass
    packs = (Path(__file__).parent / "packs").resolve()
    if path.resolve().parent == packs:
        return PACK_PREFIX + path.stem
    return path.as_posix()


def read_yaml(path: Path, display: str) -> tuple[Any, Locator]:
    """Read and parse one YAML file, raising :class:`InputError` with located problems."""
    data = _read_bytes(path, display)
    try:
        return load_yaml(data, display)
    except YamlError as exc:
        raise InputError(f"{display}: invalid YAML", exc.problems) from None


def read_yaml_whole(path: Path, display: str) -> tuple[Any, Locator, list[Problem]]:
    """Like :func:`read_yaml`, but problems that leave the document whole are returned, not raised.

    A duplicate key (the first value is kept), an unsupported tag or a second
    document is an error, yet the rest of the file can still be checked: a
    linter that stops at the first of them hides every other problem.
    """
    data = _read_bytes(path, display)
    try:
        document, loc = load_yaml(data, display)
    except YamlError as exc:
        if exc.partial is None:
            raise InputError(f"{display}: invalid YAML", exc.problems) from None
        return exc.partial[0], exc.partial[1], exc.problems
    return document, loc, []


def _read_bytes(path: Path, display: str) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise InputError(f"{display}: too large", [Problem(display, 0, 0, "",
                             f"file is {size:,} bytes; at most {MAX_YAML_BYTES:,} are read")])
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{display}: not found", [Problem(display, 0, 0, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError(f"{display}: is a folder", [Problem(display, 0, 0, "", "expected a file, found a folder")]) from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read", [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None


def _time(value: Any, locator: Locator, path: tuple[Any, ...], problems: list[Problem]) -> int | None:
    if value is None:
        return None
    try:
        return parse_time(value)
    except TimeFormatError as exc:
        problems.append(locator.problem(path, str(exc)))
        return None


def _checked(data: Any, schema: str, locator: Locator, display: str) -> None:
    """Validate against a schema; raise with every problem found (capped)."""
    from keytrail.schemas import validate

    if data is None:
        raise InputError(f"{display}: empty", [Problem(display, 1, 1, "", "the file is empty")])
    problems = validate(data, schema, locator)
    if problems:
        raise InputError(f"{display}: invalid", cap_problems(problems, display))


def load_directory(path: Path, display: str) -> Directory:
    """Load ``directory.yaml``."""
    data, loc = read_yaml(path, display)
    _checked(data, "directory", loc, display)
    from keytrail.ids import located_problems

    problems: list[Problem] = located_problems(data.get("principals"), ("id", "manager", "owner"), loc,
                                               ("principals",))
    for section in ("groups", "roles"):
        problems += located_problems(data.get(section), ("id", "owner"), loc, (section,))
    seen: dict[str, tuple[Any, ...]] = {}
    principals: dict[str, Principal] = {}
    groups: dict[str, Target] = {}
    roles: dict[str, Target] = {}

    def first_time(ident: str, where: tuple[Any, ...]) -> bool:
        if ident in seen:
            line = loc.at(seen[ident])[0]
            problems.append(loc.problem(where + ("id",), f"duplicate id {ident!r} (first defined at line {line})"))
            return False
        seen[ident] = where
        return True

    for i, p in enumerate(data.get("principals") or []):
        where = ("principals", i)
        if not first_time(p["id"], where):
            continue
        line, col = loc.at(where)
        principals[p["id"]] = Principal(
            id=p["id"], name=p.get("name", ""), email=p.get("email", ""),
            status=p.get("status", "active"), manager=p.get("manager"), owner=p.get("owner"),
            attributes=dict(p.get("attributes") or {}),
            terminated_at=_time(p.get("terminated_at"), loc, where + ("terminated_at",), problems),
            suspended_at=_time(p.get("suspended_at"), loc, where + ("suspended_at",), problems),
            location=Location(display, line, col))
    for section, out in (("groups", groups), ("roles", roles)):
        for i, t in enumerate(data.get(section) or []):
            where = (section, i)
            if not first_time(t["id"], where):
                continue
            line, col = loc.at(where)
            out[t["id"]] = Target(
                id=t["id"], name=t.get("name", ""), description=t.get("description", ""),
                owner=t.get("owner"), privileged=bool(t.get("privileged", False)),
                permissions=frozenset(t.get("permissions") or ()),
                attributes=dict(t.get("attributes") or {}), location=Location(display, line, col))
    if problems:
        raise InputError(f"{display}: invalid", cap_problems(sorted(problems), display))
    return Directory(principals, groups, roles, display)


def load_keys(path: Path, display: str) -> dict[str, Key]:
    """Load the key registry ``keys.yaml``."""
    data, loc = read_yaml(path, display)
    _checked(data, "keys", loc, display)
    from keytrail.ids import located_problems

    problems: list[Problem] = located_problems(data.get("keys"), ("holder", "owner", "approved_by", "scope"),
                                               loc, ("keys",))
    keys: dict[str, Key] = {}
    for i, k in enumerate(data.get("keys") or []):
        where = ("keys", i)
        if k["id"] in keys:
            first = keys[k["id"]].location
            problems.append(loc.problem(where + ("id",), f"duplicate key id {k['id']!r} "
                                        f"(first defined at line {first.line if first else '?'})"))
            continue
        line, col = loc.at(where)
        keys[k["id"]] = Key(
            id=k["id"], holder=k["holder"], owner=k.get("owner"), purpose=k.get("purpose", ""),
            ticket=k.get("ticket", ""), approved_by=k.get("approved_by"), scope=tuple(k["scope"]),
            not_before=_time(k.get("not_before"), loc, where + ("not_before",), problems),
            expires=_time(k.get("expires"), loc, where + ("expires",), problems),
            revoked_at=_time(k.get("revoked_at"), loc, where + ("revoked_at",), problems),
            location=Location(display, line, col), replaces=k.get("replaces"))
    for i, k in enumerate(data.get("keys") or []):
        # A succession link to no key is a broken chain of custody, not a note.
        replaced = k.get("replaces")
        if replaced is not None and (replaced == k["id"] or replaced not in keys):
            why = "a key cannot replace itself" if replaced == k["id"] else "no key of the registry has this id"
            problems.append(loc.problem(("keys", i, "replaces"), f"replaces {excerpt(replaced)!r}: {why}"))
    if problems:
        raise InputError(f"{display}: invalid", cap_problems(sorted(problems), display))
    return keys


@dataclass
class ProjectConfig:
    """``keytrail.yaml``, with paths resolved."""

    root: Path
    file: str
    name: str
    directory: Path
    keys: Path
    history: list[Path]
    snapshot: Path | None
    policies: list[Path]
    #: The policy files found in folders (there, a ``kind: PolicyTest`` file is a test and is left out).
    from_folders: set[Path] = field(default_factory=set)

    def files(self) -> list[Path]:
        """Every file the project reads, keytrail.yaml first (outputs must never be one)."""
        named = [self.root / self.file, self.directory, self.keys, *self.history,
                 *([self.snapshot] if self.snapshot else []), *self.usage, *self.policies,
                 *([self.checkpoints] if self.checkpoints else []), *self.trusted_keys]
        return [p for p in named if p != self.root]

    #: The checkpoint log (``checkpoints:``; it need not exist yet) and the keys that sign it.
    checkpoints: Path | None = None
    trusted_keys: list[Path] = field(default_factory=list)
    #: When the snapshot was captured (``snapshot_time:``) and how old it may be (``max_snapshot_age:``).
    snapshot_time: int | None = None
    max_snapshot_age: int = 7 * 86_400_000_000
    #: The usage files (``usage:``, files or globs of JSONL; see keytrail.usage).
    usage: list[Path] = field(default_factory=list)


def find_config(target: Path) -> Path:
    """The ``keytrail.yaml`` for a DIR argument (or the file itself)."""
    if target.is_file():
        return target
    if not target.exists():
        raise InputError(f"{target}: no such folder", [Problem(str(target), 0, 0, "", "no such file or folder")])
    config = target / PROJECT_FILE
    if not config.is_file():
        raise InputError(f"{target}: no {PROJECT_FILE}", [Problem(
            str(target), 0, 0, "", f"no {PROJECT_FILE} here; keytrail reviews a folder holding one "
            "(see `keytrail schema project`)")])
    if not Confinement.of(target).contains(config):
        # A project folder's keytrail.yaml that links elsewhere would let the folder's
        # author choose what keytrail reads (and quotes) from outside it.
        raise InputError(f"{config}: outside the project", [Problem(
            str(config), 0, 0, "", f"is a link to a file outside {target}; keytrail reads "
            f"only a {PROJECT_FILE} inside the project folder (name the file itself to use it)")])
    return config


def load_config(target: Path, allow_outside: Sequence[str | Path] = ()) -> ProjectConfig:
    """Read and resolve ``keytrail.yaml`` for a folder (or the file itself).

    Every path it names must resolve inside the project folder or one of the
    ``allow_outside`` folders (see :mod:`keytrail.confine`); a path that does
    not is an error, and nothing is read from it.
    """
    config = find_config(target)
    root = config.parent
    display = config.name
    data, loc = read_yaml(config, display)
    _checked(data, "project", loc, display)
    problems: list[Problem] = []
    confined = Confinement.of(root, allow_outside)

    def listed(key: str) -> list[tuple[str, tuple[Any, ...]]]:
        value = data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, (key,))]
        return [(v, (key, i)) for i, v in enumerate(value)]

    def refuse(where: tuple[Any, ...], written: str, found: Path | None = None) -> None:
        match = None if found is None else display_path(found, root)
        problems.append(loc.problem(where, confined.refusal(written, match)))

    def single(key: str) -> Path | None:
        value = data.get(key)
        if value is None:
            return None
        path = root / value
        if not confined.contains(path):
            refuse((key,), value)
        elif not path.is_file():
            problems.append(loc.problem((key,), f"'{excerpt(value)}': file not found"))
        return path

    def expanded(key: str) -> list[Path]:
        """The files of a list of files or globs (``history:``, ``usage:``), in order, each once."""
        out: list[Path] = []
        for pattern, where in listed(key):
            magic = glob.has_magic(pattern)
            if not (confined.starts_inside(pattern) if magic else confined.contains(root / pattern)):
                refuse(where, pattern)  # refused before anything outside is looked at
                continue
            files, refused = confined.expand(pattern) if magic else \
                ([root / pattern] if (root / pattern).is_file() else [], [])
            for outside in refused[:3]:
                refuse(where, pattern, outside)
            if len(refused) > 3:
                problems.append(loc.problem(where, f"... and {len(refused) - 3} more matches outside"))
            if not files and not refused:
                # A file to import, not to write by hand.
                problems.append(loc.problem(where, f"'{excerpt(pattern)}' matches no file (write one with "
                                                   "`keytrail import FORMAT INPUT --out FILE`)"))
            for f in files:
                if f not in out:
                    out.append(f)
        return out

    history = expanded("history")
    usage = expanded("usage")
    policies: list[Path] = []
    from_folders: set[Path] = set()
    for entry, where in listed("policies"):
        if entry.startswith(PACK_PREFIX):
            pack = packaged_pack(entry[len(PACK_PREFIX):])
            if pack is None:
                problems.append(loc.problem(where, f"'{excerpt(entry)}': no such packaged policy pack "
                                            f"(available: {', '.join(PACK_PREFIX + n for n in pack_names())})"))
            elif pack not in policies:
                policies.append(pack)
            continue
        path = root / entry
        if not confined.contains(path):
            refuse(where, entry)
        elif path.is_dir():
            # Every file: what each is (a policy, its test, or a mistake) is decided when it is parsed.
            # `.YAML` too: a policy left out for the case of its extension would be a policy silently off.
            files, refused = confined.files_under(path)
            for outside in refused[:3]:
                refuse(where, entry, outside)
            found = [p for p in files if p.suffix.lower() in (".yaml", ".yml")]
            from_folders.update(found)
            policies.extend(p for p in found if p not in policies)
        elif path.is_file():
            if path not in policies:
                policies.append(path)
        else:
            problems.append(loc.problem(where, f"'{excerpt(entry)}': no such file or folder"))
    result = ProjectConfig(root, display, data.get("name", ""), single("directory") or root,
                           single("keys") or root, history, single("snapshot"), policies, from_folders)
    result.usage = usage
    _anchor_config(result, data, loc, problems, confined)
    _snapshot_config(result, data, loc, problems)
    if problems:
        raise InputError(f"{display}: invalid", problems)
    return result


def _snapshot_config(cfg: ProjectConfig, data: dict[str, Any], loc: Locator, problems: list[Problem]) -> None:
    """``snapshot_time:`` (when the snapshot was captured) and ``max_snapshot_age:``."""
    from keytrail.timeutil import parse_duration

    when = data.get("snapshot_time")
    if when is not None:
        if cfg.snapshot is None:
            problems.append(loc.problem(("snapshot_time",), "snapshot_time is set but no snapshot is"))
        try:
            cfg.snapshot_time = parse_time(str(when))
        except TimeFormatError as exc:
            problems.append(loc.problem(("snapshot_time",), f"'{excerpt(str(when))}': {exc}"))
    age = data.get("max_snapshot_age")
    if age is not None:
        try:
            cfg.max_snapshot_age = parse_duration(str(age))
        except TimeFormatError as exc:
            problems.append(loc.problem(("max_snapshot_age",), str(exc)))
        else:
            if cfg.max_snapshot_age <= 0:
                problems.append(loc.problem(("max_snapshot_age",), "must be longer than zero"))


def _anchor_config(cfg: ProjectConfig, data: dict[str, Any], loc: Locator, problems: list[Problem],
                   confined: Confinement) -> None:
    """``checkpoints:`` and ``trusted_keys:``: the checkpoint log may not exist yet, the keys must;
    both stay inside the project like every other path of ``keytrail.yaml``."""
    log = data.get("checkpoints")
    if log is not None and not confined.contains(cfg.root / log):
        problems.append(loc.problem(("checkpoints",), confined.refusal(log, None)))
    elif log is not None:
        cfg.checkpoints = cfg.root / log
        inputs = [cfg.directory, cfg.keys, *cfg.history, *([cfg.snapshot] if cfg.snapshot else [])]
        patterns = data.get("history") or []
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if any(cfg.checkpoints.resolve() == p.resolve() for p in inputs) or any(
                fnmatch.fnmatch(str(log), str(pattern)) for pattern in patterns):
            problems.append(loc.problem(("checkpoints",), f"'{excerpt(log)}' is an input of the project; the "
                                        "checkpoint log must be a file of its own"))
    for i, entry in enumerate(data.get("trusted_keys") or []):
        path = cfg.root / entry
        if not confined.contains(path):
            problems.append(loc.problem(("trusted_keys", i), confined.refusal(entry, None)))
            continue
        if not path.is_file():
            problems.append(loc.problem(("trusted_keys", i), f"'{excerpt(entry)}': key file not found"))
        cfg.trusted_keys.append(path)


def load_project(target: Path, extra_policies: list[Path] | None = None,
                 allow_outside: Sequence[str | Path] = (), engine: Any = None) -> Project:
    """Load the whole project: every file validated, every problem reported together.

    ``engine`` (a core.EngineOptions) chooses how the history is read: see keytrail.core.
    """
    cfg = load_config(target, allow_outside)
    root = cfg.root
    problems: list[Problem] = []
    results: dict[str, Any] = {}

    def attempt(name: str, fn: Any, *args: Any) -> None:
        try:
            results[name] = fn(*args)
        except KeytrailError as exc:
            problems.extend(exc.problems or [Problem(name, 0, 0, "", exc.message)])

    history_loader = _history_loader(cfg, engine)
    # The columnar core starts reading the history on DuckDB's threads now, while Python reads
    # the directory and the key registry (the exact path has nothing to start).
    getattr(history_loader, "start", lambda paths: None)(cfg.history)
    attempt("directory", load_directory, cfg.directory, display_path(cfg.directory, root))
    attempt("keys", load_keys, cfg.keys, display_path(cfg.keys, root))
    displays = [display_path(p, root) for p in cfg.history]
    attempt("history", history_loader, cfg.history, displays)
    if cfg.snapshot is not None:
        attempt("snapshot", load_snapshot, cfg.snapshot, display_path(cfg.snapshot, root))
    usage_files = [display_path(p, root) for p in cfg.usage]
    if cfg.usage:
        from keytrail.usage.load import load_usage

        attempt("usage", load_usage, cfg.usage, usage_files)
    from keytrail.policy import load_policies

    policy_files = cfg.policies + list(extra_policies or [])
    directory = results.get("directory")
    known = [*directory.principals, *directory.groups, *directory.roles] if directory is not None else None
    attempt("policies", load_policies, policy_files, [display_path(p, root) for p in policy_files],
            known, cfg.from_folders - set(extra_policies or []))
    if cfg.checkpoints is not None and not problems:
        # Only projects that anchor their history pay for verifying it (and import cryptography).
        from keytrail.integrity.verify import verify_config

        attempt("checkpoints", verify_config, cfg, False)
    if problems:
        raise InputError("invalid input", problems)
    history = results["history"]
    columnar = getattr(history, "loaded", None)
    return Project(
        root=root, directory=results["directory"], keys=results["keys"],
        history_files=history.files, events=history.events, chain_breaks=history.chain_breaks,
        snapshot=results.get("snapshot"),
        snapshot_file=display_path(cfg.snapshot, root) if cfg.snapshot else None,
        snapshot_time=cfg.snapshot_time, max_snapshot_age=cfg.max_snapshot_age,
        policies=results["policies"], name=cfg.name or root.resolve().name,
        inputs=(*cfg.files(), *policy_files[len(cfg.policies):]),
        history_ids=history.identifiers,
        anchor=results.get("checkpoints"),
        usage=results.get("usage") if cfg.usage else None, usage_files=usage_files,
        columnar=columnar)


def _history_loader(cfg: ProjectConfig, engine: Any) -> Any:
    """The function that reads the history: the exact Python path, or the columnar core for a
    large history (which hands back to the exact path any history it cannot vouch for)."""
    if engine is None:
        return load_history
    from keytrail.core import choose

    def note(text: str) -> None:
        print(f"keytrail: note: {text}", file=sys.stderr)

    if choose(engine, cfg.history, note) == "python":
        return load_history
    from keytrail.core.history import loader

    return loader(engine)
