"""A live provisioning key is held or owned by someone inactive or unknown.

Why it matters: a key is a standing authority to change access. When its
holder leaves, the credential usually stays wherever it was configured (a
laptop, a CI secret, a script on a jump host) and still works; when the
accountable owner of an automation key leaves, nobody answers for what the
service does with it. A leaver's key is the orphaned grant of the registry,
and more dangerous than one: it can create access, not only use it.

Fires: once per key and person, for each *live* key (valid as of
``--as-of``, or issued for later: not expired and not revoked by then) whose
``holder`` or ``owner`` is

- unknown to the directory (a typo, or a person deleted from the directory);
- ``suspended`` or ``terminated`` in the directory, or has a ``leave`` in the
  history with no later ``join``.

The finding's subject is that person (or service) and its ``key`` the key; a
personal key whose holder is also its owner fires once, naming both roles.

Does not fire: for keys that expired or were revoked at or before ``as_of``
(they can no longer authorise anything; changes made under them are
``unexplained.key-not-valid``'s); for active holders and owners; for a key
with no ``owner`` (for an automation key that is
``orphaned.key-without-owner``'s finding; a personal key's holder answers for
it). The review window (``--since``) does not matter: this is about the
registry as of ``as_of``.

Remediate: revoke the key in ``keys.yaml`` (``revoked_at``) and in the
systems that accept it, or, for an automation key that must keep running,
record an active person as its owner. Add key revocation to the leaver
checklist.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from keytrail.checks._keys import live_keys, validity
from keytrail.checks._util import NO_PARAMS, key_facts
from keytrail.model import Finding
from keytrail.view import View

ID = "orphaned.key-holder-inactive"
SEVERITY = "high"
PARAMS = NO_PARAMS


def _problem(view: View, principal: str) -> tuple[str, str] | None:
    """(reason, wording) when ``principal`` cannot stand behind a key, else None."""
    if principal not in view.directory.principals:
        where = view.directory.file or "directory.yaml"
        return "unknown", f"is not in {where}"
    why = view.inactive(principal)
    return None if why is None else (why, _wording(why))


def _wording(why: str) -> str:
    """``terminated 2026-06-19`` → ``was terminated on 2026-06-19``; ``left 2026-04-01`` → ``left on ...``."""
    status, _, when = why.partition(" ")
    if status == "left":
        return f"left on {when}" if when else "left"
    return f"was {status} on {when}" if when else f"is {status}"


def check(view: View, params: dict[str, Any]) -> Iterator[Finding]:
    for key in live_keys(view):
        roles: dict[str, list[str]] = {}
        for role, who in (("holder", key.holder), ("owner", key.owner)):
            if who:
                roles.setdefault(who, []).append(role)
        for who, what in roles.items():
            problem = _problem(view, who)
            if problem is None:
                continue
            reason, wording = problem
            role = " and ".join(what)
            yield Finding(
                message=f"key {key.id} is {validity(key, view.as_of)}, but its {role} {who} {wording}",
                subject=who, key=key.id,
                evidence={"key": key_facts(key), "role": what, "reason": reason},
                location=key.location, ident=(key.id, *what))
