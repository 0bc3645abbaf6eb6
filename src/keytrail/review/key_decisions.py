"""Key owners' decisions: the rows of ``keys-*.csv`` worksheets, and the registry proposal.

A key worksheet (``keytrail review``'s ``worksheets/keys-<owner>.csv``) lists
the keys one owner is accountable for. Its ``decision`` is ``keep`` or
``revoke`` (case-insensitive, trimmed; blank is undecided), checked like a
grant row: the key must be one the pack issued, on the worksheet's owner, and
with a manifest the owner of the pack, not the editable ``owner`` cell, is the
one who decided. The history has no key action, so a key decision never
becomes an event: ``keytrail decisions`` writes the ``revoke`` decisions as a
``revoked_at`` proposal (YAML, ``--out`` plus ``.keys-proposal.yaml``) that
``keytrail key revoke --proposal FILE`` applies to the key registry
(:mod:`keytrail.keys.proposal`); ``keep`` records nothing.
"""

from __future__ import annotations

import csv
from typing import Any

from keytrail.errors import Problem, UsageError
from keytrail.review.keys import KEY_ROW_PREFIX
from keytrail.review.worksheets import Assignment, dialect, short, table
from keytrail.textsafe import inline

#: Columns a key worksheet must have; the others are informative.
KEY_REQUIRED = ("key_id", "owner", "decision", "comment")
WORDS = {"keep": "certify", "revoke": "revoke"}
#: The proposal's file name: ``--out`` with this suffix added.
PROPOSAL_SUFFIX = ".keys-proposal.yaml"


def is_key_sheet(header_line: str) -> bool:
    """Whether a worksheet's header is a key worksheet's (``key_id`` and no ``grant_id``)."""
    delimiter = dialect(header_line, KEY_REQUIRED)
    try:
        cells = [c.strip() for c in next(csv.reader([header_line], delimiter=delimiter))]
    except (csv.Error, StopIteration):
        return False
    return "key_id" in cells and "grant_id" not in cells


def read(display: str, text: str, problems: list[Problem],
         assigned: dict[str, Assignment] | None) -> tuple[list[Any], int]:
    """The decided rows of one key worksheet (as :class:`keytrail.review.decisions.Decision` with
    ``key_id`` set) and how many are undecided; its problems go to ``problems``."""
    from keytrail.review.decisions import Decision

    out: list[Any] = []
    undecided = 0
    for line, row in table(display, text, KEY_REQUIRED, "key worksheet", problems):
        key_id, owner, word = row["key_id"].strip(), row["owner"].strip(), row["decision"].strip().lower()
        issued = _issued(display, line, key_id, owner, bool(word), assigned, problems)
        if not word:
            undecided += 1
            continue
        action = WORDS.get(word)
        if action is None:
            problems.append(Problem(display, line, 0, "decision",
                                    f"unknown decision {short(row['decision'].strip())} "
                                    "(write keep or revoke, or leave it blank)"))
            continue
        if issued is False:
            continue  # reported already
        decider = issued if isinstance(issued, str) else (owner if owner.startswith("user:") else None)
        out.append(Decision(display, line, action, "", KEY_ROW_PREFIX + key_id, "", decider,
                            row["comment"].strip(), key_id))
    return out, undecided


def _issued(display: str, line: int, key_id: str, owner: str, decided: bool,
            assigned: dict[str, Assignment] | None, problems: list[Problem]) -> str | bool | None:
    """The owner the pack issued this key to; ``False`` after reporting why the row cannot
    be trusted (a key the pack did not issue, another owner claimed, or no owner)."""
    if assigned is None:
        return None
    entry = assigned.get(KEY_ROW_PREFIX + key_id)
    if entry is None:
        if decided:
            problems.append(Problem(display, line, 0, "key_id", f"{short(key_id)} is not a key this "
                                    "review pack issued (a row from another review, or edited?)"))
        return False
    if owner != (entry.reviewer or ""):
        problems.append(Problem(display, line, 0, "owner", (
            f"the worksheet says {short(owner)}, but the pack issued this key to "
            f"{short(entry.reviewer or 'no owner')} ({entry.worksheet}); the owner of a key "
            "cannot be changed in the worksheet")))
        return False
    if decided and entry.reviewer is None:
        problems.append(Problem(display, line, 0, "decision", "nobody is accountable for this key, so "
                                "nobody can decide it from a worksheet (give it an active owner in "
                                "the key registry, and re-run `keytrail review`)"))
        return False
    return entry.reviewer if decided else None


def check_registry(decided: list[Any], keys: dict[str, Any]) -> None:
    """Every key decision names a key the registry still knows."""
    from keytrail.errors import InputError

    problems = [Problem(d.file, d.line, 0, "key_id", f"key {inline(d.key_id)} is not in the key "
                        "registry (removed since the review?): re-run `keytrail review`")
                for d in decided if d.key_id not in keys]
    if problems:
        raise InputError("key worksheets do not match the key registry", problems)


def proposal_text(decided: list[Any], time: str) -> str:
    """The ``revoked_at`` proposal: YAML listing every key decided ``revoke``, with who decided
    it and why, for the owner to apply to the key registry (``keys.yaml``)."""
    import orjson

    lines = ["# keytrail decisions: keys the review decided to revoke. Review it, then apply every",
             "# revoked_at to the key registry with `keytrail key revoke --proposal THIS-FILE`.",
             "keys:"]
    for d in decided:
        if d.action != "revoke":
            continue
        # JSON strings are valid YAML scalars, and inert (every control character escaped).
        lines.append(f"  - id: {orjson.dumps(d.key_id).decode('utf-8')}")
        lines.append(f"    revoked_at: {orjson.dumps(time).decode('utf-8')}")
        if d.reviewer:
            lines.append(f"    decided_by: {orjson.dumps(d.reviewer).decode('utf-8')}")
        lines.append(f"    reason: {orjson.dumps(d.comment or 'Access review: revoke').decode('utf-8')}")
        lines.append(f"    worksheet: {orjson.dumps(f'{d.file}:{d.line}').decode('utf-8')}")
    if lines[-1] == "keys:":
        lines[-1] = "keys: []"
    return "\n".join(lines) + "\n"


def refuse_existing(path: object) -> None:
    """The proposal is never written over an existing file."""
    from pathlib import Path

    if Path(str(path)).exists():
        raise UsageError(f"{path}: already exists (a key proposal is never overwritten; choose a new --out)")
