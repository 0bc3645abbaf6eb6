"""``keytrail decisions``: filled review worksheets become history.

Each row of a worksheet (``keytrail review``'s ``worksheets/*.csv``) whose
``decision`` is ``revoke`` becomes a keyed ``revoke`` event; ``keep`` becomes
a ``certify`` event; a blank decision is undecided and skipped (counted in the
summary). Words are case-insensitive and trimmed. The events carry the
subject, target and resource of the row, ``--actor`` and ``--key``, the row's
reviewer as ``approver`` (when it is a principal id), ``--ticket`` and the
row's comment as ``reason`` (``Access review: keep`` / ``revoke`` when blank),
all at ``--time``.

Decisions, documented in docs/formats.md:

- Everything is checked before anything is written: a malformed CSV, a
  missing column, an unknown decision word, a ``grant_id`` that does not match
  the row's subject, target and resource (an edited row), a grant decided
  twice, or a row that no longer matches an active grant of the project as of
  ``--time`` is an error naming the file and the CSV line; every error is
  reported and nothing is written (exit 2).
- The output is a new JSONL file written atomically (a temporary file, then a
  rename); an existing file is never overwritten (its events are already part
  of the project's history, so the worksheets would no longer match it).
- Event ids are ``rv-`` plus a hash of the time, action, subject, target and
  resource: stable for the same decisions and distinct across reviews. The
  events form a tamper-evident chain (each carries ``prev``, the hash of the
  line before it in the file), as the history format describes.
- The formula guard of the worksheet (a leading ``'`` before ``=``, ``+``,
  ``-``, ``@``, tab or CR) is removed from every cell read back.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from keytrail.errors import InputError, Problem, UsageError
from keytrail.history import line_hash
from keytrail.project import Project
from keytrail.replay import State
from keytrail.review import grant_id
from keytrail.review.worksheets import Assignment, decode, short, table
from keytrail.schemas import validate
from keytrail.textsafe import inline
from keytrail.timeutil import format_time
from keytrail.yamlload import Locator

#: Columns a worksheet must have; the others are informative.
REQUIRED = ("grant_id", "subject", "target", "resource", "decision", "comment")
ACTIONS = {"keep": "certify", "revoke": "revoke"}


@dataclass(frozen=True)
class Decision:
    """One decided worksheet row."""

    file: str
    line: int
    action: str           # certify | revoke
    subject: str
    target: str
    resource: str
    reviewer: str | None
    comment: str
    key_id: str = ""      # a key worksheet's row (target is then ``key:<id>``; no grant)


@dataclass
class Outcome:
    """What the worksheets say: the grant decisions, how many rows were left undecided,
    and the key decisions (rows of ``keys-*.csv``: see :mod:`keytrail.review.key_decisions`)."""

    decisions: list[Decision]
    undecided: int
    keys: list[Decision] = field(default_factory=list)


def read_worksheets(paths: list[Path], assigned: dict[str, Assignment] | None = None) -> Outcome:
    """Every decided row of ``paths``; raise :class:`InputError` naming file:line for every problem.

    With ``assigned`` (a pack's manifest), each row must be a grant the pack issued, its
    ``reviewer`` cell must be the reviewer the pack assigned it to, and that reviewer,
    not the cell, becomes the decision's approver.
    """
    problems: list[Problem] = []
    decisions: list[Decision] = []
    undecided = 0
    for path in paths:
        found, skipped = read_worksheet(path, problems, assigned)
        decisions.extend(found)
        undecided += skipped
    problems.extend(twice(decisions))
    if problems:
        raise InputError("invalid worksheets", problems)
    return Outcome([d for d in decisions if not d.key_id], undecided, [d for d in decisions if d.key_id])


def read_worksheet(path: Path, problems: list[Problem],
                   assigned: dict[str, Assignment] | None = None) -> tuple[list[Decision], int]:
    """The decided rows of one worksheet and how many are undecided; its problems go to ``problems``."""
    display = str(path)
    try:
        text = decode(path.read_bytes())
    except OSError as exc:
        problems.append(Problem(display, 0, 0, "", f"cannot read: {exc.strerror}"))
        return [], 0
    except UnicodeDecodeError as exc:
        problems.append(Problem(display, 0, 0, "", f"not valid UTF-8 or UTF-16 ({exc.reason}); "
                                "save the worksheet as CSV UTF-8"))
        return [], 0
    return _read_one(display, text, problems, assigned)


def twice(decisions: list[Decision]) -> list[Problem]:
    """A problem for every decision of a grant decided before (in these worksheets)."""
    problems = []
    seen: dict[tuple[str, str, str], Decision] = {}
    for d in decisions:
        key = (d.subject, d.target, d.resource)
        first = seen.get(key)
        if first is not None:
            problems.append(Problem(d.file, d.line, 0, "", f"{_what(d)} is decided twice "
                                    f"(first at {first.file}:{first.line})"))
        else:
            seen[key] = d
    return problems


def _read_one(display: str, text: str, problems: list[Problem],
              assigned: dict[str, Assignment] | None) -> tuple[list[Decision], int]:
    from keytrail.review import key_decisions

    lines = text.splitlines()
    if lines and key_decisions.is_key_sheet(lines[0]):
        return key_decisions.read(display, text, problems, assigned)
    out: list[Decision] = []
    undecided = 0
    for line, row in table(display, text, REQUIRED, "worksheet", problems):
        reviewer = _assigned_reviewer(display, line, row, assigned, problems)
        word = row["decision"].strip().lower()
        if not word:
            undecided += 1
            continue
        action = ACTIONS.get(word)
        subject, target, resource = row["subject"], row["target"], row["resource"]
        if action is None:
            problems.append(Problem(display, line, 0, "decision",
                                    f"unknown decision {short(row['decision'].strip())} "
                                    "(write keep or revoke, or leave it blank)"))
            continue
        if row["grant_id"].strip() != grant_id(subject, target, resource):
            problems.append(Problem(display, line, 0, "grant_id",
                                    f"{short(row['grant_id'].strip())} does not match "
                                    f"{inline(subject)} → {inline(target)}"
                                    f"{' on ' + inline(resource) if resource else ''} "
                                    "(was the row edited?)"))
            continue
        if reviewer is False:
            continue  # its reviewer problem is reported already
        if assigned is None:  # without a manifest (library use): a principal id in the cell
            cell = row.get("reviewer", "").strip()
            reviewer = cell if cell.startswith(("user:", "svc:")) else None
        out.append(Decision(display, line, action, subject, target, resource,
                            reviewer if isinstance(reviewer, str) else None, row["comment"].strip()))
    return out, undecided


def _assigned_reviewer(display: str, line: int, row: dict[str, str],
                       assigned: dict[str, Assignment] | None, problems: list[Problem]) -> str | bool | None:
    """The reviewer the pack assigned this row's grant to; ``False`` after reporting why
    the row cannot be trusted (not issued, another reviewer claimed, self-certification)."""
    if assigned is None:
        return None
    gid = row["grant_id"].strip()
    given = row.get("reviewer", "").strip()
    entry = assigned.get(gid)
    if entry is None:
        if row["decision"].strip():
            problems.append(Problem(display, line, 0, "grant_id", f"{short(gid)} is not a grant this "
                                    "review pack issued (a row from another review, or edited?)"))
        return False
    if given != (entry.reviewer or ""):
        problems.append(Problem(display, line, 0, "reviewer", (
            f"the worksheet says {short(given)}, but the pack assigned this grant to "
            f"{short(entry.reviewer or 'no reviewer')} ({entry.worksheet}); the reviewer "
            "of a grant cannot be changed in the worksheet")))
        return False
    if not row["decision"].strip():
        return None
    if entry.reviewer is None:
        problems.append(Problem(display, line, 0, "decision", "no reviewer was assigned to this grant, "
                                "so nobody can decide it from a worksheet (give its target an owner "
                                "or its subject a manager, and re-run `keytrail review`)"))
        return False
    if entry.reviewer == row["subject"].strip():
        problems.append(Problem(display, line, 0, "decision", f"{short(entry.reviewer)} would certify "
                                "their own access (self-certification is not a review)"))
        return False
    return entry.reviewer


def _what(d: Decision) -> str:
    # Cells of a worksheet: printed inert (a row need not match any grant yet).
    if d.key_id:
        return f"key {inline(d.key_id)}"
    return f"{inline(d.subject)} → {inline(d.target)}" + (f" on {inline(d.resource)}" if d.resource else "")


def check_active(outcome: Outcome, state: State) -> None:
    """Every decision must name a grant active as of the decisions' time."""
    problems = [Problem(d.file, d.line, 0, "", f"{_what(d)} is not an active grant as of "
                        f"{format_time(state.as_of)} (revoked, expired by a later change or never "
                        "granted): re-run `keytrail review`")
                for d in outcome.decisions if (d.subject, d.target, d.resource) not in state.grants]
    if problems:
        raise InputError("worksheets do not match the history", problems)


def check_key(outcome: Outcome, project: Project, time: int, actor: str, key_id: str) -> None:
    """The decisions are recorded under a key the registry knows, by its holder, while it is
    valid and within its scope: otherwise the review would write unexplained changes."""
    from keytrail.checks.unexplained_key_out_of_scope import in_scope

    key = project.keys.get(key_id)
    if key is None:
        raise UsageError(f"--key {inline(key_id)}: the key registry does not know this key "
                         "(register the review's key in the key registry first)")
    if actor != key.holder:
        raise UsageError(f"--actor {inline(actor)}: key {key.id} is held by {key.holder}; "
                         "only its holder may record changes under it")
    when = format_time(time)
    if key.revoked_at is not None and key.revoked_at <= time:
        raise UsageError(f"--key {key.id}: revoked {format_time(key.revoked_at)}, before --time {when}")
    if key.expires is not None and key.expires < time:
        raise UsageError(f"--key {key.id}: expired {format_time(key.expires)}, before --time {when}")
    if key.not_before is not None and time < key.not_before:
        raise UsageError(f"--key {key.id}: not valid before {format_time(key.not_before)} (--time {when})")
    problems = [Problem(d.file, d.line, 0, "target", f"{_what(d)}: {inline(d.target)} is outside the "
                        f"scope of key {key.id} ({', '.join(key.scope)})")
                for d in outcome.decisions if not in_scope(key, d.target)]
    if problems:
        raise InputError("decisions outside the key's scope", problems)


def events_text(outcome: Outcome, project: Project, time: int, actor: str, key: str,
                ticket: str | None) -> str:
    """The decisions as history JSONL, chained with ``prev``."""
    when = format_time(time)
    existing = {e.id for e in project.events}
    lines: list[bytes] = []
    for d in outcome.decisions:
        digest = hashlib.sha256("\x1f".join((when or "", d.action, d.subject, d.target,
                                             d.resource)).encode("utf-8")).hexdigest()
        ident = "rv-" + digest[:16]
        if ident in existing:
            raise UsageError(f"event id {ident} for {_what(d)} is already in the history "
                             "(these decisions were recorded already?)")
        event: dict[str, object] = {"id": ident, "time": when, "action": d.action,
                                    "subject": d.subject, "target": d.target,
                                    "resource": d.resource, "actor": actor, "key": key}
        if d.reviewer:
            event["approver"] = d.reviewer
        if ticket:
            event["ticket"] = ticket
        event["reason"] = d.comment or f"Access review: {'keep' if d.action == 'certify' else 'revoke'}"
        if lines:
            event["prev"] = line_hash(lines[-1])
        # Everything written must read back as history: a bad value stops here, not the next check.
        problems = validate(event, "event", Locator(d.file, {(): (d.line, 0)}))
        if problems:
            raise InputError("a decision cannot be written as an event", problems)
        lines.append(orjson.dumps(event))
    return "".join(line.decode("utf-8") + "\n" for line in lines)


def write_new(path: Path, text: str) -> None:
    """Create ``path`` with ``text``, atomically; refuse to overwrite."""
    from keytrail.commands._output import open_new

    if path.exists():
        raise UsageError(f"--out {path}: already exists (decisions are never overwritten; "
                         "choose a new file)")
    partial = path.with_name(f".{path.name}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open_new(partial, "\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(partial, path)  # fails if path appeared meanwhile: never overwrites
        partial.unlink()
    except FileExistsError:
        partial.unlink(missing_ok=True)
        raise UsageError(f"--out {path}: already exists") from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror}") from None
