"""Policy-change impact: what a change to the policies adds and clears.

``keytrail check --compare-policies REF`` evaluates the same inputs twice:
under the policies as they were at REF (a git ref, or a folder holding the
old policy files) and under the working tree, and reports, rule by rule, the
findings the change adds, the ones it clears, and the ones whose waiver
status it changes: the answer a reviewer of a policy pull request needs.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from keytrail.engine import Report, evaluate
from keytrail.errors import UsageError
from keytrail.graph import AccessGraph
from keytrail.model import SEVERITY_RANK, Policy, Reported
from keytrail.project import PACK_PREFIX, Project, ProjectConfig, display_path
from keytrail.replay import State
from keytrail.textsafe import inline
from keytrail.view import View


@dataclass
class Impact:
    """The difference between two evaluations of the same inputs."""

    base: str
    current: Report
    previous: Report
    added: list[Reported] = field(default_factory=list)
    removed: list[Reported] = field(default_factory=list)
    newly_waived: list[Reported] = field(default_factory=list)
    unwaived: list[Reported] = field(default_factory=list)

    def failing(self, threshold: str) -> list[Reported]:
        """Added or unwaived findings at or above ``threshold`` that are not waived now."""
        rank = SEVERITY_RANK[threshold]
        return [f for f in self.added + self.unwaived
                if f.waived is None and SEVERITY_RANK[f.severity] >= rank]


def compare(project: Project, config: ProjectConfig, state: State, graph: AccessGraph, ref: str) -> Impact:
    """Evaluate under the policies at ``ref`` and under the working tree; diff the findings."""
    from keytrail.policy import load_policies

    with tempfile.TemporaryDirectory(prefix="keytrail-policies-") as tmp:
        paths, displays = _base_policy_files(config, ref, Path(tmp))
        # The policy tests kept beside the old policies are tests there too, as in the project.
        old_policies: list[Policy] = load_policies(paths, displays, from_folders=set(paths))
    current = evaluate(View(project, state, graph))
    previous = evaluate(View(replace(project, policies=old_policies), state, graph))
    return diff(ref, previous, current)


def diff(base: str, previous: Report, current: Report) -> Impact:
    """The findings ``current`` adds to and removes from ``previous``, and waiver changes."""
    before = {f.fingerprint: f for f in previous.findings}
    after = {f.fingerprint: f for f in current.findings}
    impact = Impact(base, current, previous)
    impact.added = [f for f in current.findings if f.fingerprint not in before]
    impact.removed = [f for f in previous.findings if f.fingerprint not in after]
    for f in current.findings:
        old = before.get(f.fingerprint)
        if old is None:
            continue
        if old.waived is None and f.waived is not None:
            impact.newly_waived.append(f)
        elif old.waived is not None and f.waived is None:
            impact.unwaived.append(f)
    return impact


def _base_policy_files(config: ProjectConfig, ref: str, tmp: Path) -> tuple[list[Path], list[str]]:
    """The policy files as they were at ``ref`` (a folder, or a git ref), with display paths."""
    packs = [p for p in config.policies if display_path(p, config.root).startswith(PACK_PREFIX)]
    folder = Path(ref)
    if folder.is_dir():
        if _is_commit(config.root, ref):
            # A folder a pull request adds under the base branch's name (`origin/main/`) would
            # otherwise stand in for the base, and the change would compare with itself.
            raise UsageError(f"--compare-policies: {inline(ref)!r} is both a folder and a git commit, "
                             f"branch or tag; write ./{inline(ref)} for the folder, or the ref's full "
                             "name (refs/remotes/..., refs/heads/...) for the ref")
        # `.YAML` too, as the project reads them: a policy skipped for its extension's case
        # at the base would hide what deleting it clears.
        found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".yaml", ".yml") and p.is_file())
        return packs + found, [display_path(p, config.root) for p in packs] + \
            [display_path(p, config.root) for p in found]
    return _from_git(config, ref, tmp, packs)


def _is_commit(root: Path, ref: str) -> bool:
    """Whether ``ref`` names a commit of the repository ``root`` is in (False without git)."""
    if ref.startswith("-"):
        return False
    try:
        done = subprocess.run(["git", "-C", str(root.resolve()), "rev-parse", "--verify", "--quiet",
                               f"{ref}^{{commit}}"], capture_output=True, check=False)
    except FileNotFoundError:
        return False
    return done.returncode == 0


def _git(root: Path, *args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise UsageError("--compare-policies: git is not installed (give a folder instead)") from None
    if done.returncode != 0:
        raise UsageError(f"--compare-policies: git {' '.join(args[:2])}: {done.stderr.strip()}")
    return done.stdout


def _from_git(config: ProjectConfig, ref: str, tmp: Path, packs: list[Path]) -> tuple[list[Path], list[str]]:
    root = config.root.resolve()
    if ref.startswith("-"):  # never an option to git (`--output=FILE`, `--upload-pack=CMD`)
        raise UsageError(f"--compare-policies: {inline(ref)!r} looks like an option, not a folder or "
                         "a git commit, branch or tag (write ./NAME for a folder of that name)")
    try:
        # The commit itself, once: every later git call reads this object, not a name that
        # could move (or read as an option) between calls.
        commit = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}").strip()
    except UsageError:
        raise UsageError(f"--compare-policies: {inline(ref)!r} is neither a folder nor a git commit, "
                         "branch or tag of the project's repository") from None
    top = Path(_git(root, "rev-parse", "--show-toplevel").strip()).resolve()
    # Every folder or file the project's policies come from, as it was at ref: named by
    # keytrail.yaml as it was at ref (a change that drops `policies/` or the default pack
    # from keytrail.yaml clears their findings), else where the working tree finds them.
    named = _policies_at(config, top, commit, ref)
    if named is not None:
        packs, folders = named
    else:
        sources = {p.resolve() for p in config.policies if p not in packs}
        folders = {s.parent if s.is_file() else s for s in sources} | sources
    listed: dict[str, tuple[str, str]] = {}
    unversioned: list[Path] = []
    for folder in sorted(folders):
        try:
            rel = folder.relative_to(top).as_posix()
        except ValueError:
            # Outside the repository (--allow-outside): not versioned, so at REF it held what
            # it holds now; the files the run loads from it count on both sides.
            unversioned += [p for p in config.policies if p not in packs and p not in unversioned
                            and (p.resolve() == folder or folder in p.resolve().parents)]
            continue
        # -z: names exactly as stored (without it git quotes a name with a non-ASCII or
        # special character, and `"équipe.yaml"` would not end in .yaml and be skipped).
        for entry in _git(top, "ls-tree", "-r", "-z", commit, "--", rel).split("\0"):
            if entry:
                meta, _, name = entry.partition("\t")
                mode, kind, _sha = meta.split(" ")
                listed[name] = (mode, _sha)
    paths, displays = list(packs), [display_path(p, config.root) for p in packs]
    paths += unversioned
    displays += [display_path(p, config.root) for p in unversioned]
    for name in sorted(n for n in listed if n.lower().endswith((".yaml", ".yml"))):
        mode, blob = listed[name]
        if mode not in ("100644", "100755"):  # a link or a submodule: no policy text to read
            raise UsageError(f"--compare-policies: {inline(name)} at {inline(ref)} is a "
                             f"{'link' if mode == '120000' else 'submodule'}, not a policy file")
        target = tmp / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_git_bytes(top, "cat-file", "blob", blob))
        paths.append(target)
        displays.append(display_path(top / name, config.root))
    return paths, displays


def _policies_at(config: ProjectConfig, top: Path, commit: str, ref: str) -> tuple[list[Path], set[Path]] | None:
    """The packs and the files or folders keytrail.yaml named under ``policies:`` at the commit;
    None when the project had no keytrail.yaml there."""
    import yaml

    from keytrail.project import packaged_pack

    root = config.root.resolve()
    try:
        rel = (root / config.file).relative_to(top).as_posix()
    except ValueError:
        return None
    done = subprocess.run(["git", "-C", str(top), "cat-file", "-e", f"{commit}:{rel}"],
                          capture_output=True, check=False)
    if done.returncode != 0:
        return None
    try:
        data = yaml.safe_load(_git_bytes(top, "cat-file", "blob", f"{commit}:{rel}"))
    except yaml.YAMLError as exc:
        raise UsageError(f"--compare-policies: {inline(rel)} at {inline(ref)} is not valid YAML "
                         f"({inline(str(exc).splitlines()[0])})") from None
    entries = data.get("policies", []) if isinstance(data, dict) else []
    entries = [entries] if isinstance(entries, str) else entries
    packs: list[Path] = []
    folders: set[Path] = set()
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, str):
            raise UsageError(f"--compare-policies: {inline(rel)} at {inline(ref)}: policies holds "
                             "an entry that is not a path")
        if entry.startswith(PACK_PREFIX):
            pack = packaged_pack(entry[len(PACK_PREFIX):])
            if pack is None:
                raise UsageError(f"--compare-policies: {inline(rel)} at {inline(ref)} names "
                                 f"{inline(entry)!r}, which this keytrail does not have")
            if pack not in packs:
                packs.append(pack)
            continue
        # Read from git when inside the repository; outside it, only what the run loads now.
        folders.add(Path(os.path.normpath(root / entry)))
    return packs, folders


def _git_bytes(root: Path, *args: str) -> bytes:
    done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=False)
    if done.returncode != 0:  # never an empty policy in place of one git could not read
        raise UsageError(f"--compare-policies: git {' '.join(args[:2])}: "
                         f"{inline(done.stderr.decode('utf-8', 'replace').strip())}")
    return done.stdout


#: The formats a policy-impact report is rendered in.
IMPACT_FORMATS = ("text", "json", "markdown", "github")


def render_impact(impact: Impact, fmt: str, fail_on: str, data: dict[str, Any] | None = None) -> str:
    """The impact report as text (a template), JSON, Markdown (a PR comment) or GitHub annotations."""
    data = impact_data(impact, fail_on) if data is None else data
    if fmt in ("markdown", "github"):
        from keytrail.formats import impact as formats

        if fmt == "markdown":
            return formats.markdown(data)
        return formats.github(data, impact.current.view.project.root.as_posix())
    if fmt == "json":
        import orjson

        from keytrail.textsafe import json_inert

        return json_inert(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")) + "\n"
    if fmt != "text":
        raise UsageError(f"--compare-policies renders {', '.join(IMPACT_FORMATS)}, not {fmt}")
    from keytrail.render import _template

    return _template("impact.txt.j2", autoescape=False).render(**data)


def impact_data(impact: Impact, fail_on: str) -> dict[str, Any]:
    """The impact as JSON-able data: counts per rule and the findings themselves."""
    from keytrail.report import finding_data

    rules: dict[str, dict[str, Any]] = {}
    for kind, items, report in (("added", impact.added, impact.current),
                                ("removed", impact.removed, impact.previous),
                                ("newly_waived", impact.newly_waived, impact.current),
                                ("unwaived", impact.unwaived, impact.current)):
        for item in items:
            entry = rules.setdefault(item.rule, {"rule": item.rule, "check": item.check, "added": [],
                                                 "removed": [], "newly_waived": [], "unwaived": []})
            entry[kind].append(finding_data(report, item))
    for entry in rules.values():
        _locate(entry, impact)
    failing = impact.failing(fail_on)
    return {
        "base": impact.base,
        "summary": {"added": len(impact.added), "removed": len(impact.removed),
                    "newly_waived": len(impact.newly_waived), "unwaived": len(impact.unwaived),
                    "failing": len(failing), "fail_on": fail_on,
                    "subjects_added": len({f.subject for f in impact.added if f.subject}),
                    "subjects_removed": len({f.subject for f in impact.removed if f.subject})},
        "rules": [rules[k] for k in sorted(rules)],
    }


def _locate(entry: dict[str, Any], impact: Impact) -> None:
    """Where the rule is written: in the working tree, or (a rule the change removed) at the base."""
    for report, at in ((impact.current, None), (impact.previous, impact.base)):
        for policy in report.view.project.policies:
            for rule in policy.rules:
                if rule.id == entry["rule"] and rule.location is not None:
                    entry["location"] = rule.location.as_dict()
                    if at is not None:
                        entry["location_at"] = at
                    return
    entry["location"] = None
