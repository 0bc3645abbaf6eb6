"""``keytrail lint``: every problem in the policies and the configuration, located and sorted.

What is linted:

- a folder holding ``keytrail.yaml`` (or that file itself) is a **project**:
  ``keytrail.yaml``, the directory, the key registry and every policy it names
  (packaged packs included) are linted together. The history and the snapshot
  are data, not configuration: ``keytrail check`` validates them, lint does not
  read them (it only checks that ``keytrail.yaml`` names files that exist);
- any other folder: every ``*.yaml`` / ``*.yml`` under it (hidden folders
  skipped; a ``keytrail.yaml`` found on the way is linted as its project, and
  the files it names are linted as part of it). Each file is identified by its
  content: ``kind: Policy`` (or any ``apiVersion``/``kind``) is a policy, a
  top-level ``keys`` a key registry, ``principals``/``groups``/``roles`` a
  directory, ``directory`` with ``history`` a project file. ``kind:
  PolicyTest`` files belong to ``keytrail test`` and are skipped. Anything else
  gets a warning, "cannot tell what this file is";
- a file: identified the same way.

Policies loaded together (a project's, or every loose policy file of one run)
are checked together: duplicate rule ids and waivers for unknown rules are found
across files.

The problems: everything ``keytrail check`` would refuse (YAML, schema, unknown
check ids and parameters with "did you mean", parameter types, duplicate ids,
rules with none or several kinds, waivers without reason, approver or expiry,
waivers for unknown rules) as errors, and these warnings:

- a waiver that has expired (at or before ``--as-of``, as ``policy.expired-waiver``
  sees it), or expires within 30 days after it;
- in a project, where the directory is known: a selector or a separation-of-duties
  member naming a ``role:`` or ``group:`` the directory does not define (a glob
  counts as defined when it matches at least one defined id; targets that only
  the history defines are not known to lint); a key whose holder, owner or
  approver, or a waiver whose approver, is not a principal of the directory; a
  key scope glob that matches no role or group of the directory (keys revoked or
  expired at ``--as-of`` are history and are not compared).

Exit codes (:attr:`LintReport.exit_code`): 0 no problem at all; 1 problems
found, errors or warnings alike (a warning is something to fix or renew, as in
most linters); 2 unreadable input — a PATH that does not exist, a file that
cannot be read or does not parse as YAML. Problems are reported in every case.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from difflib import get_close_matches
from glob import has_magic
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, KeytrailError, Problem
from keytrail.formats._common import gh_data, gh_property
from keytrail.model import Directory
from keytrail.policy import PolicyDocument, check_policies, kind_of_rule
from keytrail.project import (
    PROJECT_FILE,
    display_path,
    load_config,
    load_directory,
    load_keys,
    read_yaml,
)
from keytrail.selectors import glob_regex
from keytrail.textsafe import json_inert, path_line
from keytrail.timeutil import DAY, TimeFormatError, format_date, parse_time
from keytrail.yamlload import Locator

#: A waiver expiring within this long after ``--as-of`` is warned about.
EXPIRY_WARNING = 30 * DAY
#: Output formats of :func:`render`.
FORMATS = ("text", "json", "github")
EXIT_CLEAN, EXIT_PROBLEMS, EXIT_UNREADABLE = 0, 1, 2

#: Messages of problems that mean a file could not be read or parsed at all.
_UNREADABLE = ("file not found", "expected a file, found a folder", "cannot read", "file is ",
               "invalid YAML", "not valid UTF-8", "no such file or folder")
_DIRECTORY_KEYS = ("principals", "groups", "roles")


@dataclass(frozen=True)
class LintReport:
    """The outcome of one lint run: what was linted and every problem, sorted."""

    files: tuple[str, ...]
    problems: tuple[Problem, ...]
    unreadable: bool

    @property
    def errors(self) -> int:
        return sum(1 for p in self.problems if p.level == "error")

    @property
    def warnings(self) -> int:
        return len(self.problems) - self.errors

    @property
    def exit_code(self) -> int:
        if self.unreadable:
            return EXIT_UNREADABLE
        return EXIT_PROBLEMS if self.problems else EXIT_CLEAN


def lint(paths: list[str], as_of: int) -> LintReport:
    """Lint files and folders (see the module documentation); waivers are judged as of ``as_of``."""
    run = _Run(as_of)
    for arg in paths or ["."]:
        run.add(Path(arg))
    run.finish()
    return LintReport(tuple(run.files), tuple(sorted(run.problems)), run.unreadable)


def identify(data: Any, name: str) -> str | None:
    """What a parsed YAML file is: policy, policytest, keys, directory, project, or None."""
    if name == PROJECT_FILE:
        return "project"
    if not isinstance(data, dict):
        return None
    if data.get("kind") == "PolicyTest":
        return "policytest"
    if "kind" in data or "apiVersion" in data:
        return "policy"
    if "keys" in data:
        return "keys"
    if any(k in data for k in _DIRECTORY_KEYS):
        return "directory"
    if "directory" in data and "history" in data:
        return "project"
    return None


@dataclass
class _Run:
    as_of: int
    files: list[str] = field(default_factory=list)
    problems: set[Problem] = field(default_factory=set)
    unreadable: bool = False
    seen: set[Path] = field(default_factory=set)
    loose_policies: list[tuple[Any, Locator, str]] = field(default_factory=list)

    # --- what to lint ---------------------------------------------------------
    def add(self, path: Path) -> None:
        if not path.exists():
            self.problems.add(Problem(path.as_posix(), 0, 0, "", "no such file or folder"))
            self.unreadable = True
        elif path.is_dir():
            if (path / PROJECT_FILE).is_file():
                self.project(path / PROJECT_FILE)
            else:
                self.walk(path)
        else:
            self.loose_file(path)

    def walk(self, folder: Path) -> None:
        found = sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(folder).parts))
        # Projects first, so that the files they name are linted with them.
        for path in found:
            if path.name == PROJECT_FILE:
                self.project(path)
        for path in found:
            self.loose_file(path)

    def first_time(self, path: Path) -> bool:
        resolved = path.resolve()
        if resolved in self.seen:
            return False
        self.seen.add(resolved)
        return True

    def failed(self, exc: KeytrailError, display: str) -> None:
        """Record the problems of a file that could not be loaded."""
        self.problems.update(exc.problems or [Problem(display, 0, 0, "", exc.message)])
        if any(p.message.startswith(_UNREADABLE) for p in exc.problems):
            self.unreadable = True

    def read(self, path: Path, display: str) -> tuple[Any, Locator] | None:
        try:
            return read_yaml(path, display)
        except InputError as exc:
            self.failed(exc, display)
            return None

    def loose_file(self, path: Path) -> None:
        if not self.first_time(path):
            return
        display = _display(path)
        read = self.read(path, display)
        if read is None:
            self.files.append(display)
            return
        data, loc = read
        kind = identify(data, path.name)
        if kind == "policytest":
            return
        if kind == "project":
            self.seen.discard(path.resolve())
            self.project(path)
            return
        self.files.append(display)
        if kind == "policy":
            self.loose_policies.append((data, loc, display))
        elif kind == "keys":
            self.keys(path, display, None)
        elif kind == "directory":
            self.directory(path, display)
        else:
            self.problems.add(Problem(display, 1, 1, "", "cannot tell what this file is (a policy has "
                                      "`kind: Policy`, a key registry `keys`, a directory `principals`, "
                                      "`groups` or `roles`, a project file `directory` and `history`)",
                                      "warning"))

    def project(self, config: Path) -> None:
        if not self.first_time(config):
            return
        display = _display(config)
        self.files.append(display)
        if self.read(config, display) is None:
            return
        try:
            cfg = load_config(config)
        except InputError as exc:
            # load_config names the file relative to its folder; show it as given.
            self.failed(InputError(exc.message, [_refile(p, display) for p in exc.problems]), display)
            return
        directory = None
        if self.first_time(cfg.directory):
            self.files.append(_display(cfg.directory))
            directory = self.directory(cfg.directory, _display(cfg.directory))
        if self.first_time(cfg.keys):
            self.files.append(_display(cfg.keys))
            self.keys(cfg.keys, _display(cfg.keys), directory)
        parsed = []
        for path in cfg.policies:
            self.seen.add(path.resolve())
            shown = _display(path)
            self.files.append(shown)
            read = self.read(path, shown)
            if read is not None:
                parsed.append((read[0], read[1], shown))
        self.policies(parsed, directory)

    def finish(self) -> None:
        if self.loose_policies:
            self.policies(self.loose_policies, None)

    # --- the checks -------------------------------------------------------------
    def directory(self, path: Path, display: str) -> Directory | None:
        try:
            return load_directory(path, display)
        except InputError as exc:
            self.failed(exc, display)
            return None

    def keys(self, path: Path, display: str, directory: Directory | None) -> None:
        try:
            load_keys(path, display)
        except InputError as exc:
            self.failed(exc, display)
            return
        if directory is None:
            return
        data, loc = read_yaml(path, display)  # the positions, for the checks below
        self.problems.update(key_problems(data, loc, directory, self.as_of))

    def policies(self, parsed: list[tuple[Any, Locator, str]], directory: Directory | None) -> None:
        documents, problems = check_policies(parsed)
        self.problems.update(problems)
        for document in documents:
            self.problems.update(policy_warnings(document, directory, self.as_of))


def policy_warnings(document: PolicyDocument, directory: Directory | None, as_of: int) -> Iterator[Problem]:
    """Warnings about one schema-valid policy file: waiver expiry; names the directory lacks."""
    if document.policy is None:
        return
    data, loc = document.data, document.locator
    if directory is not None:
        for i, raw in enumerate(data.get("rules") or []):
            kind = kind_of_rule(raw)
            if kind != "use":
                for where, selector in _selectors(raw[kind], ("rules", i, kind)):
                    yield from _selector_problem(selector, where, loc, directory)
    for i, raw in enumerate(data.get("waivers") or []):
        where = ("waivers", i)
        try:
            expires = parse_time(raw["expires"])
        except TimeFormatError:
            continue  # already an error
        if expires <= as_of:
            yield loc.problem(where + ("expires",), f"waiver for rule {raw['rule']} expired "
                              f"{format_date(expires)}: it no longer waives anything", "warning")
        elif expires - as_of <= EXPIRY_WARNING:
            days = -(-(expires - as_of) // DAY)
            yield loc.problem(where + ("expires",), f"waiver for rule {raw['rule']} expires "
                              f"{format_date(expires)}, in {days} day{'s' if days != 1 else ''}: renew it "
                              "(a new approval and expiry) or fix the findings it covers", "warning")
        if directory is not None and raw["approved_by"] not in directory.principals:
            yield _unknown_principal(raw["approved_by"], "approver", where + ("approved_by",), loc, directory)


def key_problems(data: dict[str, Any], loc: Locator, directory: Directory, as_of: int) -> Iterator[Problem]:
    """Warnings about a valid key registry: people and scopes the directory does not know.

    Only keys still valid at ``as_of`` are compared with the directory: a key
    revoked or expired is the record of past changes, and may rightly name a
    role since retired or a person since removed.
    """
    targets = sorted([*directory.roles, *directory.groups])
    matched: dict[str, bool] = {}
    for i, raw in enumerate(data.get("keys") or []):
        ends = [parse_time(raw[k]) for k in ("expires", "revoked_at") if raw.get(k) is not None]
        if any(end <= as_of for end in ends):
            continue
        for name, what in (("holder", "holder"), ("owner", "owner"), ("approved_by", "approver")):
            who = raw.get(name)
            if who is not None and who not in directory.principals:
                yield _unknown_principal(who, what, ("keys", i, name), loc, directory)
        for j, pattern in enumerate(raw.get("scope") or []):
            if pattern not in matched:
                rx = glob_regex(pattern)
                matched[pattern] = any(rx.match(t) for t in targets)
            if not matched[pattern]:
                hint = "" if has_magic(pattern) else _did_you_mean(pattern, targets)
                yield loc.problem(("keys", i, "scope", j), f"scope {pattern!r} matches no role or group "
                                  f"the directory defines{hint}", "warning")


def _unknown_principal(who: str, what: str, where: tuple[Any, ...], loc: Locator,
                       directory: Directory) -> Problem:
    hint = _did_you_mean(who, directory.principals)
    return loc.problem(where, f"{what} {who} is not in the directory{hint}", "warning")


def _selectors(spec: Any, base: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every target or subject selector of a rule kind's spec, with its path."""
    if isinstance(spec, list):  # separation_of_duties: sets of selectors
        for j, members in enumerate(spec):
            for k, member in enumerate(members):
                yield base + (j, k), member
        return
    for name in ("subject", "target"):
        if name in spec:
            yield base + (name,), spec[name]


def _selector_problem(selector: Any, where: tuple[Any, ...], loc: Locator,
                      directory: Directory) -> Iterator[Problem]:
    if isinstance(selector, dict):
        if "id" not in selector:
            return
        pattern, where = selector["id"], where + ("id",)
    else:
        pattern = selector
    kind = pattern.partition(":")[0]
    if kind not in ("role", "group"):
        return  # principals, or a glob over several kinds: nothing to compare with
    defined = directory.roles if kind == "role" else directory.groups
    if has_magic(pattern):
        rx = glob_regex(pattern)
        if not any(rx.match(t) for t in defined):
            yield loc.problem(where, f"{pattern!r} matches no {kind} the directory defines", "warning")
    elif pattern not in defined:
        hint = _did_you_mean(pattern, defined)
        yield loc.problem(where, f"{pattern} is not a {kind} the directory defines{hint}", "warning")


def _did_you_mean(ident: str, known: Iterable[str]) -> str:
    """`` (did you mean "user:alice"?)``, comparing names of the same kind only.

    Every id of a kind shares its ``user:`` prefix; compared whole, any two
    short ids look alike ("user:dave" and "user:alice").
    """
    kind, _, name = ident.partition(":")
    names = {k.partition(":")[2]: k for k in known if k.partition(":")[0] == kind}
    close = get_close_matches(name, sorted(names), n=1, cutoff=0.6)  # as schemas.did_you_mean
    return f' (did you mean "{names[close[0]]}"?)' if close else ""


def _display(path: Path) -> str:
    """How a file is named in problems: relative to the current folder when inside it."""
    return display_path(path, Path.cwd())


def _refile(problem: Problem, display: str) -> Problem:
    return Problem(display, problem.line, problem.column, problem.path, problem.message, problem.level)


# --- output ---------------------------------------------------------------------
def render(report: LintReport, fmt: str) -> str:
    """The report in ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return render_json(report)
    if fmt == "github":
        return render_github(report)
    return "".join(path_line(str(p)) + "\n" for p in report.problems)


def summary(report: LintReport) -> str:
    """One line: how many files, errors and warnings."""
    files = len(report.files)
    return (f"keytrail lint: {files} file{'s' if files != 1 else ''}, "
            f"{report.errors} error{'s' if report.errors != 1 else ''}, "
            f"{report.warnings} warning{'s' if report.warnings != 1 else ''}")


def render_json(report: LintReport) -> str:
    """``{"files": [...], "problems": [{file, line, column, path, level, message}], "errors", "warnings"}``."""
    doc = {
        "files": list(report.files),
        "problems": [{"file": p.file, "line": p.line, "column": p.column, "path": p.path,
                      "level": p.level, "message": p.message} for p in report.problems],
        "errors": report.errors,
        "warnings": report.warnings,
        "exit_code": report.exit_code,
    }
    return json_inert(json.dumps(doc, indent=2, ensure_ascii=False)) + "\n"


def render_github(report: LintReport) -> str:
    """GitHub Actions workflow commands: one ``::error`` or ``::warning`` annotation per problem."""
    from keytrail.formats.github import PER_LEVEL

    lines = []
    shown: dict[str, int] = {}
    left_out = 0
    for p in report.problems:
        if shown.get(p.level, 0) >= PER_LEVEL:
            left_out += 1
            continue
        shown[p.level] = shown.get(p.level, 0) + 1
        props = [f"file={gh_property(p.file)}"]
        if p.line:
            props.append(f"line={p.line}")
            if p.column:
                props.append(f"col={p.column}")
        props.append("title=keytrail lint")
        text = f"{p.path}: {p.message}" if p.path else p.message
        lines.append(f"::{p.level} {','.join(props)}::{gh_data(text)}\n")
    if left_out:
        lines.append(f"::notice title=keytrail lint::{left_out} more problems are not annotated "
                     f"(GitHub shows {PER_LEVEL} per level); run keytrail lint to see them all\n")
    return "".join(lines)
