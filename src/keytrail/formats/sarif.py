"""SARIF 2.1.0: the findings for code-scanning dashboards (GitHub, GitLab, Azure DevOps).

One run; ``tool.driver`` lists one reporting descriptor per policy rule in
force, in the order the policies define them. A rule's ``shortDescription`` is
its check's summary line, its ``fullDescription`` the rule's own description
followed by why the check matters, and its ``help`` the check's remediation.
``level`` follows the severity (critical and high: ``error``; medium:
``warning``; low and info: ``note``); ``security-severity`` is the numeric
score code scanning sorts by (9.5, 8.0, 5.5, 3.0, 0.0).

Each result carries the stable fingerprint as
``partialFingerprints["keytrailFingerprint/v1"]``, so a dashboard tracks a
finding across runs, and points at the event's JSONL line, the snapshot or
directory line, or the policy rule's YAML line, relative to the reviewed folder
(``uriBaseId`` ``PROJECTROOT``, described but deliberately given no absolute
URI, so the file is the same on every machine). A finding whose only location
is inside a packaged policy pack (``keytrail:default``) has no location.
Waived findings are reported with an accepted external suppression giving the
waiver's reason. ``informationUri`` is omitted: the project publishes none.

The texts a viewer shows as they are (a result's ``message.text``, a rule's
descriptions and help, a suppression's justification) are inert
(:func:`keytrail.textsafe.inline`): a line break, an escape sequence or a
bidi control in a value is written as ``\\n``, ``\\x1b``, ``\\u202e``, so a
dashboard's one-line alert title cannot be split or reordered; and in a
result's message, where SARIF lets ``[text](target)`` be an embedded link, a
literal ``[`` or ``]`` is escaped with a backslash as SARIF prescribes, so a
value cannot plant a link in a viewer. The
``properties`` of a result keep the exact values, as the JSON report does:
they are for machines to match on. Any control, format or separator character
left in a string is written as a ``\\uXXXX`` escape (the same value once parsed).
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any
from urllib.parse import quote

from keytrail import __version__
from keytrail.engine import Report
from keytrail.formats._common import fields, in_project, rule_doc
from keytrail.model import Reported, Rule
from keytrail.textsafe import inline, json_inert
from keytrail.timeutil import format_time

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT = "keytrailFingerprint/v1"
ROOT = "PROJECTROOT"

LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}


def render(report: Report, fail_on: str = "high") -> str:
    import orjson  # four times faster than json.dumps with indent: SARIF of a large org is big

    text = orjson.dumps(to_sarif(report, fail_on), option=orjson.OPT_INDENT_2).decode("utf-8")
    return json_inert(text) + "\n"


def to_sarif(report: Report, fail_on: str = "high") -> dict[str, Any]:
    """The SARIF log as plain data."""
    rules = [_descriptor(rule) for rule in report.rules]
    index = {rule.id: n for n, rule in enumerate(report.rules)}
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "keytrail", "version": __version__,
                            "semanticVersion": __version__, "rules": rules}},
        "originalUriBaseIds": {ROOT: {"description": {"text": "The reviewed project folder"}}},
        "results": [_result(item, index) for item in report.findings],
        "properties": {"project": report.view.project.name, "as_of": format_time(report.as_of),
                       "since": format_time(report.since), "fail_on": fail_on,
                       "snapshot": report.view.snapshot_use.message},
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _descriptor(rule: Rule) -> dict[str, Any]:
    doc = rule_doc(rule)
    full = " ".join(part for part in (doc.description, doc.why) if part)
    out: dict[str, Any] = {
        "id": rule.id,
        "name": rule.check,
        "shortDescription": {"text": inline(doc.summary or doc.description or rule.id)},
        "fullDescription": {"text": inline(full or doc.summary or rule.id)},
    }
    if doc.remediate:
        out["help"] = {"text": inline(doc.remediate)}
    out["defaultConfiguration"] = {"level": LEVEL[doc.severity]}
    out["properties"] = {"tags": _unique([doc.category, rule.check, *rule.controls]),
                         "security-severity": SECURITY_SEVERITY[doc.severity],
                         "precision": "high"}
    return out


def _result(item: Reported, index: dict[str, int]) -> dict[str, Any]:
    data = fields(item)
    out: dict[str, Any] = {"ruleId": item.rule}
    if item.rule in index:
        out["ruleIndex"] = index[item.rule]
    out["level"] = LEVEL[item.severity]
    out["message"] = {"text": message_text(data.pop("message"))}
    location = item.finding.location
    if location is not None and in_project(location):
        region: dict[str, Any] = {"startLine": max(location.line, 1)}
        if location.column > 0:
            region["startColumn"] = location.column
        out["locations"] = [{"physicalLocation": {
            "artifactLocation": {"uri": _uri(location.path), "uriBaseId": ROOT},
            "region": region}}]
    out["partialFingerprints"] = {FINGERPRINT: item.fingerprint}
    waiver = item.waived
    if waiver is not None:
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": inline(waiver.reason)}]
    properties = {k: v for k, v in data.items() if v is not None and v != ""}
    properties.update(category=item.category, check=item.check, severity=item.severity)
    if item.controls:
        properties["controls"] = list(item.controls)
    if waiver is not None:
        properties["waiver"] = {"approved_by": waiver.approved_by,
                                "expires": format_time(waiver.expires),
                                **({"ticket": waiver.ticket} if waiver.ticket else {})}
    out["properties"] = properties
    return out


_BRACKET = re.compile(r"(\\*)([\[\]])")


def message_text(text: str) -> str:
    """A result's ``message.text``: inert, with literal brackets escaped (no embedded link)."""
    return _BRACKET.sub(lambda m: m.group(1) * 2 + "\\" + m.group(2), inline(text))


@cache
def _uri(path: str) -> str:
    """A relative URI reference for a project path (forward slashes, percent-encoded)."""

    return quote(path.replace("\\", "/"), safe="/")


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(i for i in items if i))
