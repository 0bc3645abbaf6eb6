"""The evidence manifest of a review pack: ``evidence`` in pack.json, and its paragraph on the first screen.

It says what wrote the pack (version, command line), for which period and as-of, from
which snapshot, with which counts, and the SHA-256 of the pack's files that nobody edits,
which ``keytrail review verify`` re-derives. It holds no generation time, so that the same
inputs give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from keytrail.model import SEVERITIES
from keytrail.review import Review
from keytrail.timeutil import format_time

#: The files of a pack that nobody edits: ``keytrail review verify`` requires them unchanged.
PACK_FILES = ("index.html", "summary.md", "findings.json")


def sha256_text(text: str | Iterable[str]) -> str:
    """Hex SHA-256 of a rendered file (its UTF-8 bytes, as the pack writes them)."""
    import hashlib

    hasher = hashlib.sha256()
    for piece in [text] if isinstance(text, str) else text:
        hasher.update(piece.encode("utf-8"))
    return hasher.hexdigest()


def evidence(review: Review) -> dict[str, Any]:
    """The ``evidence`` object of pack.json: what wrote the pack, for which period, from what.

    No generation time: the pack's bytes depend only on its inputs (the as-of time and the
    input hashes say what it reviewed; the file system and the repository say when)."""
    from keytrail import __version__

    report = review.report
    by_severity = dict.fromkeys(reversed(SEVERITIES), 0)
    waived = 0
    for item in report.findings:
        if item.waived is not None:
            waived += 1
        else:
            by_severity[item.severity] += 1
    return {
        "keytrail": __version__,
        "command": list(review.command) if review.command is not None else None,
        "period": review.period.label,
        "as_of": format_time(report.as_of),
        "since": format_time(report.since),
        "snapshot_time": format_time(review.project.snapshot_time) if review.project.snapshot_time else None,
        "generated_at": None,
        "counts": {"grants": len(review.rows),
                   "reviewers": sum(1 for r in review.reviewers if r is not None),
                   "unassigned": len(review.reviewers.get(None, [])),
                   "inputs": len(review.attestation.inputs) if review.attestation is not None else None,
                   "findings": {"total": len(report.findings), "waived": waived, **by_severity}},
    }


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def evidence_words(ev: dict[str, Any]) -> str:
    """The evidence manifest in one paragraph (plain text; the renderers escape it)."""
    from keytrail.textsafe import inline

    counts = ev["counts"]
    findings = counts["findings"]
    severities = ", ".join(f"{findings[s]} {s}" for s in reversed(SEVERITIES) if findings[s])
    command = " ".join(inline(a) for a in ev["command"]) if ev["command"] else None
    text = (f"Written by keytrail {ev['keytrail']}" + (f' with "{command}"' if command else "") +
            f" for the period {ev['period']}, reviewing access as of {ev['as_of']} and changes since "
            f"{ev['since']}: {_n(counts['grants'], 'active grant')} for {_n(counts['reviewers'], 'reviewer')} "
            f"({counts['unassigned']} with no reviewer), {_n(findings['total'], 'finding')}"
            + (f" ({severities}" + (f"; {findings['waived']} waived" if findings['waived'] else "") + ")"
               if findings['total'] else "") + ". ")
    text += (f"The snapshot was captured at {ev['snapshot_time']}. " if ev["snapshot_time"] else
             "No snapshot capture time is recorded (snapshot_time in keytrail.yaml). ")
    text += ("pack.json records the SHA-256 of every input and of index.html, summary.md, findings.json "
             "and each worksheet as issued; keytrail review verify re-derives them.")
    return inline(text)
