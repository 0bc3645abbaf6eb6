"""Baselines: findings already known, so that only new ones fail a CI run.

A baseline is a findings JSON file: the full report (`keytrail check --format
json`) or the compact form `keytrail check --write-baseline FILE` writes
(each finding's fingerprint with its rule, subject and target, for humans
reading a diff). Only fingerprints matter when comparing, and fingerprints
survive re-runs and unrelated changes, so a finding stays "known" until what
it is about changes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keytrail import __version__
from keytrail.engine import Report
from keytrail.errors import InputError, Problem
from keytrail.timeutil import format_time


def read_baseline(path: Path) -> frozenset[str]:
    """The fingerprints in a baseline file; an unreadable or malformed file is an error."""
    import orjson

    display = str(path)
    try:
        data: Any = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{display}: not found", [Problem(display, 0, 0, "", "baseline file not found")]) from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read", [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    except orjson.JSONDecodeError as exc:
        line = getattr(exc, "lineno", 0) or 0
        col = getattr(exc, "colno", 0) or 0
        raise InputError(f"{display}: invalid JSON", [Problem(display, line, col, "",
                         f"not a findings JSON file: {exc.msg}")]) from None
    findings = data.get("findings") if isinstance(data, dict) else None
    if not isinstance(findings, list):
        raise InputError(f"{display}: not a baseline", [Problem(display, 1, 1, "findings",
                         "expected a findings JSON file (keytrail check --format json or "
                         "--write-baseline) with a `findings` list")])
    problems = []
    fingerprints = set()
    for index, item in enumerate(findings):
        fp = item.get("fingerprint") if isinstance(item, dict) else None
        if not isinstance(fp, str) or not fp.startswith("sha256:"):
            problems.append(Problem(display, 0, 0, f"findings[{index}].fingerprint",
                                    "missing or not a keytrail fingerprint (sha256:…)"))
        else:
            fingerprints.add(fp)
    if problems:
        raise InputError(f"{display}: invalid baseline", problems[:50])
    return frozenset(fingerprints)


def baseline_text(report: Report) -> str:
    """The compact baseline of ``report``: one finding per line, sorted like the report."""
    import orjson

    head = orjson.dumps({"tool": {"name": "keytrail", "version": __version__},
                         "as_of": format_time(report.as_of), "baseline": True, "findings": []},
                        option=orjson.OPT_INDENT_2).decode("utf-8")
    rows = [orjson.dumps({"fingerprint": f.fingerprint, "rule": f.rule, "subject": f.subject,
                          "target": f.target, "resource": f.finding.resource}).decode("utf-8")
            for f in report.findings]
    if not rows:
        return head + "\n"
    return head[: head.rindex("[]")] + "[\n    " + ",\n    ".join(rows) + "\n  ]\n}\n"
