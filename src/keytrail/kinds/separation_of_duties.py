"""Separation of duties: nobody may hold two or more targets of one conflicting set.

``separation_of_duties`` is a list of sets; each set lists two or more target
selectors (globs or mappings) that must not be held together. A user or
service whose effective access (nested groups expanded) matches two or more
*different* members of one set is a finding: one per conflicting pair of
targets, naming both and the path to each.

Precisely: a pair of targets the subject holds conflicts when they match two
different members of a set. One target matching two members (``role:pay-*``
and ``role:*-approver`` both match ``role:pay-approver``) is not a conflict on
its own, nor are two targets matching only the same member. A pair is the unit
because it is what a reviewer decides on: a subject who gains a third duty gets
new findings for the new pairs, while the pair already baselined or waived
stays as it was. A waiver's ``target`` glob covers a pair when it matches
either of its targets.
Duties are targets: holding them on different resources still conflicts.
Groups are not reported themselves; their user and service members are.
The path shown for each target is the shortest by which it is held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from keytrail.checks._util import path_evidence
from keytrail.graph import Path
from keytrail.model import Finding, Grant, kind_of
from keytrail.selectors import compile_selector
from keytrail.view import View

KIND = "separation_of_duties"
CHECK = "separation-of-duties"
SEVERITY = "medium"


def check(view: View, spec: list[list[Any]]) -> Iterator[Finding]:
    sets = [[compile_selector(member) for member in members] for members in spec]
    graph = view.graph
    # Which members of each set a target matches: computed once per target.
    # Everything below works on the few targets that match some member, per
    # group once (its closure), never on each principal's whole effective
    # access, which on a large organisation is millions of entries.
    matches: dict[str, tuple[frozenset[int], ...]] = {}
    reach: dict[str, dict[str, list[tuple[str, Path]]]] = {}

    def members_of(target: str) -> tuple[frozenset[int], ...]:
        hit = matches.get(target)
        if hit is None:
            hit = matches[target] = tuple(
                frozenset(m for m, pred in enumerate(preds) if pred(view, target))
                for preds in sets)
        return hit

    def duties_of(group: str) -> dict[str, list[tuple[str, Path]]]:
        hit = reach.get(group)
        if hit is None:
            hit = reach[group] = {}
            for (target, resource), path in graph.group_closure(group).items():
                if any(members_of(target)):
                    hit.setdefault(target, []).append((resource, path))
        return hit

    def shortest(direct: list[Grant], targets: set[str]) -> dict[str, Path]:
        # For each target, the shortest path; ties go to the smaller resource,
        # then to the first direct grant in order (as effective access lists them).
        best: dict[str, tuple[int, str, int]] = {}
        found: dict[str, Path] = {}
        for order, grant in enumerate(direct):
            candidates: list[tuple[str, str, Path]] = []
            if grant.target in targets:
                candidates.append((grant.target, grant.resource, ()))
            if kind_of(grant.target) == "group":
                candidates.extend((t, r, rest) for t, ways in duties_of(grant.target).items()
                                  if t in targets for r, rest in ways)
            for target, resource, rest in candidates:
                rank = (1 + len(rest), resource, order)
                if target not in best or rank < best[target]:
                    best[target], found[target] = rank, (grant,) + rest
        return found

    for subject in graph.principals():
        direct = graph.direct[subject]
        # First only which duties are held (cheap set unions); paths are built
        # for the subjects that have a conflict.
        held: set[str] = set()
        for grant in direct:
            if any(members_of(grant.target)):
                held.add(grant.target)
            if kind_of(grant.target) == "group":
                held.update(duties_of(grant.target))
        held.discard(subject)  # a group does not hold itself, granted or through a cycle
        if len(held) < 2:
            continue
        conflicts = []
        for index in range(len(sets)):
            conflicting = sorted(t for t in held if members_of(t)[index])
            members = {m for t in conflicting for m in members_of(t)[index]}
            # Two different members matched by two different targets: one target
            # matching two members, or two targets one member, is no conflict.
            if len(members) >= 2 and len(conflicting) >= 2:
                conflicts.append((index, conflicting))
        if not conflicts:
            continue
        ways = shortest(direct, {t for _, conflicting in conflicts for t in conflicting})
        for index, conflicting in conflicts:
            for first, second in _pairs(conflicting, index, members_of):
                paths = {t: path_evidence(view, subject, ways[t]) for t in (first, second)}
                yield Finding(
                    message=f"{subject} holds conflicting duties: {first} and {second}",
                    subject=subject, target=first, also=(second,),
                    evidence={"set": index, "targets": [first, second], "paths": paths},
                    ident=(str(index), first, second))


def _pairs(conflicting: list[str], index: int,
           members_of: Callable[[str], tuple[frozenset[int], ...]]) -> Iterator[tuple[str, str]]:
    """The pairs of ``conflicting`` (sorted) that match two different members of set ``index``."""
    for i, first in enumerate(conflicting):
        mine = members_of(first)[index]
        for second in conflicting[i + 1:]:
            theirs = members_of(second)[index]
            if len(mine | theirs) >= 2:
                yield first, second
