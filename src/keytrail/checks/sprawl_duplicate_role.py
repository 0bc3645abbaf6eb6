"""Two roles grant (nearly) the same permissions.

Why it matters: duplicate roles are role sprawl. Each copy is granted,
reviewed and owned separately, drifts on its own, and makes it hard to answer
"who can approve payments?"; one of the two usually exists because nobody
found the other.

Fires: for each unordered pair of defined roles (in the directory, not retired
by the history) whose permission sets are both non-empty and have a Jaccard
similarity (shared permissions / all permissions of either) at or above
``similarity``. One finding per pair: the subject is the role with the smaller
id, the target the other. The evidence lists both permission sets, what they
share and what only one has.

Does not fire: for roles without permissions (nothing to compare); for groups;
for roles the directory does not define, or that the history retired with no
later ``define``; below ``similarity``.

Remediate: merge the two roles (move the grants of one to the other, under a
key, then retire it), or make the difference deliberate and documented in the
role descriptions; lower-similarity pairs may be a role and its extension,
better modelled as a base role plus a small add-on.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

from keytrail.model import Finding
from keytrail.view import View

ID = "sprawl.duplicate-role"
SEVERITY = "low"
PARAMS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "similarity": {
            "type": "number", "minimum": 0, "maximum": 1, "default": 0.9,
            "description": "The Jaccard similarity of two roles' permissions at or above which "
                           "they are duplicates (1 = identical)."},
    },
    "additionalProperties": False,
}

#: Float slack for ``ceil(similarity * size)``: 0.7 * 10 is 7.000000000000001.
_EPS = 1e-9


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    threshold = params["similarity"]
    roles = {rid: role.permissions for rid, role in view.directory.roles.items()
             if role.permissions and view.target_defined(rid)}
    for a, b in sorted(_similar_pairs(roles, threshold)):
        yield _finding(view, a, b, roles[a], roles[b])


def _similar_pairs(roles: dict[str, frozenset[str]], threshold: float) -> set[tuple[str, str]]:
    """Pairs (smaller id, larger id) with Jaccard similarity >= ``threshold``.

    Prefix filtering (the all-pairs similarity join): order permissions from
    rarest to commonest; two sets with similarity >= t share at least
    ``ceil(t * |x|)`` permissions, so each one's shortest prefix of
    ``|x| - ceil(t * |x|) + 1`` rare permissions must meet the other's. Only
    roles whose prefixes meet, and whose sizes are within the ratio t, are
    compared exactly. Visiting roles from smallest to largest, each is compared
    with the already indexed (smaller) ones only.
    """
    ids = sorted(roles)
    if threshold <= 0:  # every pair qualifies, disjoint ones too: nothing to filter
        return {(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]}
    freq = Counter(p for perms in roles.values() for p in perms)
    rank = {p: n for n, p in enumerate(sorted(freq, key=lambda p: (freq[p], p)))}
    order = sorted(ids, key=lambda r: (len(roles[r]), r))
    index: dict[int, list[str]] = defaultdict(list)
    pairs: set[tuple[str, str]] = set()
    for role in order:
        perms = roles[role]
        size = len(perms)
        tokens = sorted(rank[p] for p in perms)
        prefix = tokens[:size - math.ceil(threshold * size - _EPS) + 1]
        smallest = threshold * size - _EPS
        seen: set[str] = set()
        for token in prefix:
            for other in index[token]:
                if other in seen or len(roles[other]) < smallest:
                    continue
                seen.add(other)
                shared = len(perms & roles[other])
                if shared / (size + len(roles[other]) - shared) >= threshold:
                    pairs.add((role, other) if role < other else (other, role))
        for token in prefix:
            index[token].append(role)
    return pairs


def _finding(view: View, a: str, b: str, perms_a: frozenset[str], perms_b: frozenset[str]
             ) -> Finding:
    shared = perms_a & perms_b
    similarity = len(shared) / len(perms_a | perms_b)
    if perms_a == perms_b:
        message = f"{a} and {b} grant the same {len(shared)} permissions"
    else:
        only = ", ".join(f"{len(perms - shared)} only in {role}"
                         for role, perms in ((a, perms_a), (b, perms_b)) if perms - shared)
        message = (f"{a} and {b} share {len(shared)} of {len(perms_a | perms_b)} permissions "
                   f"({similarity:.0%} similar); {only}")
    role_a, role_b = view.directory.roles[a], view.directory.roles[b]
    return Finding(
        message=message, subject=a, target=b,
        evidence={"similarity": round(similarity, 4),
                  "permissions": {a: sorted(perms_a), b: sorted(perms_b)},
                  "shared": sorted(shared),
                  "only_in": {a: sorted(perms_a - shared), b: sorted(perms_b - shared)},
                  "owners": {a: role_a.owner, b: role_b.owner}},
        location=role_a.location)
