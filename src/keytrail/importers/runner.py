"""Running an import: convert, validate every event, write atomically, summarise.

History and usage formats write one JSONL file (``--out``); state formats write a folder
holding ``snapshot.jsonl``, ``directory.yaml``, an empty key registry and
history, and a ``keytrail.yaml``, so that ``keytrail check`` runs on it at
once. Nothing is written when any record is malformed, or, with
``--strict``, unconvertible.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from keytrail.errors import ImportFailedError, InputError, Problem, UsageError
from keytrail.importers import REGISTRY, get
from keytrail.importers.base import Context, Field, Mapping, State


def mapping_from(options: dict[str, str | None], mapping_file: Path | None, preset: Any = None) -> Mapping:
    """Build the key/ticket/reason mapping from ``--key-from`` ..., an optional YAML file and
    an optional :class:`keytrail.importers.presets.Preset` (the options and the file win)."""
    import re

    spec: dict[str, dict[str, Any]] = {}
    if mapping_file is not None:
        from keytrail.project import read_yaml

        data, loc = read_yaml(mapping_file, str(mapping_file))
        problems = []
        if not isinstance(data, dict):
            problems.append(loc.problem((), "expected a mapping of key/ticket/reason to {from, pattern}"))
        else:
            for name, value in data.items():
                if name not in ("key", "ticket", "reason") or not isinstance(value, dict) \
                        or not set(value) <= {"from", "pattern"} or "from" not in value:
                    problems.append(loc.problem((name,), "expected key, ticket or reason, each "
                                                          "{from: FIELD, pattern: REGEX}"))
                else:
                    spec[name] = value
        if problems:
            raise InputError(str(mapping_file), problems)
    mapping = Mapping()
    for name in ("key", "ticket", "reason"):
        source = options.get(f"{name}_from") or spec.get(name, {}).get("from")
        pattern = options.get(f"{name}_pattern") or spec.get(name, {}).get("pattern")
        given = preset.fields.get(name) if preset is not None else None
        also: tuple[str, ...] = ()
        if source is None and given is not None:
            source, also = given.paths[0], given.paths[1:]
            pattern = pattern or given.pattern
        if pattern and not source:
            raise UsageError(f"--{name}-pattern needs --{name}-from (the field it applies to)")
        compiled = None
        if pattern:
            try:
                compiled = re.compile(pattern)
            except re.error as exc:
                raise UsageError(f"--{name}-pattern {pattern!r}: {exc}") from None
        origin = f"--{name}-from" if options.get(f"{name}_from") else \
            f"{mapping_file}: {name}.from" if spec.get(name) else f"--key-preset {preset.name if preset else ''}"
        setattr(mapping, name, Field(source, compiled, origin, also=also))
    return mapping


def run_import(fmt: str, inputs: list[Path], out: Path, mapping: Mapping, strict: bool = False,
               force: bool = False, assume_time: str | None = None, entity: str | None = None) -> Context:
    """Import ``inputs`` as format ``fmt`` into ``out``; return the context (counts) for the summary."""
    if fmt not in REGISTRY:
        from keytrail.schemas import did_you_mean

        raise UsageError(f"unknown import format {fmt!r}{did_you_mean(fmt, sorted(REGISTRY))} "
                         f"(formats: {', '.join(REGISTRY)})")
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise InputError("missing input", [Problem(m, 0, 0, "", "no such file") for m in missing])
    try:
        module = get(fmt)
    except ImportError:
        raise UsageError(f"import format {fmt!r} is not available in this version") from None
    files, ignored = _expand(inputs)
    _check_target(out, inputs, fmt, module.KIND)
    if out.exists() and not force:
        raise UsageError(f"{out} exists: keytrail import never overwrites (remove it, or give --force)")
    ctx = Context(fmt, mapping, strict, assume_time=assume_time, ignored_files=ignored, entity=entity)
    out.parent.mkdir(parents=True, exist_ok=True)
    ctx.removed_stale = remove_stale(out)
    try:
        _convert_and_write(module, files, out, ctx, fmt, force)
    except ImportFailedError:
        raise
    except InputError as exc:  # unreadable input met while converting: nothing was written either
        raise ImportFailedError(exc.message, exc.problems) from None
    except OSError as exc:  # a full disk, a read-only folder: the temporary is gone, --out untouched
        raise ImportFailedError(f"cannot write {out}", [Problem(str(out), 0, 0, "",
                                                               f"cannot write: {exc.strerror or exc}")]) from None
    return ctx


def _check_target(out: Path, inputs: list[Path], fmt: str, kind: str) -> None:
    """Refuse an ``--out`` that ``--force`` would turn into the loss of an input or of a
    different kind of thing (a folder replaced by a history file, a file by a project)."""
    if kind in ("history", "usage") and out.is_dir():
        raise UsageError(f"{out} is a folder: {fmt} writes {kind}, one JSONL file (give a file name)")
    if kind == "state" and out.exists() and not out.is_dir():
        raise UsageError(f"{out} is a file: {fmt} writes a project folder (give a folder name)")
    from keytrail.confine import is_or_holds

    for path in inputs:
        if is_or_holds(out, path):
            raise UsageError(f"--out {out} is, or holds, the input {path}: keytrail import never overwrites "
                             "what it reads")


def _convert_and_write(module: Any, files: list[Path], out: Path, ctx: Context, fmt: str, force: bool) -> None:
    if module.KIND == "usage":  # usage formats (keytrail.usage): one JSONL file of usage records
        from keytrail.usage.write import write_usage

        write_usage(module.convert(files, ctx), out, ctx, files)
    elif module.KIND == "history":
        _stream_history(module.convert(files, ctx), out, ctx, files)
    else:
        state: State = module.convert(files, ctx)
        place = _in_input_order(ctx, files)
        _validate_state(state, ctx)
        if ctx.problems:
            raise _failed(ctx, place)
        _write_state(state, out, fmt, force, ctx.assume_time or state.captured)


def _snapshot_time_line(captured: str | None) -> str:
    """``snapshot_time:`` when the dump's capture time is known (``--assume-time``, or the pages'
    response dates); otherwise a
    comment asking for it: the drift checks compare a snapshot only with a capture time."""
    if captured is not None:
        return (f"snapshot_time: {captured}   # when the dump was taken (--assume-time, else the latest "
                "response date of its pages)\n")
    return ("# snapshot_time: 2026-09-30T18:00:00Z   # set to when the dump was taken (or import with\n"
            "# --assume-time): until it is set, drift against the snapshot is not checked\n")


Place = Callable[[Problem], tuple[int, int, list[int]]]


def _in_input_order(ctx: Context, files: list[Path]) -> Place:
    """Sort problems and incomplete records by file, then line and place in the file
    (importers that convert in time order meet some of them late); return that order."""
    order = {str(path): n for n, path in enumerate(files)}

    def place(problem: Problem) -> tuple[int, int, list[int]]:
        return order.get(problem.file, len(order)), problem.line, problem.positions()

    ctx.problems.sort(key=place)
    ctx.incomplete_at.sort(key=place)
    return place


def _failed(ctx: Context, place: Place) -> ImportFailedError:
    """The errors, with the incomplete records among them (as warnings), in input order."""
    return ImportFailedError("import failed", sorted(ctx.problems + ctx.incomplete_at, key=place)[:200])


#: What a file in an input folder must be called to be read (gzipped or not); files
#: given by name are always read.
DATA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".log", ".yaml", ".yml")


def _expand(inputs: list[Path]) -> tuple[list[Path], list[str]]:
    """The files to read, and the names of those in folders that are not data (a README)."""
    files: list[Path] = []
    ignored: list[str] = []
    for path in inputs:
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                name = found.name.lower().removesuffix(".gz")
                (files.append(found) if name.endswith(DATA_SUFFIXES) else ignored.append(str(found)))
        else:
            files.append(path)
    return files, ignored


def _stream_history(events: Iterable[dict[str, Any]], out: Path, ctx: Context, files: list[Path]) -> None:
    """Validate each converted event and write it to a temporary file beside ``out`` as it
    comes, so an import of any size streams; the file becomes ``out`` only when no record
    was malformed (or, with --strict, unconverted)."""
    import orjson

    from keytrail.schemas import fast_validator, validator

    fast = fast_validator("event")
    ctx.written = 0
    seen: set[str] = set()
    assumed: set[tuple[Any, ...]] = set()
    tmp = temporary(out)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            for event in events:
                where = event.get("source", {})
                if fast is None or not fast.is_valid(event):
                    at = f"{where.get('file', '?')}:{where.get('line') or where.get('index', '?')}"
                    for error in validator("event").iter_errors(event):
                        ctx.problems.append(Problem(str(where.get("file", "?")), int(where.get("line") or 0), 0, "",
                                                    f"converted event is not valid ({error.message}) at {at}"))
                if event["id"] in seen:
                    ctx.problems.append(Problem(str(where.get("file", "?")), int(where.get("line") or 0), 0, "",
                                                f"two records convert to the same event id {event['id']!r}"))
                seen.add(event["id"])
                if where.get("time_assumed"):
                    assumed.add((where.get("file"), where.get("line"), where.get("index"), where.get("item")))
                try:
                    line = orjson.dumps(event) + b"\n"
                except TypeError as exc:  # a kept raw value JSON cannot carry (an integer past 64 bits)
                    ctx.problems.append(Problem(str(where.get("file", "?")), int(where.get("line") or 0), 0, "",
                                                f"converted event cannot be written as JSON: {exc}"))
                if not ctx.problems:
                    handle.write(line)
                    ctx.written += 1
                    ctx.keyed += bool(event.get("key"))
                    ctx.ticketed += bool(event.get("ticket"))
                    ctx.reasoned += bool(event.get("reason"))
        ctx.assumed_converted = len(assumed)
        ctx.mapping_warnings = ctx.mapping.warnings(sum(ctx.converted.values()))
        if ctx.strict:  # a mapping that never took is an import that silently keyed nothing
            ctx.problems += [Problem("keytrail import", 0, 0, "", f"{w} (an error with --strict)")
                             for w in ctx.mapping_warnings]
        place = _in_input_order(ctx, files)
        if ctx.problems:
            raise _failed(ctx, place)
        _publish(Path(tmp), out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


#: What marks a temporary that ``keytrail import`` writes beside ``--out``:
#: ``.NAME.keytrail-tmp-PID`` (a file for history, a folder for state formats), and
#: ``.NAME.keytrail-tmp-PID-replaced``, the folder ``--force`` replaces, until the new one is in place.
TMP_MARK = ".keytrail-tmp-"

#: A temporary this old is stale even when a process of its PID is running (the PID reused).
STALE_AFTER = 24 * 3600


def temporary(out: Path) -> Path:
    """Where this process writes ``out`` before it is complete: beside it (so that the final
    rename is atomic), named so that a later run recognises it and removes it if this
    process is killed before it can."""
    path = out.parent / f".{out.name}{TMP_MARK}{os.getpid()}"
    _remove(path)  # this process's own, from an earlier import in it that was interrupted
    return path


def remove_stale(out: Path) -> list[str]:
    """Remove the temporaries of imports to ``out`` whose process is gone (killed: ``kill -9``,
    an OOM kill, a lost CI runner) or that are older than :data:`STALE_AFTER`; their names."""
    import glob
    import time

    removed = []
    for path in sorted(out.parent.glob(f".{glob.escape(out.name)}{TMP_MARK}*")):
        pid = path.name[len(f".{out.name}{TMP_MARK}"):].removesuffix("-replaced")
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            age = time.time() - path.lstat().st_mtime
        except OSError:
            continue
        if _alive(int(pid)) and age < STALE_AFTER:
            continue  # another import to the same place is running now
        _remove(path)
        removed.append(path.name)
    return removed


def _alive(pid: int) -> bool:
    if os.name != "posix":  # Windows' os.kill terminates the process: rely on the age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # someone else's process, or no way to tell: leave its file alone
    return True


def _remove(path: Path) -> None:
    """Remove a temporary file or folder; a symlink is removed, never followed."""
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def _publish(tmp: Path, out: Path) -> None:
    """Give ``tmp`` the permissions a new file or folder gets under the umask (not the
    owner-only mode of a temporary one) and move it to ``out``."""
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod((0o777 if tmp.is_dir() else 0o666) & ~umask)
    os.replace(tmp, out)


def _validate_state(state: State, ctx: Context) -> None:
    from keytrail.schemas import fast_validator, validator

    fast = fast_validator("snapshot")  # jsonschema explains only what the fast validator refuses
    for n, line in enumerate(state.snapshot):
        if fast is not None and fast.is_valid(line):
            continue
        for error in validator("snapshot").iter_errors(line):
            ctx.problems.append(Problem("snapshot", n + 1, 0, "", f"converted line is not valid: {error.message}"))
    directory = _directory(state)
    fast = fast_validator("directory")
    if fast is not None and fast.is_valid(directory):
        return
    for error in validator("directory").iter_errors(directory):
        ctx.problems.append(Problem("directory", 0, 0, "/".join(map(str, error.absolute_path)),
                                    f"converted directory is not valid: {error.message}"))


def _directory(state: State) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, table in (("principals", state.principals), ("groups", state.groups), ("roles", state.roles)):
        if table:
            out[name] = [table[k] for k in sorted(table)]
    return out


def _write_state(state: State, out: Path, fmt: str, force: bool, captured: str | None = None) -> None:
    import orjson
    import yaml

    tmp = temporary(out)
    tmp.mkdir(mode=0o700)
    try:
        (tmp / "history").mkdir()
        (tmp / "history" / "imported.jsonl").write_text("", encoding="utf-8", newline="")
        (tmp / "snapshot.jsonl").write_text(
            "".join(orjson.dumps(s).decode("utf-8") + "\n" for s in state.snapshot), encoding="utf-8", newline="")
        (tmp / "directory.yaml").write_text(
            f"# Imported by `keytrail import {fmt}`: the access state, as the directory knows it.\n"
            + yaml.dump(_directory(state), Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper), sort_keys=False,
                        allow_unicode=True), encoding="utf-8", newline="")
        (tmp / "keys.yaml").write_text(
            "# No provisioning keys are registered yet: register them here (docs/formats.md).\nkeys: []\n",
            encoding="utf-8", newline="")
        (tmp / "keytrail.yaml").write_text(
            f"# A project made by `keytrail import {fmt}`: the state of the real system as the\n"
            "# snapshot, no history yet (every grant is unexplained until history is imported).\n"
            "directory: directory.yaml\nkeys: keys.yaml\nhistory: [history/*.jsonl]\n"
            "snapshot: snapshot.jsonl\n" + _snapshot_time_line(captured)
            + "policies: [keytrail:default]\n", encoding="utf-8", newline="")
        old = None
        if out.exists() and force:  # set the old folder aside until the new one is in place
            old = out.parent / f".{out.name}{TMP_MARK}{os.getpid()}-replaced"
            _remove(old)
            os.replace(out, old)
        try:
            _publish(tmp, out)
        except BaseException:
            if old is not None:
                os.replace(old, out)
            raise
        if old is not None:
            _remove(old)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
