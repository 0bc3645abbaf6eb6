"""``keytrail review``: the quarterly access review pack.

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
import io
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keytrail.engine import Report
from keytrail.errors import UsageError
from keytrail.graph import AccessGraph
from keytrail.model import CATEGORIES, SEVERITIES, Grant, Reported, kind_of
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
WORKSHEET_COLUMNS = ("grant_id", "reviewer", "subject", "target", "resource", "held_since",
                     "granted_by", "key", "approver", "ticket", "reason", "expires",
                     "last_certified", "findings", "decision", "comment")
#: The files a review pack folder may hold; a folder holding anything else is never replaced.
PACK_ENTRIES = frozenset({"index.html", "findings.json", "summary.md", "worksheets"})
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
        reviewer, note = _reviewer(view, directory, grant, mode)
        row = Row(grant, reviewer, note, by_grant.get(key, []))
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
    return Review(project, report, period, mode, rows, reviewers, previous)


def _reviewer(view: Any, directory: Any, grant: Grant, mode: str) -> tuple[str | None, str]:
    """(reviewer, note): who certifies ``grant``, or None with the reason nobody can."""
    subject = grant.subject
    if mode == "owner":
        target = directory.target(grant.target)
        if target is None:
            return None, f"{grant.target} is not in the directory"
        candidate = target.owner
        if candidate is None:
            return None, f"{grant.target} has no owner"
    else:
        candidate = _manager(directory, subject)
        if candidate is None:
            known = directory.principals.get(subject) or directory.groups.get(subject)
            if known is None:
                return None, f"{subject} is not in the directory"
            return None, f"{subject} has no {'owner' if kind_of(subject) != 'user' else 'manager'}"
    note = ""
    if candidate == subject:
        # Nobody certifies their own access: escalate to the subject's manager.
        escalated = _manager(directory, subject)
        if escalated is None or escalated == subject:
            return None, f"{subject} would review their own access and has no manager to escalate to"
        candidate, note = escalated, f"self-review escalated: {subject} owns {grant.target}"
    problem = _cannot_review(view, directory, candidate)
    if problem:
        return None, problem
    return candidate, note


def _manager(directory: Any, subject: str) -> str | None:
    """A user's manager, a service's accountable owner, a group's owner."""
    principal = directory.principals.get(subject)
    if principal is not None:
        return principal.manager if principal.kind == "user" else principal.owner
    group = directory.groups.get(subject)
    return group.owner if group is not None else None


def _cannot_review(view: Any, directory: Any, reviewer: str) -> str:
    """Why ``reviewer`` cannot review (not in the directory, inactive), or empty."""
    if reviewer not in directory.principals:
        return f"reviewer {reviewer} is not in the directory"
    inactive = view.inactive(reviewer)
    if inactive:
        return f"reviewer {reviewer} is {inactive}"
    return ""


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


def row_cells(row: Row) -> dict[str, str]:
    """A row's worksheet cells (plain text; the CSV writer neutralises formulas)."""
    g = row.grant
    e = g.event
    c = g.certified
    return {
        "grant_id": grant_id(g.subject, g.target, g.resource),
        "reviewer": row.reviewer or "",
        "subject": g.subject,
        "target": g.target,
        "resource": g.resource,
        "held_since": format_time(g.since) or "",
        "granted_by": e.actor or "",
        "key": e.key or "",
        "approver": e.approver or "",
        "ticket": e.ticket or "",
        "reason": e.reason or "",
        "expires": format_time(e.expires) or "",
        "last_certified": (format_time(c.time) or "") if c is not None else "",
        "findings": ";".join(sorted({f.check for f in row.findings})),
        "decision": "",
        "comment": "",
    }


def worksheet(rows: list[Row]) -> str:
    """One reviewer's worksheet: RFC 4180, ``\\r\\n`` line endings, formula-safe cells."""
    import csv

    from keytrail.formats.csv import safe

    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(WORKSHEET_COLUMNS)
    for row in rows:
        cells = row_cells(row)
        writer.writerow([safe(cells[c]) for c in WORKSHEET_COLUMNS])
    return out.getvalue()


def _row_context(row: Row, project: Project) -> dict[str, Any]:
    g = row.grant
    e = g.event
    c = g.certified
    cells = row_cells(row)
    return {
        **cells,
        "granted": format_time(e.time),
        "event": e.id,
        "where": str(project.event_location(e)),
        "reason": e.reason or "",
        "via": row.via,
        "via_more": row.via_more,
        "note": row.note,
        "certified": None if c is None else {
            "time": format_time(c.time), "actor": c.actor or "", "approver": c.approver or "",
            "event": c.id},
        "findings": [{"severity": f.severity, "rule": f.rule, "check": f.check,
                      "message": f.finding.message, "waived": f.waived is not None,
                      "fingerprint": f.fingerprint} for f in row.findings],
    }


def _counts(report: Report) -> dict[str, Any]:
    severities = list(reversed(SEVERITIES))
    table = {c: dict.fromkeys(severities, 0) for c in CATEGORIES}
    waived = 0
    for item in report.findings:
        if item.waived is not None:
            waived += 1
        else:
            table[item.category][item.severity] += 1
    rows = [{"category": c, "counts": [table[c][s] for s in severities],
             "total": sum(table[c].values())} for c in CATEGORIES if sum(table[c].values())]
    return {"severities": severities, "rows": rows, "waived": waived,
            "total": len(report.findings)}


def changes(review: Review) -> dict[str, Any] | None:
    """New and resolved findings (by fingerprint) and grants added and removed since ``previous``."""
    prev = review.previous
    if prev is None:
        return None
    before = {f["fingerprint"]: f for f in prev["findings"]}
    now = {item.fingerprint: item for item in review.report.findings}
    new = [{"severity": i.severity, "rule": i.rule, "subject": i.subject or "",
            "target": i.target or "", "message": i.finding.message}
           for fp, i in now.items() if fp not in before]
    resolved = [{"severity": str(f.get("severity", "")), "rule": str(f.get("rule", "")),
                 "subject": str(f.get("subject") or ""), "target": str(f.get("target") or ""),
                 "message": str(f.get("message", ""))}
                for fp, f in sorted(before.items()) if fp not in now]
    out: dict[str, Any] = {"new": new, "resolved": resolved, "grants_compared": False,
                           "previous_period": None, "added": [], "removed": []}
    section = prev.get("review")
    if isinstance(section, dict) and isinstance(section.get("grants"), list):
        old = {(g["subject"], g["target"], g.get("resource", "")) for g in section["grants"]}
        current = {row.key for row in review.rows}
        out.update(grants_compared=True, previous_period=section.get("period"),
                   added=[_grant_text(k) for k in sorted(current - old)],
                   removed=[_grant_text(k) for k in sorted(old - current)])
    return out


def _grant_text(key: tuple[str, str, str]) -> str:
    subject, target, resource = key
    return f"{subject} → {target}" + (f" on {resource}" if resource else "")


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


def _cap(items: list[Any], limit: int) -> tuple[list[Any], int]:
    return items[:limit], max(0, len(items) - limit)


def rows_per_reviewer(sections: int) -> int:
    """How many rows each reviewer's section of the page lists."""
    return min(ROWS_PER_REVIEWER, max(MIN_ROWS_PER_REVIEWER, PAGE_ROWS // max(sections, 1)))


def context(review: Review) -> dict[str, Any]:
    """What ``review.html.j2`` and ``review-summary.md.j2`` print."""
    report = review.report
    project = review.project
    sections = []
    cap = rows_per_reviewer(len(review.reviewers))
    for reviewer, rows in review.reviewers.items():
        shown, more = _cap(rows, cap)
        principal = project.directory.principals.get(reviewer) if reviewer else None
        sections.append({
            "reviewer": reviewer, "name": principal.name if principal else "",
            "worksheet": "worksheets/" + worksheet_name(reviewer), "count": len(rows),
            "flagged": sum(1 for r in rows if r.findings),
            "rows": [_row_context(r, project) for r in shown], "more": more})
    change = changes(review)
    if change is not None:
        for name in ("new", "resolved", "added", "removed"):
            change[name + "_count"] = len(change[name])
            change[name], change[name + "_more"] = _cap(change[name], CHANGES_SHOWN)
    assigned = [s for s in sections if s["reviewer"] is not None]
    return {
        "project": project.name,
        "period": review.period.label,
        "start": format_time(review.period.start),
        "end": format_time(review.period.end),
        "as_of": format_time(report.as_of),
        "since": format_time(report.since),
        "mode": review.mode,
        "grants": len(review.rows),
        "flagged": sum(1 for r in review.rows if r.findings),
        "reviewer_count": len(assigned),
        "unassigned": sum(s["count"] for s in sections if s["reviewer"] is None),
        "counts": _counts(report),
        "changes": change,
        "sections": sections,
        "rows_cap": cap,
    }


def review_data(review: Review) -> dict[str, Any]:
    """The ``review`` key of findings.json: period, reviewer mode and every active grant."""
    return {
        "period": review.period.label,
        "start": format_time(review.period.start),
        "end": format_time(review.period.end),
        "reviewer": review.mode,
        "grants": [{"subject": r.grant.subject, "target": r.grant.target,
                    "resource": r.grant.resource, "event": r.grant.event.id,
                    "reviewer": r.reviewer} for r in review.rows],
    }


def findings_json(review: Review) -> Iterator[str]:
    """``keytrail check --format json``'s document with the ``review`` key added last, in pieces.

    Like the findings, each grant is written compactly on a line of its own;
    streamed, so that a large organisation's file is never held in memory whole.
    """
    from keytrail.render import iter_json

    last = None
    for chunk in iter_json(review.report):
        if last is not None:
            yield last
        last = chunk
    body = (last or "").rstrip()
    assert body.endswith("}")
    data = review_data(review)
    grants = data.pop("grants")
    head = orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8")
    inner = head[1:-1].rstrip().replace("\n", "\n  ")
    lines = ",\n      ".join(orjson.dumps(g).decode("utf-8") for g in grants)
    review_text = "{" + inner + ",\n    \"grants\": [" + (
        "\n      " + lines + "\n    ]" if grants else "]") + "\n  }"
    yield body[:-1].rstrip() + ",\n  \"review\": " + review_text + "\n}\n"


def render_pack(review: Review) -> dict[str, str | Iterable[str]]:
    """Every file of the pack: relative path -> text (or its pieces)."""
    from keytrail.formats.markdown import escape
    from keytrail.render import _template

    ctx = context(review)
    files: dict[str, str | Iterable[str]] = {
        "index.html": _template("review.html.j2", autoescape=True).render(**ctx)}
    md = {**ctx, "project": escape(ctx["project"]), "period": escape(ctx["period"]),
          "sections": [{"reviewer": escape(s["reviewer"] or "no reviewer"), "count": s["count"],
                        "flagged": s["flagged"], "worksheet": escape(s["worksheet"])}
                       for s in ctx["sections"]]}
    files["summary.md"] = _template("review-summary.md.j2", autoescape=False).render(**md)
    files["findings.json"] = findings_json(review)
    for reviewer, rows in review.reviewers.items():
        files["worksheets/" + worksheet_name(reviewer)] = worksheet(rows)
    return files


# -- writing --------------------------------------------------------------------------


def write_pack(out: Path, files: dict[str, str | Iterable[str]]) -> None:
    """Write the pack into ``out`` as a whole: a temporary folder, then one rename.

    ``out`` is created, or replaced when it holds a previous review pack (and
    nothing else: a folder holding other files is refused, never deleted). On
    any error nothing of the new pack is left behind and ``out`` is untouched.
    """
    if out.exists():
        if not out.is_dir():
            raise UsageError(f"--out {out}: exists and is not a folder")
        others = sorted(p.name for p in out.iterdir() if p.name not in PACK_ENTRIES)
        if others:
            raise UsageError(f"--out {out}: holds files that are not part of a review pack "
                             f"({', '.join(others[:5])}); give a new or empty folder")
    parent = out.resolve().parent
    tmp = parent / f".{out.name}.partial"
    old = parent / f".{out.name}.old"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for leftover in (tmp, old):
            if leftover.exists():
                shutil.rmtree(leftover)
        (tmp / "worksheets").mkdir(parents=True)
        for name, text in files.items():
            with (tmp / name).open("w", encoding="utf-8", newline="") as handle:
                for chunk in [text] if isinstance(text, str) else text:
                    handle.write(chunk)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        if old.exists():
            shutil.rmtree(old)
    except BaseException as exc:  # an interrupted run leaves nothing behind either
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            old.rename(out)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
        raise
