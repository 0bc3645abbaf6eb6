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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, KeytrailError, Problem, cap_problems
from keytrail.history import ChainBreak, load_history, load_snapshot
from keytrail.model import Directory, Event, Key, Location, Policy, Principal, SnapshotEntry, Target
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
    events: list[Event]
    chain_breaks: list[ChainBreak] = field(default_factory=list)
    snapshot: list[SnapshotEntry] | None = None
    snapshot_file: str | None = None
    policies: list[Policy] = field(default_factory=list)
    name: str = ""
    #: The history verified against its checkpoint log (an integrity.Verification), when configured.
    anchor: Any = None

    def event_location(self, event: Event) -> Location:
        """Where an event was written."""
        return Location(self.history_files[event.file], event.line)


def is_policy_test(path: Path) -> bool:
    """Whether a YAML file is a ``kind: PolicyTest`` file (policy folders may hold their tests)."""
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            head = handle.read(4096)
    except OSError:
        return False
    return any(line.split("#")[0].strip().replace(" ", "").replace('"', "").replace("'", "") == "kind:PolicyTest"
               for line in head.splitlines())


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
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        pass
    packs = (Path(__file__).parent / "packs").resolve()
    if path.resolve().parent == packs:
        return PACK_PREFIX + path.stem
    return path.as_posix()


def read_yaml(path: Path, display: str) -> tuple[Any, Locator]:
    """Read and parse one YAML file, raising :class:`InputError` with located problems."""
    try:
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise InputError(f"{display}: too large", [Problem(display, 0, 0, "",
                             f"file is {size:,} bytes; at most {MAX_YAML_BYTES:,} are read")])
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{display}: not found", [Problem(display, 0, 0, "", "file not found")]) from None
    except IsADirectoryError:
        raise InputError(f"{display}: is a folder", [Problem(display, 0, 0, "", "expected a file, found a folder")]) from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read", [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    try:
        return load_yaml(data, display)
    except YamlError as exc:
        raise InputError(f"{display}: invalid YAML", exc.problems) from None


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
    problems: list[Problem] = []
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
    problems: list[Problem] = []
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
            location=Location(display, line, col))
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
    #: The checkpoint log (``checkpoints:``; it need not exist yet) and the keys that sign it.
    checkpoints: Path | None = None
    trusted_keys: list[Path] = field(default_factory=list)


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
    return config


def load_config(target: Path) -> ProjectConfig:
    """Read and resolve ``keytrail.yaml`` for a folder (or the file itself)."""
    config = find_config(target)
    root = config.parent
    display = config.name
    data, loc = read_yaml(config, display)
    _checked(data, "project", loc, display)
    problems: list[Problem] = []

    def listed(key: str) -> list[tuple[str, tuple[Any, ...]]]:
        value = data.get(key)
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, (key,))]
        return [(v, (key, i)) for i, v in enumerate(value)]

    def single(key: str) -> Path | None:
        value = data.get(key)
        if value is None:
            return None
        path = root / value
        if not path.is_file():
            problems.append(loc.problem((key,), f"{value!r}: file not found"))
        return path

    history: list[Path] = []
    for pattern, where in listed("history"):
        matches = sorted(glob.glob(str(root / pattern), recursive=True)) if glob.has_magic(pattern) \
            else ([str(root / pattern)] if (root / pattern).exists() else [])
        files = [Path(m) for m in matches if Path(m).is_file()]
        if not files:
            problems.append(loc.problem(where, f"{pattern!r} matches no file"))
        for f in files:
            if f not in history:
                history.append(f)
    policies: list[Path] = []
    for entry, where in listed("policies"):
        if entry.startswith(PACK_PREFIX):
            pack = packaged_pack(entry[len(PACK_PREFIX):])
            if pack is None:
                problems.append(loc.problem(where, f"{entry!r}: no such packaged policy pack "
                                            f"(available: {', '.join(PACK_PREFIX + n for n in pack_names())})"))
            elif pack not in policies:
                policies.append(pack)
            continue
        path = root / entry
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                           and not is_policy_test(p))  # a policy's tests may live beside it
            policies.extend(p for p in found if p not in policies)
        elif path.is_file():
            if path not in policies:
                policies.append(path)
        else:
            problems.append(loc.problem(where, f"{entry!r}: no such file or folder"))
    result = ProjectConfig(root, display, data.get("name", ""), single("directory") or root,
                           single("keys") or root, history, single("snapshot"), policies)
    _anchor_config(result, data, loc, problems)
    if problems:
        raise InputError(f"{display}: invalid", problems)
    return result


def _anchor_config(cfg: ProjectConfig, data: dict[str, Any], loc: Locator, problems: list[Problem]) -> None:
    """``checkpoints:`` and ``trusted_keys:``: the checkpoint log may not exist yet, the keys must."""
    log = data.get("checkpoints")
    if log is not None:
        cfg.checkpoints = cfg.root / log
        inputs = [cfg.directory, cfg.keys, *cfg.history, *([cfg.snapshot] if cfg.snapshot else [])]
        patterns = data.get("history") or []
        patterns = [patterns] if isinstance(patterns, str) else patterns
        if any(cfg.checkpoints.resolve() == p.resolve() for p in inputs) or any(
                fnmatch.fnmatch(str(log), str(pattern)) for pattern in patterns):
            problems.append(loc.problem(("checkpoints",), f"{log!r} is an input of the project; the "
                                        "checkpoint log must be a file of its own"))
    for i, entry in enumerate(data.get("trusted_keys") or []):
        path = cfg.root / entry
        if not path.is_file():
            problems.append(loc.problem(("trusted_keys", i), f"{entry!r}: key file not found"))
        cfg.trusted_keys.append(path)


def load_project(target: Path, extra_policies: list[Path] | None = None) -> Project:
    """Load the whole project: every file validated, every problem reported together."""
    cfg = load_config(target)
    root = cfg.root
    problems: list[Problem] = []
    results: dict[str, Any] = {}

    def attempt(name: str, fn: Any, *args: Any) -> None:
        try:
            results[name] = fn(*args)
        except KeytrailError as exc:
            problems.extend(exc.problems or [Problem(name, 0, 0, "", exc.message)])

    attempt("directory", load_directory, cfg.directory, display_path(cfg.directory, root))
    attempt("keys", load_keys, cfg.keys, display_path(cfg.keys, root))
    displays = [display_path(p, root) for p in cfg.history]
    attempt("history", load_history, cfg.history, displays)
    if cfg.snapshot is not None:
        attempt("snapshot", load_snapshot, cfg.snapshot, display_path(cfg.snapshot, root))
    from keytrail.policy import load_policies

    policy_files = cfg.policies + list(extra_policies or [])
    attempt("policies", load_policies, policy_files, [display_path(p, root) for p in policy_files])
    if cfg.checkpoints is not None and not problems:
        # Only projects that anchor their history pay for verifying it (and import cryptography).
        from keytrail.integrity.verify import verify_config

        attempt("checkpoints", verify_config, cfg, False)
    if problems:
        raise InputError("invalid input", problems)
    history = results["history"]
    return Project(
        root=root, directory=results["directory"], keys=results["keys"],
        history_files=history.files, events=history.events, chain_breaks=history.chain_breaks,
        snapshot=results.get("snapshot"),
        snapshot_file=display_path(cfg.snapshot, root) if cfg.snapshot else None,
        policies=results["policies"], name=cfg.name or root.resolve().name,
        anchor=results.get("checkpoints"))
