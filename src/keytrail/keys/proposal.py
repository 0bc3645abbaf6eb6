"""Applying a review's key proposal: ``keytrail key revoke --proposal FILE.keys-proposal.yaml``.

``keytrail decisions`` turns the ``revoke`` rows of key owners' worksheets into a
proposal (:mod:`keytrail.review.key_decisions`): for each key, the ``revoked_at`` the
review decided, who decided, why and the worksheet row. Applying it sets each
key's ``revoked_at`` and records the decision in its notes, all or nothing. A
key whose ``revoked_at`` already is the proposed time was applied before and is
left as it is (applying twice is harmless); one revoked at another time, or not
in the registry, is an error naming the proposal's line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keytrail.errors import InputError, Problem
from keytrail.textsafe import inline


def apply_proposal(path: Path, loaded: Any, registry: Any) -> list[str]:
    """Apply the proposal at ``path`` to ``registry``; the messages to print."""
    from keytrail.commands.key import note
    from keytrail.keys.edit import EditRefused
    from keytrail.project import read_yaml
    from keytrail.timeutil import TimeFormatError, format_time, parse_time

    display = str(path)
    data, loc = read_yaml(path, display)
    items = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise InputError(f"{display}: not a key proposal", [loc.problem(
            (), "expected `keys:` listing {id, revoked_at, ...} (a FILE.keys-proposal.yaml from "
                "`keytrail decisions`)")])
    problems: list[Problem] = []
    plan: list[tuple[str, int, str]] = []
    done: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or "revoked_at" not in item:
            problems.append(loc.problem(("keys", i), "expected {id, revoked_at, decided_by, reason, worksheet}"))
            continue
        ident = item["id"]
        try:
            at = parse_time(item["revoked_at"])
        except TimeFormatError as exc:
            problems.append(loc.problem(("keys", i, "revoked_at"), str(exc)))
            continue
        key = loaded.keys.get(ident)
        if key is None:
            problems.append(loc.problem(("keys", i, "id"), f"key '{inline(ident)}' is not in {loaded.display}"))
            continue
        if key.revoked_at is not None:
            if key.revoked_at == at:
                done.append(f"{inline(ident)} already revoked at {format_time(at)} (applied before)")
            else:
                problems.append(loc.problem(("keys", i, "revoked_at"), (
                    f"{inline(ident)} already has revoked_at {format_time(key.revoked_at)} in "
                    f"{loaded.display}; the proposal says {format_time(at)}")))
            continue
        if any(p[0] == ident for p in plan):
            problems.append(loc.problem(("keys", i, "id"), f"key '{inline(ident)}' is proposed twice"))
            continue
        why = " ".join(str(item[f]).strip() for f in ("reason",) if item.get(f))
        who = f" (decided by {item['decided_by']}" if item.get("decided_by") else ""
        if who and item.get("worksheet"):
            who += f", {item['worksheet']}"
        plan.append((ident, at, f"Revoked {format_time(at)} by access review: {why or 'revoke'}"
                     + (who + ")" if who else "")))
    if problems:
        raise EditRefused(f"{display}: not applied; {loaded.display} was not changed", problems)
    for ident, at, text in plan:
        registry.set(ident, "revoked_at", format_time(at), after="expires")
        # A worksheet comment may hold a line break or a hidden character: the notes get it
        # shown as an escape, on one line (the proposal keeps the exact text).
        note(registry, ident, inline(text))
    return [f"revoked {inline(ident)} at {format_time(at)} (review proposal {inline(display)})"
            for ident, at, _ in plan] + done + ([] if plan or done else ["the proposal revokes no key"])
