"""What several formats share: a finding's plain fields and a rule's documentation.

These read the :class:`~keytrail.model.Reported` objects directly and never
build a finding's evidence, which checks defer because it is costly: machine
formats of a large organisation list hundreds of thousands of findings.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any, NamedTuple

from keytrail.engine import category_of, implementation
from keytrail.model import Location, Reported, Rule
from keytrail.textsafe import inline

#: A rule defined in a packaged policy pack has a location such as ``keytrail:default``:
#: not a file of the reviewed project.
PACKAGED = "keytrail:"


def fields(item: Reported) -> dict[str, Any]:
    """The contract fields of a finding that cost nothing to compute (no evidence)."""
    f = item.finding
    return {
        "subject": f.subject,
        "target": f.target,
        "resource": f.resource,
        "event": f.event.id if f.event else None,
        "key": f.key if f.key is not None else (f.event.key if f.event else None),
        "message": f.message,
    }


def location_text(location: Location | None) -> str:
    """``path:line`` (line at least 1), or empty when there is no location."""
    if location is None:
        return ""
    return f"{location.path}:{max(location.line, 1)}"


def in_project(location: Location | None) -> bool:
    """Whether ``location`` names a file of the reviewed project (not a packaged pack)."""
    return location is not None and not location.path.startswith(PACKAGED)


class RuleDoc(NamedTuple):
    """A rule's documentation, from its own description and its check's docstring."""

    category: str
    severity: str
    summary: str      # the check's (or rule kind's) first line
    description: str  # the rule's description, or the docstring's first paragraph
    why: str          # the "Why it matters" paragraph, or empty
    remediate: str    # the "Remediate" paragraph, or empty


def rule_doc(rule: Rule) -> RuleDoc:
    module = implementation(rule)
    paragraphs = _paragraphs(module.__doc__ or "")
    first = paragraphs[0] if paragraphs else ""
    return RuleDoc(
        category=category_of(rule),
        severity=rule.severity or module.SEVERITY,
        summary=first,
        description=" ".join(rule.description.split()) or first,
        why=_section(paragraphs, "Why it matters:"),
        remediate=_section(paragraphs, "Remediate:"),
    )


@cache
def _paragraphs(doc: str) -> tuple[str, ...]:
    """The docstring's paragraphs, each reflowed onto one line, reST literals made plain."""
    out = []
    for block in re.split(r"\n\s*\n", doc.strip()):
        text = " ".join(block.split()).replace("``", "`")
        if text:
            out.append(text)
    return tuple(out)


def _section(paragraphs: tuple[str, ...], label: str) -> str:
    for text in paragraphs:
        if text.startswith(label):
            text = text[len(label):].strip()
            return text[:1].upper() + text[1:]
    return ""


def gh_data(text: str) -> str:
    """The message of a GitHub Actions workflow command: inert, then escaped by GitHub's rules.

    :func:`~keytrail.textsafe.inline` first, so a line break or an escape sequence in
    a value is shown as ``\\n`` or ``\\x1b`` rather than carried (GitHub would
    turn an escaped ``%0A`` back into a real line break in the annotation, and no
    value may start a line of the log); then ``%``, CR and LF as GitHub escapes them.
    """
    return _gh(inline(text))


def gh_property(text: str) -> str:
    """A property (``file=``, ``title=``) of a GitHub Actions workflow command, likewise,
    with ``:`` and ``,`` escaped as well (they end a property)."""
    return _gh(inline(text)).replace(":", "%3A").replace(",", "%2C")


def _gh(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
