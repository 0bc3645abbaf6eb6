"""``keytrail lint``: every problem in the policies and the configuration, located and sorted.

What is linted:

- a folder holding ``keytrail.yaml`` (or that file itself) is a **project**:
  ``keytrail.yaml``, the directory, the key registry and every policy it names
  (packaged packs included) are linted together, and the policy tests found in
  its policy folders too, and the usage files (``usage:``) against their schema. The
  history and the snapshot are data, not
  configuration: ``keytrail check`` validates them; lint reads the history
  only to learn ids and attributes the directory lacks (see
  :mod:`keytrail.lintwarn`), and only when something is missing from the directory;
- any other folder: every ``*.yaml`` / ``*.yml`` under it (hidden folders
  skipped; a ``keytrail.yaml`` found on the way is linted as its project, and
  the files it names are linted as part of it). Each file is identified by its
  parsed content, never by sniffing its text: ``kind: PolicyTest`` is a policy
  test, ``kind: Policy`` (or any other ``apiVersion``/``kind``, which is then an
  error) a policy, a top-level ``keys`` a key registry, ``principals``/``groups``/
  ``roles`` a directory, ``directory`` with ``history`` a project file. Anything
  else gets a warning, "cannot tell what this file is";
- a file: identified the same way.

Policies loaded together (a project's, or every loose policy file of one run)
are checked together: duplicate rule ids and waivers for unknown rules are found
across files. Every problem of a file is reported in one run: a duplicate key
does not stop the schema pass, a schema error in one rule does not stop the
checks of the others.

**Errors** are everything ``keytrail check`` would refuse (YAML, duplicate keys,
schema, selectors that name no kind or a kind that cannot stand there, unknown
check ids and parameters with "did you mean", parameter types, duplicate ids,
waivers for unknown rules, a project whose policies enable no rule), a policy
test that refers to what does not exist (:mod:`keytrail.lint_policytest`) and a
waiver that has expired. **Warnings** are what may be right but usually is a
mistake (:mod:`keytrail.lintwarn`): names the organisation does not have, a
waiver expiring within 30 days or waiving a whole rule, directory ids that
look like other directory ids or mix scripts (:mod:`keytrail.lookalike`).

Exit codes (:attr:`LintReport.exit_code`), as yamllint and eslint: 0 no error
(warnings are printed); 1 errors, or warnings under ``--strict``; 2 unreadable
input — a PATH that does not exist, a file that cannot be read or does not
parse as YAML. Problems are reported in every case.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, KeytrailError, Problem
from keytrail.formats._common import gh_data, gh_property
from keytrail.lint_policytest import policytest_problems
from keytrail.lintwarn import Known, key_problems, policy_warnings
from keytrail.model import Directory
from keytrail.policy import check_policies, read_policy_file
from keytrail.project import (
    PROJECT_FILE,
    display_path,
    load_config,
    load_directory,
    load_keys,
    read_yaml,
    read_yaml_whole,
)
from keytrail.textsafe import json_inert, path_line
from keytrail.yamlload import Locator

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
    #: ``--strict``: warnings fail the run too.
    strict: bool = False

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
        if self.errors or (self.strict and self.warnings):
            return EXIT_PROBLEMS
        return EXIT_CLEAN


def lint(paths: list[str], as_of: int, allow_outside: Sequence[str] = (), strict: bool = False) -> LintReport:
    """Lint files and folders (see the module documentation); waivers are judged as of ``as_of``;
    a project's paths may resolve into ``allow_outside`` folders besides the project."""
    run = _Run(as_of, tuple(allow_outside))
    for arg in paths or ["."]:
        run.add(Path(arg))
    run.finish()
    return LintReport(tuple(run.files), tuple(sorted(run.problems)), run.unreadable, strict)


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
    allow_outside: tuple[str, ...] = ()
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
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".yaml", ".yml") and p.is_file()
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
        self.files.append(display)
        try:
            data, loc, found = read_yaml_whole(path, display)
        except InputError as exc:
            self.failed(exc, display)
            return
        kind = identify(data, path.name)
        if kind == "project":
            self.files.remove(display)
            self.seen.discard(path.resolve())
            self.project(path)
            return
        self.problems.update(found)
        if kind == "policytest":
            self.problems.update(policytest_problems(data, loc, path, display))
        elif kind == "policy":
            self.loose_policies.append((data, loc, display))
        elif found:
            return  # a directory or key registry is only checked whole
        elif kind == "keys":
            self.keys(path, display, None)
        elif kind == "directory":
            self.directory(path, display)
        else:
            self.problems.add(Problem(display, 1, 1, "", "cannot tell what this file is (a policy has "
                                      "`kind: Policy`, a policy test `kind: PolicyTest`, a key registry "
                                      "`keys`, a directory `principals`, `groups` or `roles`, a project "
                                      "file `directory` and `history`)", "warning"))

    def project(self, config: Path) -> None:
        if not self.first_time(config):
            return
        display = _display(config)
        self.files.append(display)
        if self.read(config, display) is None:
            return
        try:
            cfg = load_config(config, self.allow_outside)
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
        if cfg.usage:
            self.usage(cfg.usage)
        known = None
        if directory is not None:
            known = Known(directory, (cfg.history, [_display(h) for h in cfg.history]))
        parsed = []
        unread = False
        for path in cfg.policies:
            if not self.first_time(path):
                continue
            shown = _display(path)
            self.files.append(shown)
            in_folder = path in cfg.from_folders
            problems: list[Problem] = []
            read = read_policy_file(path, shown, in_folder, problems)
            self.problems.update(problems)
            if any(p.message.startswith(_UNREADABLE) for p in problems):
                self.unreadable = unread = True
            if read is not None:
                parsed.append(read)
            elif in_folder and not any(p.message.startswith(_UNREADABLE) for p in problems):
                # A policy's test beside it: linted as what it is.
                data, loc, _ = read_yaml_whole(path, shown)
                self.problems.update(policytest_problems(data, loc, path, shown))
        documents = self.policies(parsed, known)
        if not unread:  # an unreadable policy may hold the rules
            self.no_rules(documents, display, config)

    def no_rules(self, documents: list[Any], display: str, config: Path) -> None:
        """A project whose policies enable no rule is an error, as ``keytrail check`` refuses it."""
        from keytrail.engine import no_rules

        if any(d.policy is None for d in documents) or any(
                isinstance(r, dict) and r.get("enabled", True) is not False
                for d in documents for r in (d.data.get("rules") or [])):
            return  # an enabled rule that did not load is already an error
        why = no_rules([d.policy for d in documents])
        if why is not None:
            data, loc = read_yaml(config, display)
            where = ("policies",) if isinstance(data, dict) and "policies" in data else ()
            self.problems.add(loc.problem(where, why))

    def finish(self) -> None:
        if self.loose_policies:
            self.policies(self.loose_policies, None)

    # --- the checks -------------------------------------------------------------
    def directory(self, path: Path, display: str) -> Directory | None:
        try:
            found = load_directory(path, display)
        except InputError as exc:
            self.failed(exc, display)
            return None
        from keytrail.lookalike import directory_warnings

        self.problems.update(directory_warnings(found))
        return found

    def usage(self, paths: list[Path]) -> None:
        """Usage files (``usage:``) are validated like configuration: a bad record would
        otherwise surface only when ``keytrail check`` refuses the project."""
        from keytrail.usage.load import load_usage

        fresh = [p for p in paths if self.first_time(p)]
        if not fresh:
            return
        shown = [_display(p) for p in fresh]
        self.files.extend(shown)
        try:
            load_usage(fresh, shown)
        except InputError as exc:
            self.failed(exc, shown[0])

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

    def policies(self, parsed: list[tuple[Any, Locator, str]], known: Known | None) -> list[Any]:
        documents, problems = check_policies(parsed, known.ids() if known is not None else None)
        self.problems.update(problems)
        for document in documents:
            self.problems.update(policy_warnings(document, known, self.as_of))
        return documents


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
