"""Review worksheets as they come back from reviewers, and the pack manifest that issued them.

A worksheet leaves ``keytrail review`` as RFC 4180 CSV (UTF-8, commas) and comes
back from whatever spreadsheet its reviewer used. Excel saves "CSV UTF-8" with a
byte-order mark, "CSV" in many European locales with semicolons, and "Unicode
text" as UTF-16 with tabs: :func:`decode` and :func:`dialect` accept all of
these, telling the delimiter from the header row (the one row whose cells
keytrail knows), never guessing from the data.

The manifest (``pack.json``) records what the pack issued: each worksheet's
file, the reviewer it was assigned to, and every grant it lists. ``keytrail
decisions`` takes the approver of a decision from here, not from the
worksheet's editable ``reviewer`` cell, so that a reviewer cannot sign in
someone else's name or certify their own access.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from keytrail.errors import InputError, Problem
from keytrail.textsafe import excerpt

#: The manifest's file name inside a pack.
MANIFEST = "pack.json"
#: The delimiters a spreadsheet may save a worksheet with, in order of preference.
DELIMITERS = (",", ";", "\t")


def decode(data: bytes) -> str:
    """A worksheet's text: UTF-8 (with or without a BOM) or UTF-16 with a BOM (Excel's
    "Unicode text"). Raises :class:`UnicodeDecodeError` for anything else."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def dialect(header_line: str, required: tuple[str, ...]) -> str:
    """The delimiter of a worksheet, told from its header: the one that splits it into
    cells holding the ``required`` columns (a comma when none does, for the error)."""
    for delimiter in DELIMITERS:
        try:
            cells = next(csv.reader([header_line], delimiter=delimiter))
        except (csv.Error, StopIteration):
            continue
        if all(c in (h.strip() for h in cells) for c in required):
            return delimiter
    return ","


def rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Each row with the line it starts on (a quoted cell may span lines)."""
    reader = csv.reader(text.splitlines(keepends=True), delimiter=delimiter, strict=True)
    start = 1
    for cells in reader:
        yield start, cells
        start = reader.line_num + 1


def table(display: str, text: str, required: tuple[str, ...], what: str,
          problems: list[Problem]) -> Iterator[tuple[int, dict[str, str]]]:
    """The non-blank rows of a worksheet as ``{column: cell}`` (the formula guard removed),
    each with its line. A missing header or column, a row of another width and malformed CSV
    go to ``problems`` (``what`` names the sheet in them: "worksheet", "key worksheet")."""
    from keytrail.formats.csv import unguard

    lines = text.splitlines()
    reader = rows(text, dialect(lines[0], required) if lines else ",")
    line = 1
    try:
        header = next(reader, None)
        if header is None:
            problems.append(Problem(display, 1, 0, "", f"empty {what} (no header row)"))
            return
        columns = [h.strip() for h in header[1]]
        missing = [c for c in required if c not in columns]
        if missing:
            problems.append(Problem(display, 1, 0, "", f"missing column{'s' if len(missing) > 1 else ''} "
                                    f"{', '.join(missing)} (a {what} of `keytrail review` has "
                                    f"{', '.join(required)})"))
            return
        index = {c: columns.index(c) for c in columns}
        for line, cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) != len(columns):
                problems.append(Problem(display, line, 0, "", f"{len(cells)} cells, the header has "
                                        f"{len(columns)}"))
                continue
            yield line, {c: unguard(cells[i]) for c, i in index.items()}
    except csv.Error as exc:
        problems.append(Problem(display, line + 1, 0, "", f"malformed CSV: {exc}"))


def has_work(path: Path) -> bool:
    """Whether a worksheet holds anything a reviewer wrote: a decision or a comment
    (or cannot be read as a worksheet at all, so that nobody can tell)."""
    try:
        text = decode(path.read_bytes())
        lines = text.splitlines()
        if not lines:
            return False
        delimiter = dialect(lines[0], ("decision",))
        table = rows(text, delimiter)
        _, header = next(table)
        columns = [h.strip() for h in header]
        filled = [columns.index(c) for c in ("decision", "comment") if c in columns]
        if "decision" not in columns:
            return True
        return any(i < len(cells) and cells[i].strip() for _, cells in table for i in filled)
    except (OSError, UnicodeDecodeError, csv.Error, StopIteration):
        return True


# -- the manifest ---------------------------------------------------------------------------


def manifest_text(period: str, as_of: str, mode: str,
                  sheets: list[tuple[str, str | None, list[str], str]],
                  attestation: dict[str, Any] | None = None, evidence: dict[str, Any] | None = None) -> str:
    """``pack.json``: for each worksheet (file, reviewer, grant ids, text as issued) its
    file, reviewer, grants and the SHA-256 of its bytes as issued; then ``attestation``
    (what the review read: see :mod:`keytrail.review.attest`) and ``evidence`` (what wrote the pack,
    its counts and the hashes of its other files), when given."""
    from keytrail import __version__

    head = orjson.dumps({"tool": {"name": "keytrail", "version": __version__}, "period": period,
                         "as_of": as_of, "reviewer": mode}, option=orjson.OPT_INDENT_2).decode("utf-8")
    entries = [orjson.dumps({"file": name, "reviewer": reviewer, "grants": grants,
                             "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest()}).decode("utf-8")
               for name, reviewer, grants, text in sheets]
    body = ",\n    ".join(entries)
    tail = ""
    from keytrail.textsafe import json_inert

    for key, section in (("attestation", attestation), ("evidence", evidence)):
        if section is not None:
            text = json_inert(orjson.dumps(section, option=orjson.OPT_INDENT_2).decode("utf-8"))
            tail += f',\n  "{key}": ' + text.replace("\n", "\n  ")
    return head[:-2] + ',\n  "worksheets": [' + ("\n    " + body + "\n  ]" if entries else "]") + tail + "\n}\n"


@dataclass(frozen=True)
class Assignment:
    """Who a pack assigned one grant to, and in which worksheet."""

    reviewer: str | None
    worksheet: str


def read_manifest(pack: Path) -> dict[str, Assignment]:
    """The assignments of a pack's ``pack.json``: grant id -> :class:`Assignment`."""
    path = pack / MANIFEST if pack.is_dir() else pack
    display = str(path)
    try:
        data: Any = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise InputError(f"{display}: not found", [Problem(display, 0, 0, "", (
            "no review pack manifest here: give the folder `keytrail review --out` wrote "
            "the worksheets into (packs written before pack.json existed: re-run `keytrail review`)"))]) from None
    except OSError as exc:
        raise InputError(f"{display}: cannot read", [Problem(display, 0, 0, "", f"cannot read: {exc.strerror}")]) from None
    except orjson.JSONDecodeError as exc:
        raise InputError(f"{display}: invalid", [Problem(display, getattr(exc, "lineno", 0) or 0, 0, "",
                                                         f"not a review pack manifest: {exc.msg}")]) from None
    sheets = data.get("worksheets") if isinstance(data, dict) else None
    if not isinstance(sheets, list):
        raise InputError(f"{display}: invalid", [Problem(display, 1, 1, "worksheets",
                                                         "not a review pack manifest (no `worksheets` list)")])
    out: dict[str, Assignment] = {}
    problems: list[Problem] = []
    for n, sheet in enumerate(sheets):
        ok = isinstance(sheet, dict) and isinstance(sheet.get("file"), str) \
            and (sheet.get("reviewer") is None or isinstance(sheet.get("reviewer"), str)) \
            and isinstance(sheet.get("grants"), list) and all(isinstance(g, str) for g in sheet["grants"])
        if not ok:
            problems.append(Problem(display, 0, 0, f"worksheets[{n}]", "expected file, reviewer and grants"))
            continue
        for gid in sheet["grants"]:
            out[gid] = Assignment(sheet["reviewer"], sheet["file"])
    if problems:
        raise InputError(f"{display}: invalid", problems[:50])
    return out


def find_pack(worksheet: Path) -> Path | None:
    """The pack a worksheet sits in (``PACK/worksheets/NAME.csv``), if it does."""
    folder = worksheet.resolve().parent
    if folder.name == "worksheets" and (folder.parent / MANIFEST).is_file():
        return folder.parent
    return None


def short(value: str) -> str:
    """A cell quoted in a message: short and inert."""
    return f"'{excerpt(value)}'"
