"""Access to a role or group that is not defined, or that was retired.

Why it matters: a grant to a target nobody defines is access nobody can
review: there is no owner to ask, no description of what it allows, and often
no longer anyone who knows it exists. Retired targets that still have holders
are the remains of an incomplete clean-up; in the real system the role may
still work, or may be re-created later under the same name and silently hand
its old permissions to the old holders.

Fires: for each active direct grant whose target the directory does not
define (the message says "not defined in directory.yaml"), or that the history
retired with a ``retire`` event and never re-defined (the message says
"retired 2026-03-01 by ev-…"). A grant made *after* the retire fires too.
One finding per grant. Access the snapshot shows (the real system) to such a
target fires too when the history has no grant for it — a project imported
from a system's state has a snapshot and no history yet — located at the
snapshot line.

Does not fire: for targets retired and later re-defined (a ``define`` after
the ``retire``) that the directory defines; for grants revoked before
``as_of``. A ``define`` in the history does not replace the directory entry:
a target defined only by the history still fires as not defined in the
directory.

Remediate: revoke the grants under a key, or define the target in the
directory (with an owner) and, if it was retired by mistake, re-define it in
the history.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import NO_PARAMS, grant_chain
from keytrail.model import Finding
from keytrail.timeutil import format_date
from keytrail.view import View

ID = "orphaned.unknown-target"
SEVERITY = "medium"
PARAMS = NO_PARAMS


def _problem(view: View, target: str) -> tuple[str, dict[str, Any]] | None:
    """Why ``target`` is not a live target (message part, evidence), or None when it is."""
    reasons: list[str] = []
    evidence: dict[str, Any] = {}
    if view.directory.target(target) is None:
        reasons.append(f"not defined in {view.directory.file or 'directory.yaml'}")
        evidence["defined_in_directory"] = False
    retire = view.state.retired.get(target)
    if retire is not None:
        reasons.append(f"retired {format_date(retire.time)} by {retire.id}")
        evidence["retired"] = {"event": retire.id, "location": str(view.location(retire))}
    if not reasons:
        return None
    evidence["reason"] = "; ".join(reasons)
    return evidence["reason"], evidence


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    verdicts: dict[str, tuple[str, dict[str, Any]] | None] = {}

    def verdict_of(target: str) -> tuple[str, dict[str, Any]] | None:
        if target not in verdicts:
            verdicts[target] = _problem(view, target)
        return verdicts[target]

    direct = view.graph.direct
    # Each target judged once, and the grants walked only when some target is not live.
    bad = {target for target in {g.target for held in direct.values() for g in held}
           if verdict_of(target) is not None}
    for subject in sorted(direct) if bad else ():
        for grant in direct[subject]:
            if grant.target not in bad:
                continue
            verdict = verdict_of(grant.target)
            assert verdict is not None
            why, evidence = verdict
            on = f" on {grant.resource}" if grant.resource else ""
            yield Finding(
                message=f"{subject} holds {grant.target}{on}, which is {why}",
                subject=subject, target=grant.target, resource=grant.resource,
                event=grant.event, key=grant.event.key,
                evidence={**evidence, "chain": [grant_chain(view, grant)]},
                location=view.location(grant.event))
    grants = view.state.grants
    seen: set[tuple[str, str, str]] = set()
    for entry in view.snapshot or ():
        key = (entry.subject, entry.target, entry.resource)
        if key in grants or key in seen:
            continue
        seen.add(key)
        verdict = verdict_of(entry.target)
        if verdict is None:
            continue
        why, evidence = verdict
        on = f" on {entry.resource}" if entry.resource else ""
        yield Finding(
            message=f"{entry.subject} holds {entry.target}{on} in the real system, which is {why}",
            subject=entry.subject, target=entry.target, resource=entry.resource,
            evidence={**evidence, "observed": "snapshot", "lines": [entry.line]},
            location=view.snapshot_location(entry), ident=("snapshot",))
