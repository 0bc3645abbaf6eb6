"""Registry entries for the keys the history uses but the registry lacks.

After importing a real system's history, every key mapped from its records is
unknown to the registry. For each, the history shows who used it, what it
changed and when, and that is what is proposed:

- ``holder``: the actor seen (when several used it, the most frequent, with the
  others named in a comment: a shared key is a finding, not a holder);
- ``scope``: per target kind, the narrowest globs covering every target it changed
  (the targets themselves when there are a few; else the names' longest common
  prefix and ``*``), with how many targets it changed;
- ``not_before`` and ``expires``: its first use, and one second after its last
  (a key is valid strictly before ``expires``).

What the history cannot know (owner, purpose, ticket, approver) is left as
commented lines to fill in. The text is YAML to review and paste under ``keys:``;
``--write`` adds the entries with ``keytrail key issue``'s checks instead.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from keytrail.model import CHANGE_ACTIONS, Event, Key

SECOND = 1_000_000


@dataclass
class Suggestion:
    """What the history shows about one unknown key."""

    id: str
    actors: Counter[str] = field(default_factory=Counter)
    targets: set[str] = field(default_factory=set)
    actions: Counter[str] = field(default_factory=Counter)
    first: int = 0
    last: int = 0
    events: int = 0
    where: str = ""

    @property
    def holder(self) -> str | None:
        """The actor seen most (ties: the first by id)."""
        if not self.actors:
            return None
        return sorted(self.actors.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]

    @property
    def scope(self) -> list[str]:
        return narrowest(self.targets)


def _escape(name: str) -> str:
    """``name`` as a glob matching only itself."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


#: Up to this many targets of a kind are listed one by one; more get one common-prefix glob.
MAX_EXACT = 5


def narrowest(targets: Iterable[str]) -> list[str]:
    """Per target kind, the narrowest scope covering every target of that kind: the targets
    themselves when there are at most :data:`MAX_EXACT`, else one glob of their common prefix."""
    by_kind: dict[str, list[str]] = {}
    for target in targets:
        kind, _, name = target.partition(":")
        by_kind.setdefault(kind, []).append(name)
    out: list[str] = []
    for kind in sorted(by_kind):
        names = sorted(set(by_kind[kind]))
        if len(names) <= MAX_EXACT:
            out.extend(f"{kind}:{_escape(name)}" for name in names)
        else:
            out.append(f"{kind}:{_escape(os.path.commonprefix(names))}*")
    return out


def suggestions(events: Iterable[Event], keys: dict[str, Key], files: list[str]) -> list[Suggestion]:
    """One suggestion per key the events use that ``keys`` lacks, by first use."""
    found: dict[str, Suggestion] = {}
    for event in events:
        if not event.key or event.key in keys:
            continue
        s = found.get(event.key)
        if s is None:
            s = found[event.key] = Suggestion(event.key, first=event.time,
                                              where=f"{files[event.file]}:{event.line}")
        s.events += 1
        s.last = event.time
        s.actions[event.action] += 1
        if event.actor:
            s.actors[event.actor] += 1
        if event.target and event.action in CHANGE_ACTIONS:
            s.targets.add(event.target)
    return sorted(found.values(), key=lambda s: (s.first, s.id))


def _q(text: str) -> str:
    """A YAML scalar for ``text``: a JSON string (valid YAML, every control character escaped)."""
    import orjson

    return orjson.dumps(text).decode("utf-8")


def _plain_time(us: int) -> str:
    from keytrail.timeutil import format_time

    return format_time(us) or ""


def render(found: list[Suggestion], registry: str, as_of: int) -> str:
    """The suggestions as YAML to review and paste under ``keys:`` of ``registry``."""
    from keytrail.textsafe import inline

    lines = [f"# keytrail keys suggest: {len(found)} key{'s' if len(found) != 1 else ''} the history uses "
             f"that {inline(registry)} does not register (history up to {_plain_time(as_of)}).",
             "# Review each entry: check holder, scope and validity against what the key was for, fill",
             "# in owner, purpose, ticket and approved_by, then paste the entries under `keys:` (or run",
             "# `keytrail keys suggest --write --owner USER --approved-by USER --ticket T`)."]
    if not found:
        lines.append("keys: []")
        return "\n".join(lines) + "\n"
    lines.append("keys:")
    for s in found:
        actions = ", ".join(f"{a} {n}" for a, n in sorted(s.actions.items()))
        lines.append("")
        lines.append(f"  # {s.events} event{'s' if s.events != 1 else ''} ({inline(actions)}), "
                     f"first at {inline(s.where)}; changed {len(s.targets)} target"
                     f"{'s' if len(s.targets) != 1 else ''}")
        others = [a for a in sorted(s.actors) if a != s.holder]
        if others:
            lines.append(f"  # also used by {', '.join(inline(a) for a in others)}: a key is held by one "
                         "individual or service (unexplained.key-misuse)")
        lines.append(f"  - id: {_q(s.id)}")
        if s.holder is None:
            lines.append("    # holder: no actor is recorded for this key's events; who holds it?")
        else:
            lines.append(f"    holder: {_q(s.holder)}")
        lines += ["    # owner: user:...            the accountable human",
                  "    # purpose: ...               why the key exists",
                  "    # ticket: ...                the ticket that approved it",
                  "    # approved_by: user:...      who approved it (not the holder or owner)"]
        if s.scope:
            lines.append(f"    scope: [{', '.join(_q(g) for g in s.scope)}]")
        else:
            lines.append("    # scope: the key changed no role or group; what may it change?")
        lines.append(f"    not_before: {_plain_time(s.first)}")
        lines.append(f"    expires: {_plain_time(s.last + SECOND)}")
    return "\n".join(lines) + "\n"
