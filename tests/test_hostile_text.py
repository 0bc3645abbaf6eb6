"""Every input value is inert in every output: the hostile-text test.

One project carries a hostile string in every free-text field the input
formats allow (ids, names, attributes, reasons, tickets, resources, extra
event fields, key purposes, rule and policy descriptions, controls, waiver
reasons and tickets). Every output keytrail writes from it is checked the
same way:

- no raw control, format or separator character other than the format's own
  line breaks (a CR only in CSV's CRLF): no escape sequence, bidi control or
  hidden line break reaches a terminal, a CI log or a spreadsheet;
- no value starts a line: no line is a CI workflow command (``::`` after any
  indentation; ``::error``, ``::stop-commands::``, ``::add-mask::``…) and no
  line holds a logging command that runners find anywhere (``##[``,
  ``##vso[``), except the github format's own annotations;
- the document still parses (JSON, SARIF, JUnit XML, CSV, HTML) and carries
  no markup, link, mention or formula from the input;
- the values are still there, escaped, not deleted; the JSON keeps them exact.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from keytrail import pipeline
from keytrail.render import FORMATS, render
from keytrail.textsafe import UNSAFE_CATEGORIES, inline
from keytrail.timeutil import parse_time
from tests.conftest import AS_OF

#: The battery: each carries the word MARK, which must survive every escaping.
MARK = "pwned"
PAYLOADS = {
    "lf": f"x\n::error file=x.py,line=1::{MARK}",
    "cr": f"x\r::warning::{MARK}",
    "crlf": f"x\r\n::notice title=t::{MARK}",
    "nel": f"x\x85::add-mask::{MARK}",
    "u2028": f"x\u2028::stop-commands::{MARK}",
    "u2029": f"x\u2029::error::{MARK}",
    "vt-ff": f"x\x0b\x0c::error::{MARK}",
    "esc": f"x\x1b[31m{MARK}\x1b[0m\x1b]8;;http://evil.example\x07link\x1b]8;;\x07",
    "backspace": f"x\b\b\x01\x7f{MARK}",
    "bidi": f"x\u202e{MARK}\u2066y\u2069\u200b",
    "tags": f"x\U000e0070\U000e0077{MARK}",
    "nul": f"x\x00{MARK}",
    "html": f"</script><script>alert('{MARK}')</script><!-- <img src=x onerror=alert(1)>",
    "formula": f"=cmd|' /C calc'!A0 {MARK}",
    "mention": f"@everyone @acme/admins {MARK}",
    "markdown": f"**{MARK}** [x](javascript:alert(1)) ![](http://evil.example/p.png) `c` | d | "
                "https://evil.example/a www.evil.example",
    "log-command": f"##vso[task.setvariable variable=X]{MARK} ##[error]{MARK}",
    "percent": f"%0A::error::{MARK} %25 a,b:c",
}


def visible(payload: str) -> str:
    """``payload`` as an identifier may carry it: ids, event keys, tickets and resources must be
    visible text (an invisible character is refused on input, tests/test_ids.py), so each
    hidden character becomes ``_``; the printable attack (``::``, ``</script>``, ``@``, ``=``,
    ``##vso[``) stays."""
    return "".join("_" if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in payload).strip()


def ident(kind: str, payload: str) -> str:
    """An id of ``kind`` carrying the visible part of ``payload``."""
    return f"{kind}:a{visible(payload)}z"


def build(root: Path, p: str) -> Path:
    """A project whose every free-text field carries ``p``."""
    import yaml

    subject, group, role = ident("user", p), ident("group", p), ident("role", p)
    ghost = ident("user", "ghost" + p)
    directory = {
        "principals": [
            {"id": "user:boss", "name": "Boss", "status": "active"},
            {"id": subject, "name": "Name " + p, "status": "terminated",
             "terminated_at": "2026-05-01T00:00:00Z", "manager": "user:boss",
             "attributes": {"department": "d" + p, "title": p}},
            {"id": "svc:bot", "status": "active", "owner": "user:boss"},
        ],
        "groups": [{"id": group, "owner": "user:boss"}],
        "roles": [{"id": role, "owner": "user:boss", "privileged": True,
                   "permissions": ["perm:" + p]},
                  {"id": "role:idle", "owner": "user:boss"}],
    }
    keys = [{"id": "pk-1", "holder": "svc:bot", "owner": "user:boss", "purpose": "Purpose " + p,
             "ticket": "T-" + p, "approved_by": "user:boss", "scope": ["role:*", "group:*"],
             "not_before": "2026-01-01T00:00:00Z", "expires": "2027-01-01T00:00:00Z"},
            {"id": "pk-2", "holder": ghost, "purpose": p, "ticket": p, "scope": ["role:x*"],
             "not_before": "2026-01-01T00:00:00Z", "expires": "2027-01-01T00:00:00Z"}]
    events = [
        {"id": "ev-1", "time": "2026-02-01T00:00:00Z", "action": "grant", "subject": subject,
         "target": role, "resource": "res " + visible(p), "actor": "svc:bot", "key": "pk-1",
         "approver": "user:boss", "ticket": "CHG " + visible(p), "reason": "reason " + p,
         "expires": "2026-03-01T00:00:00Z", "note": "note " + p},
        {"id": "ev-2", "time": "2026-07-02T00:00:00Z", "action": "grant", "subject": subject,
         "target": group, "actor": "user:boss", "reason": p, "ticket": "T " + visible(p)},
    ]
    policy = {
        "apiVersion": "keytrail/v1", "kind": "Policy",
        "metadata": {"name": "hostile", "description": "Policy " + p, "controls": ["C " + p]},
        "rules": [
            {"id": "leavers", "use": "orphaned.inactive-principal", "description": "Leavers " + p},
            {"id": "missing-key", "use": "unexplained.missing-key", "description": p},
            {"id": "expired", "use": "sprawl.expired-grant", "severity": "medium"},
            {"id": "drift", "use": "unexplained.drift-extra"},
            {"id": "unused", "use": "orphaned.unused-target"},
        ],
        # The subject as a glob: ids may hold glob characters (`[`, `*`) of their own.
        "waivers": [{"rule": "missing-key", "subject": "user:a*z", "reason": "Waived " + p,
                     "approved_by": "user:boss", "ticket": "W-" + p,
                     "expires": "2027-01-01T00:00:00Z"}],
    }
    root.mkdir(parents=True)
    (root / "history").mkdir()
    (root / "policies").mkdir()
    dump = {"allow_unicode": False, "sort_keys": False}  # every odd character as a YAML escape
    (root / "directory.yaml").write_text(yaml.safe_dump(directory, **dump), encoding="utf-8")
    (root / "keys.yaml").write_text(yaml.safe_dump({"keys": keys}, **dump), encoding="utf-8")
    (root / "policies" / "hostile.yaml").write_text(yaml.safe_dump(policy, **dump), encoding="utf-8")
    (root / "history" / "h.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events),
                                              encoding="utf-8")
    snapshot = [{"subject": subject, "target": role, "resource": "res " + visible(p)},
                {"subject": subject, "target": group, "resource": ""},
                {"subject": subject, "target": "role:idle", "resource": "drift " + visible(p)}]
    (root / "snapshot.jsonl").write_text("".join(json.dumps(s) + "\n" for s in snapshot),
                                         encoding="utf-8")
    (root / "keytrail.yaml").write_text(yaml.safe_dump(
        {"directory": "directory.yaml", "keys": "keys.yaml", "history": ["history/*.jsonl"],
         "snapshot": "snapshot.jsonl", "policies": ["policies/"]}), encoding="utf-8")
    return root


def outputs(root: Path, p: str) -> Iterator[tuple[str, str]]:
    """Every output keytrail writes from the project: (name, text)."""
    from keytrail import impact, lint, review
    from keytrail.explain import explain, explain_holders
    from keytrail.review import pack as review_pack

    project = pipeline.load(root)
    period = review.parse_period("2026-Q3")
    as_of = parse_time(AS_OF)
    state = pipeline.replay(project, as_of, period.since)
    graph = pipeline.build_graph(project, state)
    report = pipeline.evaluate(project, state, graph)
    for fmt in FORMATS:
        yield fmt, render(report, fmt, "high", limit=None)
    subject, role = ident("user", p), ident("role", p)
    yield "explain", explain(project, state, graph, subject, role)
    yield "explain-all", explain(project, state, graph, subject, None)
    yield "explain-holders", explain_holders(project, state, graph, role)
    pack = review_pack.render_pack(review.build(project, state, graph, report, period, "owner"))
    pack.update(_finding_pages(project, state, graph, report, period))
    for name, text in sorted(pack.items()):
        yield "pack:" + name, text if isinstance(text, str) else "".join(text)
    change = impact.diff("base", dataclasses.replace(report, findings=[]), report)
    yield "impact-text", impact.render_impact(change, "text", "high")
    yield "impact-json", impact.render_impact(change, "json", "high")
    yield "impact-markdown", impact.render_impact(change, "markdown", "high")
    yield "impact-github", impact.render_impact(change, "github", "high")
    linted = lint.lint([str(root)], as_of)
    for fmt in ("text", "json", "github"):
        yield "lint-" + fmt, lint.render(linted, fmt)


def _finding_pages(project: Any, state: Any, graph: Any, report: Any, period: Any) -> dict[str, Any]:
    """The pack's findings pages, as a large organisation's pack has them: every grant row cut
    from index.html and none detailed there, so that every finding is on a page."""
    from keytrail import review
    from keytrail.review import findings as review_findings
    from keytrail.review import pack as review_pack

    saved = review_findings.INDEX_SHOWN, review_pack.rows_per_reviewer
    review_findings.INDEX_SHOWN, review_pack.rows_per_reviewer = 0, lambda sections: 0
    try:
        pack = review_pack.render_pack(review.build(project, state, graph, report, period, "owner"))
    finally:
        review_findings.INDEX_SHOWN, review_pack.rows_per_reviewer = saved
    pages = {name: text for name, text in pack.items() if name.startswith("findings/")}
    assert pages
    return pages


def kind_of_output(name: str) -> str:
    if name.endswith((".json", "json")) or name in ("sarif",):
        return "json"
    if name.endswith(".csv") or name == "csv":
        return "csv"
    if name.endswith(".html") or name == "html":
        return "html"
    if name.endswith(".md") or name in ("markdown", "impact-markdown"):
        return "markdown"
    if name in ("github", "lint-github", "impact-github"):
        return "github"
    if name == "junit":
        return "xml"
    return "text"


@pytest.fixture(scope="module", params=sorted(PAYLOADS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    payload = PAYLOADS[request.param]
    root = build(tmp_path_factory.mktemp(request.param) / "project", payload)
    return {"payload": payload, "outputs": dict(outputs(root, payload))}


# -- the checks ------------------------------------------------------------------------------

#: A GitHub Actions workflow command as keytrail writes it: level, escaped properties, message.
GITHUB_LINE = re.compile(r"::(error|warning|notice) (?:[a-z]+=[^:,\r\n]*)(?:,[a-z]+=[^:,\r\n]*)*::[^\r\n]*")


def raw_unsafe(text: str, kind: str) -> list[str]:
    """The control, format and separator characters of ``text`` that are not its own line breaks."""
    if kind == "csv":
        text = text.replace("\r\n", "\n")
    return sorted({repr(c) for c in text if c != "\n" and unicodedata.category(c) in UNSAFE_CATEGORIES})


def check_lines(name: str, text: str, kind: str) -> None:
    for number, line in enumerate(text.split("\n"), 1):
        where = f"{name} line {number}: {line[:120]!r}"
        if kind == "github" and line:
            assert GITHUB_LINE.fullmatch(line), where
        else:
            assert not line.lstrip().startswith("::"), where
        assert "##[" not in line and "##vso[" not in line.lower(), where


#: The links between a review pack's pages: keytrail's own names, never a value from input.
PACK_LINK = re.compile(r"\.\./index\.html#findings|(findings/)?findings-\d{4}\.html")


class Tags(HTMLParser):
    """The start tags of a page and their attributes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def check_document(name: str, text: str, kind: str, payload: str) -> None:
    if kind == "json":
        data = json.loads(text)
        values = list(_strings(data))
        if name not in ("lint-json", "pack:pack.json"):  # exact values kept (the machine contract);
            # pack.json, the manifest, names worksheets and reviewers only
            exact = {payload, visible(payload)}
            assert any(e in v for v in values for e in exact), f"{name}: the exact value is missing"
    elif kind == "xml":
        ET.fromstring(text.encode("utf-8"))
    elif kind == "csv":
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        assert rows and all(len(r) == len(rows[0]) for r in rows), name
        for row in rows[1:]:
            for cell in row:
                assert not cell.lstrip().startswith(("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d",
                                                     "\uff20")), f"{name}: formula cell {cell!r}"
    elif kind == "html":
        page = Tags()
        page.feed(text)
        page.close()
        for tag, attrs in page.tags:
            assert tag not in ("script", "img", "iframe", "object", "embed", "b"), f"{name}: <{tag}>"
            for attr, value in attrs:
                assert not attr.startswith("on"), f"{name}: <{tag} {attr}>"
                if attr in ("href", "src"):  # within the page, or to the pack's own pages
                    assert (value or "").startswith("#") or PACK_LINK.fullmatch(value or ""), \
                        f"{name}: <{tag} {attr}={value!r}>"
        assert MARK in "".join(page.text), f"{name}: {MARK} is not in the page's text"
    elif kind == "markdown":
        assert "<script" not in text and "<b>" not in text and "<img" not in text, name
        assert "[x](" not in text and "![](" not in text, f"{name}: a link or image"
        for live in ("@everyone", "@acme/admins", "https://evil.example", "www.evil.example"):
            for m in re.finditer(re.escape(live), text):
                before = text[m.start() - 1]
                # after a letter or digit GitHub sees an e-mail address, not a mention
                assert before == "`" or (live[0] == "@" and before.isascii() and before.isalnum()), \
                    f"{name}: {live} outside a code span"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


#: Outputs that print the findings, so the hostile values must be visible in them.
SHOWS_VALUES = ("text", "json", "sarif", "junit", "csv", "markdown", "github", "html", "explain",
                "explain-all", "explain-holders", "pack:index.html", "pack:findings.json",
                "impact-text", "impact-json", "impact-markdown", "impact-github")


def test_every_output_of_a_hostile_project_is_inert(rendered: dict[str, Any]) -> None:
    payload = rendered["payload"]
    outs = rendered["outputs"]
    assert set(SHOWS_VALUES) <= set(outs)
    assert any(name.startswith("pack:worksheets/") for name in outs)
    for name, text in outs.items():
        kind = kind_of_output(name)
        assert not raw_unsafe(text, kind), f"{name}: raw {raw_unsafe(text, kind)}"
        check_lines(name, text, kind)
        check_document(name, text, kind, payload)
        if name in SHOWS_VALUES or name.startswith("pack:worksheets/"):
            assert MARK in text, f"{name}: the hostile value vanished"


def test_control_characters_are_shown_as_escapes(rendered: dict[str, Any]) -> None:
    """Escaped, not deleted: the first hidden character of the value is shown as its escape."""
    payload = rendered["payload"]
    hidden = [c for c in payload if unicodedata.category(c) in UNSAFE_CATEGORIES]
    if not hidden:
        pytest.skip("the value has no hidden character")
    shown = inline(hidden[0])
    # github annotations carry findings' messages, made of ids, which hold no hidden character.
    for name in ("text", "markdown", "html", "csv", "junit", "sarif", "explain",
                 "pack:index.html", "pack:summary.md"):  # impact lists messages: ids only
        text = outs = rendered["outputs"][name]
        if name == "sarif":  # SARIF's message.text is inert; the JSON spells the backslash \\
            text = json.dumps(json.loads(outs))
            shown_here = json.dumps(shown)[1:-1]
        else:
            shown_here = shown
        if name in ("markdown", "pack:summary.md"):
            shown_here = shown_here.replace("\\", "\\\\")
        if name == "pack:summary.md" and MARK not in text:
            continue  # the summary names reviewers only: the hostile role's owner is plain
        assert shown_here in text, f"{name}: {shown!r} not shown"


def test_json_keeps_the_exact_values(rendered: dict[str, Any]) -> None:
    payload = rendered["payload"]
    data = json.loads(rendered["outputs"]["json"])
    reasons = [link.get("reason") for f in data["findings"]
               for link in (f["evidence"] or {}).get("chain") or [] if isinstance(link, dict)]
    subjects = {f["subject"] for f in data["findings"]}
    assert ident("user", payload) in subjects
    assert "reason " + payload in reasons or payload in reasons


def test_error_messages_on_stderr_are_inert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Errors land in CI logs too: a value an error quotes (here a worksheet cell) stays on its line."""
    from keytrail.cli import main
    from tests.conftest import REPO

    acme = str(REPO / "examples" / "acme")
    pack = tmp_path / "pack"
    assert main(["review", acme, "--period", "2026-Q3", "--out", str(pack)]) == 0
    sheet = pack / "worksheets" / "user_tomas.kral.csv"
    rows = list(csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8"), newline="")))
    subject = "user:x\x1b[2J\n::error::pwned"
    rows[0].update(subject=subject, decision="revoke")
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    capsys.readouterr()
    code = main(["decisions", str(sheet), "--dir", acme, "--key", "pk-2026-0007",
                 "--actor", "svc:access-review", "--out", str(tmp_path / "out.jsonl"),
                 "--time", "2026-10-02T10:00:00Z"])
    err = capsys.readouterr().err
    assert code == 2
    assert "user:x\\x1b[2J\\n::error::pwned" in err
    assert not raw_unsafe(err, "text")
    assert not [line for line in err.splitlines() if line.lstrip().startswith("::")]


def test_a_problem_is_one_inert_line() -> None:
    from keytrail.errors import InputError, Problem

    hostile = Problem("policies/p.yaml", 3, 5, "rules[0].description", 'bad "x\n::error::y\u202e"')
    assert str(hostile) == 'policies/p.yaml:3:5: rules[0].description: bad "x\\n::error::y\\u202e"'
    named = Problem("::error::x.yaml", 1, 0, "", "m")
    assert str(InputError("invalid", [named, hostile])).splitlines() == [
        "./::error::x.yaml:1: m", 'policies/p.yaml:3:5: rules[0].description: bad "x\\n::error::y\\u202e"']
    assert str(InputError("cannot read x\x1b[2J")) == "cannot read x\\x1b[2J"
    # near misses: a plain problem and a plain message are unchanged
    assert str(Problem("a.yaml", 1, 0, "", "plain: message, 100% ## ok")) == "a.yaml:1: plain: message, 100% ## ok"
    assert str(InputError("no keytrail.yaml in ./x")) == "no keytrail.yaml in ./x"
