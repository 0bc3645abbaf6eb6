"""``keytrail review``: the quarterly access review pack.

This package is the review job, one module a piece: this module builds the review's data
(periods, reviewers, rows); ``rows``, ``keys``, ``findings``, ``evidence`` and ``people``
shape it for the page; ``pack`` renders and writes the pack; ``worksheets`` reads and writes
the CSV worksheets; ``decisions`` and ``key_decisions`` turn filled worksheets back into
history and registry proposals; ``attest`` records what the review read; ``status`` and
``verify`` answer ``keytrail review status|verify``.

One folder per review, rendered from the same data as every other format:

- ``index.html`` — self-contained (inline CSS, no script, nothing fetched):
  the summary, what changed since the previous review (``--previous``), then
  one folded section per reviewer listing every active direct grant they must
  certify, with how it is held, its chain, its last certification and the
  findings on it; grants nobody can review have a section of their own.
- ``worksheets/<reviewer>.csv`` — one row per grant with empty ``decision``
  and ``comment`` columns, formula-safe; ``keytrail decisions`` reads them back.
- ``findings.json`` — the findings contract (as ``keytrail check --format
  json``) plus a ``review`` key: the period, the reviewer mode and every active
  grant, so that the next review can tell which grants were added and removed.
- ``summary.md`` — a short Markdown summary.
- ``findings/findings-NNNN.html`` — when more findings are on no grant row than
  the page details, every one of them, :data:`keytrail.review.findings.PER_PAGE`
  a page (see that module).

Decisions, documented in docs/formats.md:

- A period is ``2026``, ``2026-H2``, ``2026-Q3`` or ``2026-09``. The state is
  replayed as of the period's last second (``23:59:59Z`` of its last day) and
  the review window starts where the previous period ended (``23:59:59Z`` of
  the day before the period), so consecutive reviews tile the history with no
  gap: an event at exactly ``00:00:00Z`` on the first day is in the window.
  ``--as-of`` may move the review time earlier (a mid-period preview), never
  before the period starts nor after it ends.
- Every active *direct* grant is listed exactly once. Its reviewer is the
  owner of its target (``--reviewer owner``, the default) or the subject's
  manager (``--reviewer manager``: a user's ``manager``, a service's
  accountable ``owner``, a group's ``owner``). A group-held role is therefore
  reviewed as two grants: the role grant (under the role's owner) and each
  membership (under the group's owner).
- Nobody certifies their own access: when the reviewer would be the grant's
  subject, the grant goes to the subject's manager (and says so). A reviewer
  who is not an active principal of the directory (unknown, terminated,
  suspended, left) cannot review: those grants, and grants with no reviewer at
  all, are listed under "no reviewer" with the reason.
- Rows are listed with the flagged grants (those with findings) first, then
  by subject, target and resource, in the page and in the worksheet alike. A
  reviewer section lists at most :data:`ROWS_PER_REVIEWER` rows in the page
  (fewer when there are many reviewers: :data:`PAGE_ROWS` for the whole page,
  never fewer than :data:`MIN_ROWS_PER_REVIEWER` each) and says how many more
  are in the worksheet, so the page of a large organisation stays small
  enough to open.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keytrail.engine import Report
from keytrail.errors import UsageError
from keytrail.graph import AccessGraph
from keytrail.model import Grant, Reported, kind_of
from keytrail.project import Project
from keytrail.replay import State
from keytrail.timeutil import SECOND, format_time, parse_time

#: The most rows one reviewer's section of index.html lists; the worksheet has them all.
ROWS_PER_REVIEWER = 300
#: The rows the whole page aims at (about 600 bytes each): with many reviewers each section
#: lists fewer rows, down to :data:`MIN_ROWS_PER_REVIEWER`, so the page stays near 12 MB.
PAGE_ROWS = 20_000
MIN_ROWS_PER_REVIEWER = 20
#: The most entries each "what changed" list of index.html shows.
CHANGES_SHOWN = 300
#: The most entitlements or members shown in the "how held" cell of one grant.
VIA_SHOWN = 5
#: Worksheet columns, in order (``keytrail decisions`` requires the starred ones).
#: The columns after ``resource`` and before ``decision`` are for people: ``keytrail decisions``
#: ignores them on read (and every cell passes the formula guard on write).
WORKSHEET_COLUMNS = ("grant_id", "reviewer", "reviewer_name", "reviewer_title", "reviewer_note",
                     "unassigned_reason", "subject", "target", "resource",
                     "subject_name", "subject_title", "subject_department", "subject_manager",
                     "subject_manager_name", "subject_status", "target_name", "held_since", "last_change",
                     "granted_by", "granted_by_name", "key", "approver", "approver_name", "ticket",
                     "reason", "expires", "last_certified", "last_used", "findings", "decision", "comment")
#: Why a grant has no reviewer (the ``unassigned_reason`` column; ``reviewer_note`` says it in words).
UNASSIGNED_REASONS = {
    "target-not-in-directory": "the role or group is not in the directory, so it has no owner",
    "target-has-no-owner": "the role or group has no owner",
    "subject-not-in-directory": "the subject is not in the directory, so it has no manager",
    "subject-has-no-manager": "the subject has no manager (a service or group: no owner)",
    "self-review-no-manager": "the reviewer would be the subject, and the subject has no other manager",
    "reviewer-not-in-directory": "the reviewer is not a principal of the directory",
    "reviewer-inactive": "the reviewer is terminated, suspended or has left",
}
#: The files a review pack folder may hold; a folder holding anything else is never replaced.
PACK_ENTRIES = frozenset({"index.html", "findings.json", "summary.md", "worksheets", "pack.json", "findings"})
UNASSIGNED = "unassigned"
REVIEWER_MODES = ("owner", "manager")

_PERIOD = re.compile(r"(\d{4})(?:-(?:(Q[1-4])|(H[12])|(\d{2})))?\Z")


@dataclass(frozen=True)
class Period:
    """A review period: its label and its first and last second (epoch µs)."""

    label: str
    start: int
    end: int

    @property
    def since(self) -> int:
        """The review window starts where the previous period ended (one second before ``start``)."""
        return self.start - SECOND


def parse_period(text: str) -> Period:
    """``2026``, ``2026-H2``, ``2026-Q3`` or ``2026-09`` as a :class:`Period`."""
    m = _PERIOD.match(text.strip())
    if m is None:
        raise UsageError(f"--period {text!r}: expected a year (2026), half (2026-H2), "
                         "quarter (2026-Q3) or month (2026-09)")
    year, quarter, half, month = m.groups()
    first, last = 1, 12
    if quarter:
        first = 3 * int(quarter[1]) - 2
        last = first + 2
    elif half:
        first = 1 if half == "H1" else 7
        last = first + 5
    elif month:
        first = last = int(month)
        if not 1 <= first <= 12:
            raise UsageError(f"--period {text!r}: no month {month}")
    if int(year) < 1 or (int(year) == 9999 and last == 12):
        raise UsageError(f"--period {text!r} is out of range")
    start = parse_time(f"{year}-{first:02d}-01T00:00:00Z")
    next_year, next_month = (int(year) + 1, 1) if last == 12 else (int(year), last + 1)
    end = parse_time(f"{next_year:04d}-{next_month:02d}-01T00:00:00Z") - SECOND
    return Period(text.strip(), start, end)


def review_time(period: Period, as_of: int | None) -> int:
    """The time the review is made as of: the period's end, or ``--as-of`` within the period."""
    if as_of is None:
        return period.end
    if as_of < period.start or as_of > period.end:
        raise UsageError(f"--as-of {format_time(as_of)} is outside the period {period.label} "
                         f"({format_time(period.start)} to {format_time(period.end)})")
    return as_of


def grant_id(subject: str, target: str, resource: str) -> str:
    """A grant's stable id: a hash of subject, target and resource (the same in every review)."""
    digest = hashlib.sha256("\x1f".join((subject, target, resource)).encode("utf-8")).hexdigest()
    return "g-" + digest[:16]


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def worksheet_name(reviewer: str | None) -> str:
    """The worksheet file name of ``reviewer`` (``user:marta.nowak`` -> ``user_marta.nowak.csv``)."""
    if reviewer is None:
        return f"{UNASSIGNED}.csv"
    safe = _UNSAFE.sub("_", reviewer)
    if safe != reviewer.replace(":", "_", 1) or len(safe) > 100:
        # Characters were replaced (or the name was cut): keep distinct reviewers distinct.
        safe = safe[:100] + "-" + hashlib.sha256(reviewer.encode("utf-8")).hexdigest()[:8]
    return f"{safe}.csv"


@dataclass
class Row:
    """One active direct grant to certify, with everything its row prints."""

    grant: Grant
    reviewer: str | None
    note: str                     # why it has this reviewer (escalated) or none (the reason)
    findings: list[Reported]
    unassigned: str = ""          # a key of UNASSIGNED_REASONS when reviewer is None
    via: list[str] = field(default_factory=list)
    via_more: int = 0

    @property
    def key(self) -> tuple[str, str, str]:
        g = self.grant
        return (g.subject, g.target, g.resource)


@dataclass
class Review:
    """The review pack's data, from which every file of the pack is rendered."""

    project: Project
    report: Report
    period: Period
    mode: str
    rows: list[Row]
    reviewers: dict[str | None, list[Row]]          # sorted; None (no reviewer) last
    previous: dict[str, Any] | None = None
    #: What the review read and whether the history verifies (a keytrail.review.attest.Attestation).
    attestation: Any = None
    #: Who each id is (a keytrail.review.people.People over the directory and the replayed view).
    people: Any = None
    #: The command line that wrote the pack, as given (recorded in pack.json's ``evidence``).
    command: list[str] | None = None
    #: The keys valid in the period by owner (keytrail.review.keys.build; None: unowned, last).
    keys: dict[str | None, Any] = field(default_factory=dict)


def build(project: Project, state: State, graph: AccessGraph, report: Report, period: Period,
          mode: str = "owner", previous: dict[str, Any] | None = None) -> Review:
    """Assign every active direct grant to its reviewer."""
    if mode not in REVIEWER_MODES:
        raise UsageError(f"--reviewer {mode!r}: choose owner or manager")
    view = report.view
    by_grant: dict[tuple[str, str, str], list[Reported]] = {}
    for item in report.findings:
        f = item.finding
        if f.subject and f.target:
            by_grant.setdefault((f.subject, f.target, f.resource), []).append(item)
    members: dict[str, list[str]] = {}
    for (subject, target, _), _grant in state.grants.items():
        if kind_of(target) == "group":
            members.setdefault(target, []).append(subject)
    for names in members.values():
        names.sort()
    directory = project.directory
    rows: list[Row] = []
    for key in sorted(state.grants):
        grant = state.grants[key]
        reviewer, note, why = _reviewer(view, directory, grant, mode)
        row = Row(grant, reviewer, note, by_grant.get(key, []), why)
        _held(row, graph, members)
        rows.append(row)
    grouped: dict[str | None, list[Row]] = {}
    for row in rows:
        grouped.setdefault(row.reviewer, []).append(row)
    for group_rows in grouped.values():
        group_rows.sort(key=lambda r: (not r.findings, r.key))
    order = sorted(r for r in grouped if r is not None)
    reviewers: dict[str | None, list[Row]] = {r: grouped[r] for r in order}
    if None in grouped:
        reviewers[None] = grouped[None]
    from keytrail.review import keys as review_keys
    from keytrail.review.people import People

    return Review(project, report, period, mode, rows, reviewers, previous,
                  people=People(directory, view),
                  keys=review_keys.build(project, report, period.start, period.since))


def _reviewer(view: Any, directory: Any, grant: Grant, mode: str) -> tuple[str | None, str, str]:
    """(reviewer, note, reason): who certifies ``grant``; or None, the note in words and the
    reason's key (:data:`UNASSIGNED_REASONS`) when nobody can."""
    subject = grant.subject
    if mode == "owner":
        target = directory.target(grant.target)
        if target is None:
            return None, f"{grant.target} is not in the directory, so it has no owner to review it", \
                "target-not-in-directory"
        candidate = target.owner
        if candidate is None:
            return None, f"{grant.target} has no owner", "target-has-no-owner"
        role = f"owner of {grant.target}"
    else:
        candidate = _manager(directory, subject)
        if candidate is None:
            known = directory.principals.get(subject) or directory.groups.get(subject)
            if known is None:
                return None, f"{subject} is not in the directory, so it has no manager to review it", \
                    "subject-not-in-directory"
            boss = "owner" if kind_of(subject) != "user" else "manager"
            return None, f"{subject} has no {boss}", "subject-has-no-manager"
        role = f"{'owner' if kind_of(subject) != 'user' else 'manager'} of {subject}"
    note = ""
    if candidate == subject:
        # Nobody certifies their own access: escalate to the subject's manager.
        escalated = _manager(directory, subject)
        if escalated is None or escalated == subject:
            return None, (f"{subject} would review their own access ({role}) and has no manager "
                          "to escalate to"), "self-review-no-manager"
        candidate, note = escalated, f"self-review escalated: {subject} owns {grant.target}"
        role = f"manager of {subject}, escalated from self-review"
    if candidate not in directory.principals:
        return None, f"reviewer {candidate} ({role}) is not in the directory", "reviewer-not-in-directory"
    inactive = view.inactive(candidate)
    if inactive:
        return None, f"reviewer {candidate} ({role}) is {inactive}", "reviewer-inactive"
    return candidate, note, ""


def _manager(directory: Any, subject: str) -> str | None:
    """A user's manager, a service's accountable owner, a group's owner."""
    principal = directory.principals.get(subject)
    if principal is not None:
        return principal.manager if principal.kind == "user" else principal.owner
    group = directory.groups.get(subject)
    return group.owner if group is not None else None


def _held(row: Row, graph: AccessGraph, members: dict[str, list[str]]) -> None:
    """How the grant is held: what a membership leads to, or who holds a group's grant."""
    g = row.grant
    via: list[str] = []
    total = 0
    if kind_of(g.target) == "group":
        closure = graph.group_closure(g.target)
        total = len(closure)
        for (target, resource) in sorted(closure)[:VIA_SHOWN]:
            path = closure[(target, resource)]
            hops = " → ".join([g.target] + [p.target for p in path])
            via.append(f"gives {hops}" + (f" on {resource}" if resource else ""))
    if kind_of(g.subject) == "group":
        held_by = members.get(g.subject, [])
        shown = held_by[:VIA_SHOWN]
        if held_by:
            via.append(f"held through {g.subject} by {len(held_by)} direct member"
                       f"{'' if len(held_by) == 1 else 's'}: {', '.join(shown)}"
                       + (", …" if len(held_by) > len(shown) else ""))
        else:
            via.append(f"held through {g.subject}, which has no members")
    row.via = via
    row.via_more = max(0, total - VIA_SHOWN)


# -- rendering ------------------------------------------------------------------------


def read_previous(path: Path) -> dict[str, Any]:
    """A previous review's ``findings.json`` (or any findings JSON report)."""
    try:
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"--previous {path}: cannot read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise UsageError(f"--previous {path}: not JSON: {exc}") from None
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list) or not all(
            isinstance(f, dict) and isinstance(f.get("fingerprint"), str) for f in findings):
        raise UsageError(f"--previous {path}: not a findings JSON file "
                         "(expected a review pack's findings.json or `keytrail check --format json`)")
    section = data.get("review")
    if section is not None:
        grants = section.get("grants") if isinstance(section, dict) else None
        if not isinstance(grants, list) or not all(
                isinstance(g, dict) and isinstance(g.get("subject"), str)
                and isinstance(g.get("target"), str) for g in grants):
            raise UsageError(f"--previous {path}: its review.grants is not a list of grants")
    return data


# -- writing --------------------------------------------------------------------------


