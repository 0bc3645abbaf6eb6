"""Rendering and writing the review pack that :mod:`keytrail.review` builds.

The page (``index.html``), the worksheets, ``findings.json`` and
``summary.md`` are rendered here from a :class:`~keytrail.review.Review`,
and the pack is written atomically (:func:`write_pack`): a folder that holds
anything but a previous review pack is never replaced.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from keytrail.engine import Report
from keytrail.errors import UsageError
from keytrail.model import CATEGORIES, SEVERITIES
from keytrail.review import (
    CHANGES_SHOWN,
    MIN_ROWS_PER_REVIEWER,
    PACK_ENTRIES,
    PAGE_ROWS,
    ROWS_PER_REVIEWER,
    Review,
    grant_id,
    worksheet_name,
)
from keytrail.review import findings as review_findings
from keytrail.review import keys as review_keys
from keytrail.review.evidence import PACK_FILES, evidence, evidence_words, sha256_text
from keytrail.review.people import People
from keytrail.review.rows import row_context, worksheet
from keytrail.review.worksheets import MANIFEST, has_work, manifest_text
from keytrail.textsafe import json_inert
from keytrail.timeutil import format_time


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


def _cap(items: list[Any], limit: int) -> tuple[list[Any], int]:
    return items[:limit], max(0, len(items) - limit)


#: Up to this many reviewer sections the page opens them all; beyond, they start folded: a
#: browser lays out a folded section only when it is opened, which keeps a large
#: organisation's page responsive (printing expands every section either way).
OPEN_SECTIONS = 40


def rows_per_reviewer(sections: int) -> int:
    """How many rows each reviewer's section of the page lists."""
    return min(ROWS_PER_REVIEWER, max(MIN_ROWS_PER_REVIEWER, PAGE_ROWS // max(sections, 1)))


def context(review: Review) -> dict[str, Any]:
    """What ``review.html.j2`` and ``review-summary.md.j2`` print."""
    report = review.report
    project = review.project
    sections: list[dict[str, Any]] = []
    on_rows: set[str] = set()  # the fingerprints the page's grant rows print
    cap = rows_per_reviewer(len(review.reviewers))
    people = _people(review)
    for reviewer, rows in review.reviewers.items():
        shown, more = _cap(rows, cap)
        on_rows.update(f.fingerprint for r in shown for f in r.findings)
        sections.append({
            "reviewer": reviewer, "name": people(reviewer).text() if reviewer else "",
            "worksheet": "worksheets/" + worksheet_name(reviewer), "count": len(rows),
            "flagged": sum(1 for r in rows if r.findings),
            "rows": [row_context(r, project, people) for r in shown], "more": more})
    cut = {f.fingerprint: "worksheets/" + worksheet_name(reviewer)
           for reviewer, rows in review.reviewers.items() for r in rows for f in r.findings}
    from keytrail.review.findings import PER_PAGE, unlisted

    others = unlisted(review, on_rows, cut, people)
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
        "snapshot": report.view.snapshot_use.message,
        "grants": len(review.rows),
        "flagged": sum(1 for r in review.rows if r.findings),
        "reviewer_count": len(assigned),
        "unassigned": sum(s["count"] for s in sections if s["reviewer"] is None),
        "counts": _counts(report),
        "changes": change,
        "sections": sections,
        "others": others,
        "per_page": PER_PAGE,
        "rows_cap": cap,
        "open_sections": len(sections) <= OPEN_SECTIONS,
        "attestation": None if review.attestation is None else _attest_words(review.attestation),
        "evidence": evidence_words(evidence(review)),
        "key_sections": review_keys.context(review.keys, people),
        "key_count": sum(len(rows) for rows in review.keys.values()),
    }


def _people(review: Review) -> People:
    if review.people is None:
        review.people = People(review.project.directory, review.report.view)
    return review.people  # type: ignore[no-any-return]


def _attest_words(att: Any) -> dict[str, Any]:
    from keytrail.review.attest import words

    return words(att)


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
    head = json_inert(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode("utf-8"))
    inner = head[1:-1].rstrip().replace("\n", "\n  ")
    lines = ",\n      ".join(json_inert(orjson.dumps(g).decode("utf-8")) for g in grants)
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
    att = ctx["attestation"]
    md = {**ctx, "project": escape(ctx["project"]), "period": escape(ctx["period"]),
          "evidence": escape(ctx["evidence"]),
          "snapshot": escape(ctx["snapshot"]),
          "attestation": None if att is None else {
              **att, "sentences": [escape(t) for t in att["sentences"]],
              "problems": [escape(p) for p in att["problems"]]},
          "others": review_findings.summary(ctx["others"]),
          "sections": [{"reviewer": escape(s["reviewer"] or "no reviewer"), "count": s["count"],
                        "flagged": s["flagged"], "worksheet": escape(s["worksheet"])}
                       for s in ctx["sections"]]}
    files["summary.md"] = _template("review-summary.md.j2", autoescape=False).render(**md)
    files.update(review_findings.pages(ctx))
    files["findings.json"] = "".join(findings_json(review))  # hashed into pack.json below
    sheets = []
    for reviewer, rows in review.reviewers.items():
        name = "worksheets/" + worksheet_name(reviewer)
        files[name] = text = worksheet(rows, _people(review))
        sheets.append((name, reviewer, [grant_id(r.grant.subject, r.grant.target, r.grant.resource)
                                        for r in rows], text))
    for owner, key_rows in review.keys.items():
        name = "worksheets/" + review_keys.worksheet_name(owner)
        files[name] = text = review_keys.worksheet(key_rows, _people(review))
        sheets.append((name, owner, [review_keys.KEY_ROW_PREFIX + r.key.id for r in key_rows], text))
    # What was issued to whom: `keytrail decisions` takes each decision's approver from here.
    attestation = None
    if review.attestation is not None:
        from keytrail.review.attest import as_json

        attestation = as_json(review.attestation)
    pages = sorted(p["file"] for p in ctx["others"]["pages"])
    issued = {name: sha256_text(files[name]) for name in (*PACK_FILES, *pages)}
    files[MANIFEST] = manifest_text(review.period.label, format_time(review.report.as_of) or "",
                                    review.mode, sheets, attestation, {**evidence(review), "files": issued})
    return files


def reviewers_work(out: Path) -> list[str]:
    """What in an existing pack a person wrote or changed: worksheets with a decision or
    comment filled in, and any file in ``worksheets/`` that the pack did not issue as it is."""
    import hashlib

    folder = out / "worksheets"
    if not folder.is_dir():
        return []
    issued: dict[str, str] = {}
    try:
        manifest = orjson.loads((out / MANIFEST).read_bytes())
        issued = {s["file"]: s["sha256"] for s in manifest["worksheets"]}
    except (OSError, ValueError, KeyError, TypeError):
        pass  # a pack written before manifests, or a damaged one: judge each file by its content
    work = []
    for path in sorted(folder.rglob("*")):
        if path.is_dir():
            continue
        name = path.relative_to(out).as_posix()
        if name in issued and hashlib.sha256(path.read_bytes()).hexdigest() == issued[name]:
            continue  # exactly as issued
        if path.suffix != ".csv" or (issued and name not in issued):
            work.append(f"{name} (not issued by the pack)")
        elif has_work(path):
            work.append(f"{name} (decisions or comments filled in)")
        elif issued:
            work.append(f"{name} (changed since it was issued)")
    return work


def aside_name(out: Path, stamp: str) -> Path:
    """Where a replaced pack is kept: ``OUT.replaced-STAMP`` (``-2``, ``-3``... if taken)."""
    aside = out.with_name(f"{out.name}.replaced-{stamp}")
    n = 2
    while aside.exists() or aside.is_symlink():
        aside = out.with_name(f"{out.name}.replaced-{stamp}-{n}")
        n += 1
    return aside


def check_out(out: Path, force: bool) -> None:
    """Refuse an ``--out`` that is not a folder, holds anything but a review pack, or (without
    ``force``) a pack holding reviewers' work."""
    if out.exists() or out.is_symlink():
        if out.is_symlink():  # replacing it would write wherever the link points
            raise UsageError(f"--out {out}: is a symbolic link; give the folder itself")
        if not out.is_dir():
            raise UsageError(f"--out {out}: exists and is not a folder")
        others = sorted(p.name for p in out.iterdir() if p.name not in PACK_ENTRIES)
        if others:
            raise UsageError(f"--out {out}: holds files that are not part of a review pack "
                             f"({', '.join(others[:5])}); give a new or empty folder")
        work = reviewers_work(out)
        if work and not force:
            shown = "; ".join(work[:10]) + (f"; and {len(work) - 10} more" if len(work) > 10 else "")
            raise UsageError(f"--out {out}: the pack there holds reviewers' work: {shown}. Record "
                             "it first (`keytrail decisions`), or give another --out, or --force "
                             "to replace the pack (the old one is kept aside, not deleted)")


def write_pack(out: Path, files: dict[str, str | Iterable[str]], force: bool = False,
               stamp: str = "") -> Path | None:
    """Write the pack into ``out`` as a whole: a temporary folder, then one rename.

    ``out`` is created, or replaced when it holds a previous review pack (and
    nothing else: a folder holding other files is refused, never deleted). A
    previous pack holding reviewers' work (:func:`reviewers_work`) is refused
    unless ``force``; with ``force`` the previous pack is kept aside as
    ``OUT.replaced-STAMP``, never deleted, and that name is returned. On any
    error nothing of the new pack is left behind and ``out`` is untouched.
    """
    check_out(out, force)
    parent = out.resolve().parent
    tmp = parent / f".{out.name}.partial"
    old = aside_name(out, stamp or "old") if force else parent / f".{out.name}.old"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        for leftover in (tmp, *(() if force else (old,))):
            if leftover.is_symlink() or leftover.is_file():  # a planted link: remove it, not its target
                leftover.unlink()
            elif leftover.exists():
                shutil.rmtree(leftover)
        (tmp / "worksheets").mkdir(parents=True)
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)  # findings/ when the pack has pages
            with (tmp / name).open("w", encoding="utf-8", newline="") as handle:
                for chunk in [text] if isinstance(text, str) else text:
                    handle.write(chunk)
        had = out.exists()
        if had:
            out.rename(old)
        tmp.rename(out)
        if had and not force:
            shutil.rmtree(old)
        return old if had and force else None
    except BaseException as exc:  # an interrupted run leaves nothing behind either
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not out.exists():
            old.rename(out)
        if isinstance(exc, OSError):
            raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
        raise
