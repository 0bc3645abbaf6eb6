"""How far the reviewers of a pack have got: ``keytrail review status PACK``.

The worksheets are read exactly as ``keytrail decisions`` reads them
(:func:`keytrail.review.decisions.read_worksheet`: BOM, UTF-16, semicolons and tabs,
the formula guard, the pack's assignments), so a row with a problem here is
named ``file:line`` with the same message ``decisions`` would refuse it with.
Nothing is written. With the project, a decided row whose grant already has a
matching ``revoke`` or ``certify`` event after the pack's as-of time is
*applied*: its decision is history already.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from keytrail.errors import InputError, Problem
from keytrail.review.worksheets import MANIFEST, read_manifest


@dataclass
class Sheet:
    """One worksheet's progress."""

    file: str                       # as pack.json names it (worksheets/NAME.csv)
    reviewer: str | None
    total: int                      # grants the pack issued on it
    keep: int = 0
    revoke: int = 0
    applied: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def decided(self) -> int:
        return self.keep + self.revoke


@dataclass
class Status:
    """The progress of a whole pack."""

    period: str
    as_of: str
    sheets: list[Sheet]
    applied_known: bool             # the project's history was read
    problems: list[Problem] = field(default_factory=list)  # not tied to one worksheet

    def assigned(self) -> list[Sheet]:
        return [s for s in self.sheets if s.reviewer is not None]

    def total(self) -> int:
        return sum(s.total for s in self.assigned())

    def decided(self) -> int:
        return sum(s.decided for s in self.assigned())


def read_pack(pack: Path) -> dict[str, Any]:
    """The pack's ``pack.json`` (its assignments checked by :func:`read_manifest`)."""
    read_manifest(pack)  # a missing or malformed manifest: a located error
    path = pack / MANIFEST if pack.is_dir() else pack
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def worksheet_path(pack: Path, name: object, where: str) -> Path:
    """A worksheet file pack.json names, which must be ``worksheets/NAME.csv`` inside the pack
    (a manifest is input: it cannot send keytrail to read files elsewhere)."""
    shown = str(pack / MANIFEST)
    parts = name.split("/") if isinstance(name, str) else []
    if len(parts) != 2 or parts[0] != "worksheets" or not parts[1].endswith(".csv") \
            or parts[1].startswith(".") or "\\" in parts[1] or not parts[1].isprintable():
        from keytrail.textsafe import excerpt

        raise InputError(f"{shown}: invalid", [Problem(shown, 0, 0, where, (
            f"'{excerpt(str(name))}' is not a worksheet of this pack (worksheets/NAME.csv)"))])
    return pack / parts[0] / parts[1]


def status(pack: Path, project: Any = None) -> Status:
    """Read every worksheet of ``pack``; with ``project`` (a loaded project), mark applied decisions."""
    from keytrail.review import decisions as reader

    data = read_pack(pack)
    assigned = read_manifest(pack)
    out = Status(str(data.get("period") or ""), str(data.get("as_of") or ""), [], project is not None)
    found: list[reader.Decision] = []
    by_file: dict[str, Sheet] = {}
    for n, entry in enumerate(data["worksheets"]):
        path = worksheet_path(pack, entry["file"], f"worksheets[{n}].file")
        sheet = Sheet(entry["file"], entry["reviewer"], len(entry["grants"]))
        out.sheets.append(sheet)
        by_file[str(path)] = sheet
        if not path.is_file():
            sheet.problems.append(Problem(str(path), 0, 0, "", "missing: the pack issued this worksheet, "
                                          "but it is not in the pack's worksheets folder"))
            continue
        rows, _ = reader.read_worksheet(path, sheet.problems, assigned)
        found.extend(rows)
    twice = reader.twice(found)
    repeated = {(p.file, p.line) for p in twice}
    for p in twice:
        by_file[p.file].problems.append(p)
    events = _applied(project, data) if project is not None else {}
    for d in found:
        if (d.file, d.line) in repeated:
            continue
        sheet = by_file[d.file]
        if d.action == "revoke":
            sheet.revoke += 1
        else:
            sheet.keep += 1
        if d.key_id:
            # A key has no event: a revoke is applied once the registry has its revoked_at;
            # a keep records nothing, so it never waits on anything.
            key = project.keys.get(d.key_id) if project is not None else None
            if project is not None and (d.action != "revoke" or (key is not None and key.revoked_at is not None)):
                sheet.applied += 1
        elif events.get((d.subject, d.target, d.resource)) == d.action:
            sheet.applied += 1
    return out


def _applied(project: Any, data: dict[str, Any]) -> dict[tuple[str, str, str], str]:
    """The last ``revoke`` or ``certify`` of each grant recorded after the pack's as-of time."""
    from keytrail.timeutil import parse_time

    try:
        as_of = parse_time(data.get("as_of"))
    except ValueError as exc:
        shown = "pack.json"
        raise InputError(f"{shown}: invalid", [Problem(shown, 0, 0, "as_of", str(exc))]) from None
    out: dict[tuple[str, str, str], str] = {}
    for e in sorted(project.events, key=lambda e: e.time):
        if e.time > as_of and e.action in ("revoke", "certify") and e.subject and e.target:
            out[(e.subject, e.target, e.resource)] = e.action
    return out


def as_json(st: Status) -> dict[str, Any]:
    """``review status --format json``."""
    total, decided = st.total(), st.decided()
    return {
        "period": st.period, "as_of": st.as_of, "total": total, "decided": decided,
        "complete": total > 0 and decided == total and not _problems(st),
        "percent": _percent(decided, total),
        "revoke": sum(s.revoke for s in st.assigned()), "keep": sum(s.keep for s in st.assigned()),
        "applied": sum(s.applied for s in st.sheets) if st.applied_known else None,
        "problems": len(_problems(st)),
        "reviewers": [{"reviewer": s.reviewer, "worksheet": s.file, "total": s.total, "decided": s.decided,
                       "revoke": s.revoke, "keep": s.keep,
                       "applied": s.applied if st.applied_known else None,
                       "problems": [{"file": p.file, "line": p.line, "field": p.path, "message": p.message}
                                    for p in s.problems]}
                      for s in st.sheets],
    }


def _problems(st: Status) -> list[Problem]:
    return [p for s in st.sheets for p in s.problems]


def _percent(part: int, whole: int) -> int:
    # Rounded down: 99.6% decided is not "100%".
    return part * 100 // whole if whole else 100


def text(st: Status) -> str:
    """``review status`` for a terminal (every value from input inert)."""
    from keytrail.textsafe import inline

    data = as_json(st)
    lines = [_headline(data)]
    for s in st.sheets:
        who = inline(s.reviewer) if s.reviewer else "no reviewer"
        if s.reviewer is None:
            if s.file.startswith("worksheets/keys-"):
                lines.append(f"  unowned keys: {s.total} key{'s' if s.total != 1 else ''} nobody can decide "
                             f"until they have an active owner ({inline(s.file)})")
                continue
            lines.append(f"  {who}: {s.total} grants nobody can decide until they have a reviewer ({inline(s.file)})")
            continue
        applied = f", {s.applied} applied" if st.applied_known else ""
        bad = f", {len(s.problems)} with a problem" if s.problems else ""
        lines.append(f"  {who}: {s.decided}/{s.total} decided ({s.revoke} revoke, {s.keep} keep{applied}{bad})"
                     f" {inline(s.file)}")
    problems = _problems(st)
    if problems:
        lines.append("rows with a problem (`keytrail decisions` refuses these until they are fixed):")
        lines.extend(f"  {p}" for p in problems)
    return "\n".join(lines) + "\n"


def _headline(data: dict[str, Any]) -> str:
    from keytrail.textsafe import inline

    applied = f", {data['applied']} applied" if data["applied"] is not None else ""
    return (f"Review {inline(data['period'])} (as of {inline(data['as_of'])}): {data['decided']}/{data['total']} "
            f"decided ({data['percent']}%): {data['revoke']} revoke, {data['keep']} keep{applied}, "
            f"{data['problems']} row{'s' if data['problems'] != 1 else ''} with a problem"
            + (" — complete" if data["complete"] else ""))


def markdown(st: Status) -> str:
    """``review status --format markdown``: a table for a reminder mail or a CI summary."""
    from keytrail.formats.markdown import escape

    data = as_json(st)
    applied = st.applied_known
    out = [f"### {escape(_headline(data))}", "",
           "| Reviewer | Worksheet | Decided | Revoke | Keep |" + (" Applied |" if applied else "") + " Problems |",
           "|---|---|---|---|---|" + ("---|" if applied else "") + "---|"]
    for s in st.sheets:
        who = escape(s.reviewer) if s.reviewer else "no reviewer"
        decided = f"{s.decided}/{s.total}" if s.reviewer else f"— of {s.total}"
        out.append(f"| {who} | {escape(s.file)} | {decided} | {s.revoke} | {s.keep} |"
                   + (f" {s.applied} |" if applied else "") + f" {len(s.problems)} |")
    problems = _problems(st)
    if problems:
        out += ["", "Rows with a problem:", ""]
        out += [f"- {escape(str(p))}" for p in problems]
    return "\n".join(out) + "\n"
