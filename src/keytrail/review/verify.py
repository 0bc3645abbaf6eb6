"""Whether a review pack still matches its inputs: ``keytrail review verify PACK [DIR]``.

The pack's ``pack.json`` records the SHA-256 of every file the review read
(``attestation.inputs``) and of the files it wrote (``evidence.files`` and each
worksheet as issued). Verifying re-derives them:

- the inputs are the files the project at DIR reads *now* (its keytrail.yaml,
  with the project's own confinement), hashed and compared by the path the pack
  recorded: each one matches, differs, is missing (recorded, not read now) or
  is new (read now, not recorded). The pack's own paths are never opened, so a
  manifest cannot make keytrail read a file outside the project;
- ``index.html``, ``summary.md``, ``findings.json`` and the findings pages
  (``findings/findings-NNNN.html``) must be as written, and no other page may be
  in ``findings/``;
- a worksheet is expected to change once its reviewer fills it in: one that
  differs is reported as *filled* (or *edited* when it holds no decision or
  comment, e.g. saved again by a spreadsheet), never as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keytrail.errors import InputError, Problem
from keytrail.review.worksheets import MANIFEST

#: Verdicts that make the pack not match.
FAILING = ("differs", "missing", "new", "unrecorded")


@dataclass(frozen=True)
class Item:
    """One file compared."""

    group: str      # input | pack | worksheet
    path: str
    state: str      # match | differs | missing | new | unrecorded | issued | filled | edited


def verify(pack: Path, root: Path, allow_outside: list[str] | None = None) -> list[Item]:
    """Every file compared, inputs first, in the pack's order."""
    from keytrail.project import display_path, load_config
    from keytrail.review.attest import sha256_file
    from keytrail.review.status import read_pack

    data = read_pack(pack)
    shown = str(pack / MANIFEST)
    recorded = _recorded_inputs(data, shown)
    cfg = load_config(root, allow_outside or [])
    now = {display_path(p, cfg.root): p for p in cfg.files()}
    items: list[Item] = []
    for path, digest in recorded.items():
        file = now.get(path)
        if file is None:
            items.append(Item("input", path, "missing"))
        else:
            items.append(Item("input", path, "match" if sha256_file(file) == digest else "differs"))
    items += [Item("input", path, "new") for path in now if path not in recorded]
    items += _pack_files(pack, data, shown)
    items += _worksheets(pack, data)
    return items


def _pack_files(pack: Path, data: dict[str, Any], shown: str) -> list[Item]:
    """index.html, summary.md, findings.json and the findings pages pack.json records, then any
    findings page in the pack that it does not record. A recorded name must be one of these:
    pack.json is input, and cannot make keytrail open a file elsewhere."""
    from keytrail.review.attest import sha256_file
    from keytrail.review.evidence import PACK_FILES
    from keytrail.review.findings import FOLDER, PAGE_NAME

    evidence = data.get("evidence")
    files = evidence.get("files") if isinstance(evidence, dict) else None
    files = files if isinstance(files, dict) else {}
    bad = [name for name in files if name not in PACK_FILES and not PAGE_NAME.match(name)]
    if bad:
        from keytrail.textsafe import excerpt

        raise InputError(f"{shown}: invalid", [Problem(shown, 0, 0, "evidence.files", (
            f"'{excerpt(name)}' is not a file of a review pack (index.html, summary.md, findings.json "
            "or findings/findings-NNNN.html)")) for name in sorted(bad)[:20]])
    items = []
    pages = sorted(name for name in files if PAGE_NAME.match(name))
    for name in (*PACK_FILES, *pages):
        digest = files.get(name)
        if not isinstance(digest, str):
            items.append(Item("pack", name, "unrecorded"))
            continue
        found = sha256_file(pack / name)
        items.append(Item("pack", name, "missing" if found is None else "match" if found == digest else "differs"))
    folder = pack / FOLDER
    if folder.is_dir():  # a page added to the pack after it was written
        items += [Item("pack", name, "new") for name in sorted(
            f"{FOLDER}/{p.name}" for p in folder.iterdir()) if name not in files]
    return items


def _recorded_inputs(data: dict[str, Any], shown: str) -> dict[str, str | None]:
    att = data.get("attestation")
    inputs = att.get("inputs") if isinstance(att, dict) else None
    if not isinstance(inputs, list):
        raise InputError(f"{shown}: no attestation", [Problem(shown, 0, 0, "attestation.inputs", (
            "this pack records no hashes of its inputs (written before keytrail recorded them): "
            "there is nothing to verify it against"))])
    out: dict[str, str | None] = {}
    for n, entry in enumerate(inputs):
        if not (isinstance(entry, dict) and isinstance(entry.get("path"), str)
                and (entry.get("sha256") is None or isinstance(entry.get("sha256"), str))):
            raise InputError(f"{shown}: invalid", [Problem(shown, 0, 0, f"attestation.inputs[{n}]",
                                                           "expected path and sha256")])
        out[entry["path"]] = entry["sha256"]
    return out


def _worksheets(pack: Path, data: dict[str, Any]) -> list[Item]:
    from keytrail.review.attest import sha256_file
    from keytrail.review.status import worksheet_path
    from keytrail.review.worksheets import has_work

    out = []
    for n, entry in enumerate(data["worksheets"]):
        path = worksheet_path(pack, entry["file"], f"worksheets[{n}].file")
        found = sha256_file(path)
        if found is None:
            state = "missing"
        elif found == entry.get("sha256"):
            state = "issued"
        else:
            state = "filled" if has_work(path) else "edited"
        out.append(Item("worksheet", entry["file"], state))
    return out


def matches(items: list[Item]) -> bool:
    """Whether the pack matches its inputs (worksheets never decide it)."""
    return not any(i.state in FAILING for i in items if i.group != "worksheet")


WORDS = {
    "match": "match", "differs": "DIFFERS", "missing": "MISSING", "new": "NEW",
    "unrecorded": "UNRECORDED", "issued": "issued", "filled": "filled", "edited": "edited",
}


def as_json(items: list[Item], pack: str, root: str) -> dict[str, Any]:
    """What ``review verify --format json`` prints: the verdict, then every file compared."""
    return {
        "pack": _json_name(pack), "project": _json_name(root), "matches": matches(items),
        "checked": sum(1 for i in items if i.group != "worksheet"),
        "failing": sum(1 for i in items if i.group != "worksheet" and i.state in FAILING),
        "files": [{"group": i.group, "path": _json_name(i.path), "state": i.state} for i in items],
    }


def _json_name(name: str) -> str:
    """A file name as JSON can hold it: a name that is not UTF-8 (a file dropped into the pack
    with raw bytes in its name) has those bytes as ``\\xNN``, never a crash."""
    import os

    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")
    return name


def text(items: list[Item], pack: str, root: str) -> str:
    """What ``review verify`` prints (paths inert)."""
    from keytrail.textsafe import inline

    notes = {"missing": " (recorded in the pack, not read by the project now)",
             "new": " (read by the project now, not recorded in the pack)",
             "unrecorded": " (pack.json records no hash of it)",
             "filled": " (a reviewer's work: expected, not part of the check)",
             "edited": " (changed, but holds no decision or comment: saved again by a spreadsheet?)"}
    heads = {"input": f"inputs (project {inline(root)}):", "pack": f"pack {inline(pack)}:",
             "worksheet": "worksheets (expected to change once filled in):"}
    lines: list[str] = []
    for group, head in heads.items():
        lines.append(head)
        lines += [f"  {WORDS[i.state]:<10} {inline(i.path)}"
                  + (" (in the pack, not recorded in pack.json)" if i.group == "pack" and i.state == "new"
                     else notes.get(i.state, ""))
                  for i in items if i.group == group]
    bad = [i for i in items if i.group != "worksheet" and i.state in FAILING]
    if bad:
        lines.append(f"the pack does NOT match its inputs: {len(bad)} file{'s' if len(bad) != 1 else ''} "
                     "differ, are missing, new or unrecorded")
    else:
        checked = sum(1 for i in items if i.group != "worksheet")
        lines.append(f"the pack matches its inputs: {checked} files verified")
    return "\n".join(lines) + "\n"
