"""Policy-change impact for a pull request: Markdown (a comment) and GitHub annotations.

``keytrail check --compare-policies REF`` computes what a policy change newly flags, clears
and (un)waives (:mod:`keytrail.impact`); these renderers put it where a reviewer of the
policy pull request reads it:

- ``markdown``: a comment or step summary: the totals, a table per rule, then per rule the
  first findings it newly flags and clears (:data:`FIRST` each), saying how many more the
  JSON has; it stays under GitHub's comment limit like the findings report.
- ``github``: one annotation per changed rule, on the rule's line in the policy file of the
  working tree (a rule the change removed is annotated without a line, naming where it was
  at REF), ``::error`` when the rule newly flags something at or above ``--fail-on``,
  ``::warning`` when it newly flags less, ``::notice`` when it only clears or (un)waives.

Every value from input goes through the same escaping as the findings reports
(:func:`keytrail.formats.markdown.escape`, :func:`keytrail.formats._common.gh_data`).
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from keytrail.formats._common import PACKAGED, gh_data, gh_property
from keytrail.formats.markdown import SIZE_LIMIT, escape
from keytrail.model import SEVERITY_RANK

#: Findings listed per rule and kind (newly flagged, cleared) in the Markdown comment.
FIRST = 5
KINDS = (("added", "newly flagged"), ("removed", "cleared"), ("newly_waived", "newly waived"),
         ("unwaived", "no longer waived"))


def markdown(data: dict[str, Any], size_limit: int = SIZE_LIMIT) -> str:
    s = data["summary"]
    head = ["## keytrail: what this policy change flags", "",
            f"The policies at {_code(data['base'])} compared with this change."]
    if not data["rules"]:
        head += ["", "No finding changes: the policy change flags nothing new and clears nothing."]
    else:
        words = (f"**{s['added']}** newly flagged (on {s['subjects_added']} "
                 f"subject{'s' if s['subjects_added'] != 1 else ''}), **{s['removed']}** cleared")
        if s["newly_waived"] or s["unwaived"]:
            words += f", {s['newly_waived']} newly waived, {s['unwaived']} no longer waived"
        head += ["", words + ".", "",
                 "| rule | check | where | newly flagged | cleared | newly waived | no longer waived |",
                 "|---|---|---|---:|---:|---:|---:|"]
    verdict = ("", f"**{s['failing']} newly flagged finding{'s' if s['failing'] != 1 else ''} at or "
                   f"above {s['fail_on']}: failing.**" if s["failing"] else
               f"Nothing newly flagged at or above {s['fail_on']}.")
    # The table too stays under the limit (a change to hundreds of rules): the rows that fit,
    # then how many more; the verdict below is always there.
    used = len("\n".join(head + list(verdict))) + 600
    rows = 0
    for r in data["rules"]:
        row = (f"| {_code(r['rule'])} | {_code(r['check'])} | {_where(r)} | "
               + " | ".join(str(len(r[k])) for k, _ in KINDS) + " |")
        if used + len(row) + 1 > size_limit:
            break
        head.append(row)
        used += len(row) + 1
        rows += 1
    if rows < len(data["rules"]):
        more = len(data["rules"]) - rows
        head += ["", f"… and {more} more rule{'s' if more != 1 else ''} changed: "
                     "`--compare-policies REF --format json` lists them all."]
    sections = [_section(r) for r in data["rules"]]
    out = "\n".join(head) + "\n"
    tail = "\n".join(verdict) + "\n"
    left = 0
    for section in sections:
        if len(out) + len(section) + len(tail) + 200 > size_limit:
            left += 1
            continue
        out += section
    if left:
        out += (f"\n{left} rule section{'s' if left != 1 else ''} left out to stay under GitHub's "
                "comment limit: `--compare-policies REF --format json` has every finding.\n")
    return out + tail


def _section(r: dict[str, Any]) -> str:
    lines = ["", f"### {_code(r['rule'])} ({_where(r)})"]
    for kind, label in KINDS:
        items = r[kind]
        if not items:
            continue
        more = f" (first {FIRST} of {len(items)})" if len(items) > FIRST else ""
        lines += ["", f"{label.capitalize()}{more}:", ""]
        for f in items[:FIRST]:
            who = " → ".join(_code(x) for x in (f["subject"], f["target"]) if x)
            if f.get("resource"):
                who += f" on {_code(f['resource'])}"
            lines.append(f"- **{f['severity']}** {who}: {escape(f['message'])}")
        if len(items) > FIRST:
            lines.append(f"- … and {len(items) - FIRST} more (`--format json` lists them all)")
    return "\n".join(lines) + "\n"


def _code(value: object) -> str:
    """A value as inert inline code (mentions, links and Markdown all literal)."""
    text = escape(value)
    return f"`{text}`" if "`" not in text and "\\" not in text else text


def _where(r: dict[str, Any]) -> str:
    loc = r.get("location")
    if not loc:
        return "—"
    place = f"{loc['path']}:{loc['line']}" if loc.get("line") else loc["path"]
    return escape(place) + (f" at {escape(r['location_at'])}" if r.get("location_at") else "")


def github(data: dict[str, Any], root: str = ".") -> str:
    """One workflow annotation per changed rule, on its line in the working tree's policy."""
    threshold = SEVERITY_RANK[data["summary"]["fail_on"]]
    base = PurePosixPath(root)
    lines = []
    for r in data["rules"]:
        fails = any(f["waived"] is None and SEVERITY_RANK[f["severity"]] >= threshold
                    for f in r["added"] + r["unwaived"])
        level = "error" if fails else ("warning" if r["added"] or r["unwaived"] else "notice")
        counts = ", ".join(f"{len(r[k])} {label}" for k, label in KINDS if r[k])
        props = []
        loc = r.get("location")
        if loc and not r.get("location_at") and not loc["path"].startswith(PACKAGED):
            path = base / loc["path"] if root != "." else PurePosixPath(loc["path"])
            props += [f"file={gh_property(str(path))}", f"line={max(int(loc.get('line') or 1), 1)}"]
            if loc.get("column"):
                props.append(f"col={loc['column']}")
        props.append(f"title={gh_property('keytrail policy impact: ' + r['rule'])}")
        first = next((f for k, _ in KINDS for f in r[k]), None)
        example = f" First: {first['message']}" if first else ""
        where = f" (rule removed; it was at {_plain_where(r)})" if r.get("location_at") else ""
        lines.append(f"::{level} {','.join(props)}::{gh_data(f'{counts}{where}.{example}')}\n")
    s = data["summary"]
    lines.append(f"::notice title=keytrail policy impact::{gh_data(_totals(s))}\n")
    return "".join(lines)


def _plain_where(r: dict[str, Any]) -> str:
    loc = r["location"]
    return f"{loc['path']}:{loc['line']} at {r['location_at']}"


def _totals(s: dict[str, Any]) -> str:
    return (f"{s['added']} newly flagged, {s['removed']} cleared, {s['newly_waived']} newly waived, "
            f"{s['unwaived']} no longer waived; {s['failing']} newly flagged at or above {s['fail_on']}")
