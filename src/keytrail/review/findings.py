"""The review pack's findings that no grant row shows, so that none disappears from the pack.

A grant row of ``index.html`` shows the findings on that active direct grant.
Every other finding of the period — one not tied to an active grant (tampered
history, drift, a duplicate role, an unused target, excessive access, an
ownerless service...) or one on a grant whose row the page does not list (a
reviewer with more rows than the page shows) — is listed here: unwaived before
waived, critical and unexplained ones first, then by severity and grouped by
rule, each on one line with its chain (event, key and holder, actor, approver,
ticket, reason) and fingerprint, which is the same as in ``findings.json``.

No finding is dropped, however many there are. ``index.html`` counts them by
rule and details the first :data:`INDEX_SHOWN`; when there are more, every one
of them is on the pack's findings pages (``findings/findings-0001.html``...,
:data:`PER_PAGE` a page, in the same order), which the rule table links to.
Each page is self-contained like ``index.html`` and hashed in ``pack.json``.
"""

from __future__ import annotations

import re
from typing import Any

from keytrail.model import SEVERITY_RANK, Reported

#: The most findings index.html details in its "findings not on a grant row" section.
INDEX_SHOWN = 200
#: Findings per findings page (about 600 bytes each: a page stays near 1 MB and opens at once).
PER_PAGE = 2_000
#: The folder of the findings pages inside a pack, and the only names a page may have.
FOLDER = "findings"
PAGE_NAME = re.compile(r"findings/findings-\d{4,}\.html\Z")


def page_name(number: int) -> str:
    """The pack path of findings page ``number`` (1-based)."""
    return f"{FOLDER}/findings-{number:04d}.html"


def order(item: Reported) -> tuple[Any, ...]:
    """Unwaived first; critical or unexplained first; then by severity, unexplained first;
    then grouped by rule."""
    urgent = item.severity == "critical" or item.category == "unexplained"
    return (item.waived is not None, not urgent, -SEVERITY_RANK[item.severity],
            item.category != "unexplained", item.rule, item.sort_key())


def unlisted(review: Any, shown: set[str], where: dict[str, str], people: Any) -> dict[str, Any]:
    """What the page's findings section and the findings pages print: every finding of
    ``review`` whose fingerprint is not in ``shown`` (the findings the page's grant rows
    print). ``where`` maps the fingerprint of a finding on an active grant cut from the page
    to its worksheet."""
    report = review.report
    rest = sorted((i for i in report.findings if i.fingerprint not in shown), key=order)
    items = [_item(review, item, where, people) for item in rest]
    split: list[dict[str, Any]] = []
    if len(items) > INDEX_SHOWN:  # more than index.html details: every one goes on a page
        for start in range(0, len(items), PER_PAGE):
            chunk = items[start:start + PER_PAGE]
            split.append({"file": page_name(len(split) + 1), "number": len(split) + 1,
                          "first": start + 1, "last": start + len(chunk), "findings": chunk})
    page_of = {i: p for p in split for i in range(p["first"], p["last"] + 1)}
    rules: dict[str, dict[str, Any]] = {}
    for n, item in enumerate(items, start=1):
        rule = rules.get(item["rule"])
        if rule is None:
            rules[item["rule"]] = rule = {
                "rule": item["rule"], "check": item["check"], "category": item["category"],
                "severity": item["severity"], "count": 0, "waived": 0, "urgent": 0,
                "first_page": None, "last_page": None}
        rule["count"] += 1
        rule["waived"] += item["waived"]
        rule["urgent"] += item["urgent"]
        if SEVERITY_RANK[item["severity"]] > SEVERITY_RANK[rule["severity"]]:
            rule["severity"] = item["severity"]
        page = page_of.get(n)
        if page is not None:  # the pages this rule's findings span, for the rule table's links
            link = {"file": page["file"], "number": page["number"]}
            rule["first_page"] = rule["first_page"] or link
            rule["last_page"] = link
    return {"findings": items[:INDEX_SHOWN], "count": len(items), "more": max(0, len(items) - INDEX_SHOWN),
            "rules": list(rules.values()), "pages": split,
            "urgent": sum(1 for i in items if i["urgent"] and not i["waived"]),
            "cut": any(i["worksheet"] for i in items)}


def _item(review: Any, item: Reported, where: dict[str, str], people: Any) -> dict[str, Any]:
    """One finding as a line of the list: what, about whom, where, its chain and fingerprint."""
    from keytrail.report import chain_line, finding_data

    project = review.project
    data = finding_data(review.report, item)
    f = item.finding
    event = f.event
    chain = chain_line(data) or (_event_chain(project, event) if event is not None else "")
    revoked = (data.get("evidence") or {}).get("revoked")
    if not chain and isinstance(revoked, dict):
        # Drift on a grant the history revoked: the revoke's chain is the one to follow.
        chain = "revoked: " + chain_line({"evidence": {"chain": [revoked]}})
    located = ""
    if event is not None:
        located = str(project.event_location(event))
    elif f.location is not None:
        located = f"{f.location.path}:{max(f.location.line, 1)}"
    return {
        "severity": item.severity, "category": item.category, "rule": item.rule,
        "check": item.check, "message": f.message, "subject": f.subject or "",
        "subject_text": people(f.subject).text() if f.subject else "",
        "target": f.target or "", "resource": f.resource, "event": event.id if event else "",
        "where": located, "chain": chain, "fingerprint": item.fingerprint,
        "waived": item.waived is not None,
        "urgent": item.severity == "critical" or item.category == "unexplained",
        "worksheet": where.get(item.fingerprint, ""),
    }


# -- rendering (summary.md's account, the findings pages) ------------------------------


#: The most critical or unexplained findings summary.md lists by name (index.html and the
#: findings pages list them all).
SUMMARY_SHOWN = 50


def summary(others: dict[str, Any]) -> dict[str, Any]:
    """summary.md's account of the findings on no grant row: counts by rule (with where each
    rule's findings are) and the unwaived critical or unexplained ones, Markdown-escaped."""
    from keytrail.formats.markdown import escape

    def where(rule: dict[str, Any]) -> str:
        first, last = rule["first_page"], rule["last_page"]
        if first is None:
            return "index.html"
        if first["number"] == last["number"]:
            return escape(first["file"])
        return f"{escape(first['file'])} to {escape(last['file'])}"

    urgent = [f for f in others["findings"] if f["urgent"] and not f["waived"]][:SUMMARY_SHOWN]
    return {
        "count": others["count"], "urgent_count": others["urgent"], "pages": len(others["pages"]),
        "rules": [{"rule": escape(r["rule"]), "check": escape(r["check"]), "severity": r["severity"],
                   "count": r["count"], "waived": r["waived"], "where": where(r)} for r in others["rules"]],
        "urgent": [{"severity": f["severity"], "rule": escape(f["rule"]), "message": escape(f["message"]),
                    "fingerprint": f["fingerprint"]} for f in urgent],
    }


def pages(ctx: dict[str, Any]) -> dict[str, str]:
    """The findings pages (``findings/findings-NNNN.html``): every finding no grant row of
    index.html shows, :data:`PER_PAGE` a page, when there are more than index.html details."""
    from collections import Counter

    from keytrail.render import _template

    template = _template("review-findings.html.j2", autoescape=True)
    listed = ctx["others"]["pages"]
    out = {}
    for n, page in enumerate(listed):
        rules = Counter(f["rule"] for f in page["findings"])
        out[page["file"]] = template.render(
            period=ctx["period"], project=ctx["project"], as_of=ctx["as_of"], page=page,
            pages=len(listed), total=ctx["others"]["count"],
            # Links are relative to the page, which sits in findings/ beside its siblings.
            previous=listed[n - 1]["file"].rsplit("/", 1)[1] if n else None,
            next=listed[n + 1]["file"].rsplit("/", 1)[1] if n + 1 < len(listed) else None,
            rules=[{"rule": r, "count": c} for r, c in rules.items()])
    return out


def _event_chain(project: Any, event: Any) -> str:
    """The chain of an event the finding names but whose evidence carries none."""
    parts = []
    if event.key:
        key = project.keys.get(event.key)
        parts.append(f"key {event.key} (holder {key.holder})" if key is not None
                     else f"key {event.key} (not registered)")
    else:
        parts.append("no key")
    for name in ("actor", "approver", "ticket"):
        value = getattr(event, name)
        if value:
            parts.append(f"{name} {value}")
    if event.reason:
        parts.append(f"“{event.reason}”")
    return " · ".join(parts)
