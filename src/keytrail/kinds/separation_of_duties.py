"""Separation of duties: nobody may hold two or more targets of one conflicting set.

``separation_of_duties`` is a list of sets; each set lists two or more target
selectors (globs or mappings) that must not be held together. A user or
service whose effective access (nested groups expanded) matches two or more
*different* members of one set is a finding, one per set, naming every
conflicting target and the path to each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._util import path_evidence
from keytrail.model import Finding
from keytrail.selectors import compile_selector
from keytrail.view import View

KIND = "separation_of_duties"
CHECK = "separation-of-duties"
SEVERITY = "high"


def check(view: View, spec: list[list[Any]]) -> Iterator[Finding]:
    sets = [[compile_selector(member) for member in members] for members in spec]
    for subject in view.graph.principals():
        effective = view.graph.effective(subject)
        targets = sorted({t for t, _ in effective})
        for index, members in enumerate(sets):
            matched: dict[int, list[str]] = {}
            for m, pred in enumerate(members):
                hits = [t for t in targets if pred(view, t)]
                if hits:
                    matched[m] = hits
            if len(matched) < 2:
                continue
            conflicting = sorted({t for hits in matched.values() for t in hits})
            # Two members matching only the same single target is not a conflict.
            if len(conflicting) < 2:
                continue
            paths = {t: path_evidence(view, subject, _shortest(effective, t)) for t in conflicting}
            yield Finding(
                message=f"{subject} holds conflicting duties: {' and '.join(conflicting)}",
                subject=subject, target=conflicting[0],
                evidence={"set": index, "targets": conflicting, "paths": paths},
                ident=(str(index), *conflicting))


def _shortest(effective: dict[tuple[str, str], list[Any]], target: str) -> Any:
    paths = [p for (t, _), ps in sorted(effective.items()) if t == target for p in ps]
    return min(paths, key=len)
