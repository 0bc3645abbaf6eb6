"""JUnit XML: one test case per policy rule, for CI test-report views.

One ``<testsuite name="keytrail">`` inside ``<testsuites>``; one
``<testcase classname="keytrail.CATEGORY" name="RULE-ID">`` per rule in force,
in the order the policies define them, so test names are stable across runs.

A test case fails when its rule has unwaived findings at or above
``--fail-on`` — exactly the findings that make ``keytrail check`` exit 1, so
the CI view and the exit code always agree. JUnit allows one ``<failure>`` per
test case: its ``message`` counts the findings (``3 findings at or above
high``), its ``type`` is the highest severity among them, and its text lists
each one (severity, message, location, event, key, fingerprint). Findings
below the threshold and waived findings do not fail the case; they are listed
in its ``<system-out>`` (waived ones with the waiver's reason, approver and
expiry). ``errors`` and ``skipped`` are always 0.

The XML is built with ElementTree, so every name and message is escaped.
Every value is inert (:func:`keytrail.textsafe.inline`): a control, format or
separator character in it is written as an escape (``\\n``, ``\\x1b``,
``\\u202e``), so the document stays well-formed XML 1.0 whatever the input
holds (XML cannot carry most C0 controls at all), and a value cannot add a
line of its own to a failure's text. Attribute order and content are
deterministic.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

from keytrail import __version__
from keytrail.engine import Report
from keytrail.formats._common import fields, in_project, location_text, rule_doc
from keytrail.model import SEVERITY_RANK, Reported
from keytrail.textsafe import inline
from keytrail.timeutil import format_time

#: Characters XML 1.0 forbids even as references.
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def render(report: Report, fail_on: str = "high") -> str:
    rank = SEVERITY_RANK[fail_on]
    by_rule: dict[str, list[Reported]] = {}
    for item in report.findings:
        by_rule.setdefault(item.rule, []).append(item)

    suite = ET.Element("testsuite", _attrs(name="keytrail"))
    props = ET.SubElement(suite, "properties")
    for name, value in (("project", report.view.project.name), ("version", __version__),
                        ("as_of", format_time(report.as_of)), ("since", format_time(report.since)),
                        ("fail_on", fail_on), ("snapshot", report.view.snapshot_use.message)):
        if value is not None:
            ET.SubElement(props, "property", _attrs(name=name, value=value))
    failures = skipped = 0
    unjudged = _without_usage(report)
    for rule in report.rules:
        doc = rule_doc(rule)
        case = ET.SubElement(suite, "testcase", _attrs(
            classname=f"keytrail.{doc.category}", name=rule.id,
            file=rule.location.path if rule.location and in_project(rule.location) else None))
        items = by_rule.get(rule.id, [])
        failing: list[Reported] = []
        others: list[Reported] = []
        for item in items:
            fails = item.waived is None and SEVERITY_RANK[item.severity] >= rank
            (failing if fails else others).append(item)
        if failing:
            failures += 1
            worst = max(failing, key=lambda i: SEVERITY_RANK[i.severity]).severity
            n = len(failing)
            failure = ET.SubElement(case, "failure", _attrs(
                message=f"{n} finding{'' if n == 1 else 's'} at or above {fail_on}", type=worst))
            failure.text = _clean("\n".join(_describe(i) for i in failing) + "\n")
        if others:
            out = ET.SubElement(case, "system-out")
            out.text = _clean("\n".join(_describe(i) for i in others) + "\n")
        if rule.id in unjudged and not items:
            # An unused-access rule with no usage that fits judged nothing: a skip, never a pass.
            skipped += 1
            ET.SubElement(case, "skipped", _attrs(message=unjudged[rule.id]))
    tests = len(report.rules)
    totals = _attrs(tests=str(tests), failures=str(failures), errors="0", skipped=str(skipped))
    suite.attrib.update(totals)
    root = ET.Element("testsuites", _attrs(name="keytrail", **totals))
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _without_usage(report: Report) -> dict[str, str]:
    """The unused-access rules that had no usage data fitting the review, with why."""
    from keytrail.checks._usage import usage
    from keytrail.usage.notes import USAGE_CHECKS, reads

    out = {}
    for rule in report.rules:
        if rule.check in USAGE_CHECKS:
            found = usage(report.view, dict(rule.params))
            if not found.relied_on(reads(rule.check)):
                notes = found.notes(Counter(), f"rule {rule.id}", reads(rule.check))
                out[rule.id] = notes[0] if notes else f"rule {rule.id}: no usage data: nothing was judged"
    return out


def _describe(item: Reported) -> str:
    """A finding as lines of text, each value inert (its own line, never a new one)."""
    data = fields(item)
    head = f"[{item.severity}] {inline(data['message'])}"
    if item.waived is not None:
        w = item.waived
        head += (f" (waived until {format_time(w.expires)} by {inline(w.approved_by)}: "
                 f"{inline(w.reason)}" + (f" (ticket {inline(w.ticket)})" if w.ticket else "") + ")")
    lines = [head]
    where = location_text(item.finding.location)
    if where:
        lines.append(f"  at {inline(where)}")
    for name in ("event", "key"):
        if data[name]:
            lines.append(f"  {name} {inline(data[name])}")
    lines.append(f"  fingerprint {item.fingerprint}")
    return "\n".join(lines)


def _attrs(**values: Any) -> dict[str, str]:
    """Attributes in the order given, None values left out, text inert and XML-safe."""
    return {k: _clean(inline(str(v))) for k, v in values.items() if v is not None}


def _clean(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids that :func:`inline` leaves
    (the noncharacters U+FFFE and U+FFFF), written as escapes."""
    return _ILLEGAL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", text)
