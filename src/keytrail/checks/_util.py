"""Small helpers shared by checks: provenance chains and evidence."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from keytrail.graph import Path, path_ids
from keytrail.model import Event, Grant, Key
from keytrail.timeutil import format_time
from keytrail.view import View

#: An empty parameter schema, for checks without parameters.
NO_PARAMS: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


def describe_change(event: Event, actor: bool = True) -> str:
    """``grant of role:r on aws:1 for user:a by user:admin``: the change in words."""
    what = event.target or "?"
    if event.resource:
        what += f" on {event.resource}"
    if event.subject is not None:
        what += f" for {event.subject}"
    by = f" by {event.actor}" if actor and event.actor else ""
    return f"{event.action} of {what}{by}"


def key_facts(key: Key) -> dict[str, Any]:
    """What the registry says about a key, for evidence."""
    return {"id": key.id, "holder": key.holder, "owner": key.owner, "scope": list(key.scope),
            "not_before": format_time(key.not_before), "expires": format_time(key.expires),
            "revoked_at": format_time(key.revoked_at), "ticket": key.ticket or None,
            "location": str(key.location) if key.location else None}


def _event_chain(view: View, event: Event) -> dict[str, Any]:
    """A new dict: the chain of ``event`` (see :func:`chain`)."""
    key_id = event.key
    key = view.keys.get(key_id) if key_id else None
    out: dict[str, Any] = {
        "event": event.id,
        "action": event.action,
        "time": format_time(event.time),
        "actor": event.actor,
        "key": key_id,
        "key_holder": key.holder if key else None,
        "approver": event.approver,
        "ticket": event.ticket,
        "reason": event.reason,
        "location": str(view.location(event)),
    }
    if event.expires is not None:
        out["expires"] = format_time(event.expires)
    return out


def chain(view: View, event: Event | None) -> dict[str, Any]:
    """The who/what/when/why of an event: actor, key, key holder, approver, ticket, reason, time.

    Memoised per event: one event can stand behind several findings. The dict
    is shared between findings, so it is read-only.
    """
    if event is None:
        return {}
    return _shared(view, (event.file, event.line), _event_chain, event)


def grant_chain(view: View, grant: Grant) -> dict[str, Any]:
    """The chain of the event that put ``grant`` in force, plus since when it is held and its
    certification (memoised per grant: one group's grant of a role stands behind every
    member's findings; read-only)."""
    return _shared(view, grant, _grant_chain, grant)


def _shared(view: View, key: Any, build: Callable[[View, Any], dict[str, Any]], item: Any) -> dict[str, Any]:
    """``build(view, item)``, shared through the view's chain memo under ``key``; built afresh
    for a stand-in view without one (a single change, recording.gate: nothing to share)."""
    memo = getattr(view, "chains", None)
    return build(view, item) if memo is None else memo.get(key, build, view, item)


def _grant_chain(view: View, grant: Grant) -> dict[str, Any]:
    """A new dict: the chain of ``grant`` (see :func:`grant_chain`). Built afresh rather than
    copied from its event's chain: a grant's event rarely stands behind anything but the
    grant, so the event's chain alone is not kept."""
    out = _event_chain(view, grant.event)
    out["since"] = format_time(grant.since)
    if grant.certified is not None:
        out["certified"] = format_time(grant.certified.time)
    return out


def path_evidence(view: View, subject: str, path: Path) -> dict[str, Any]:
    """Evidence for an entitlement held along ``path``: the node ids and each edge's chain."""
    return {"path": path_ids(subject, path), "chain": [grant_chain(view, g) for g in path]}


# Lazy evidence: a check with many findings passes one of these as ``evidence``;
# the dict is built when the finding is rendered and dropped after, so that a
# run with a million findings does not hold a million evidence trees at once.

class Deferred(tuple):  # type: ignore[type-arg]
    """``(function, *args)``, called as ``function(*args)``: deferred evidence in one small tuple.

    Lighter than :func:`functools.partial` (which allocates an argument tuple
    and a keyword dict besides itself): a check passes the few values its
    evidence is made of, and the dict is built only when the finding is rendered.
    """

    __slots__ = ()

    def __call__(self) -> dict[str, Any]:
        return self[0](*self[1:])  # type: ignore[no-any-return]


def deferred(function: Callable[..., dict[str, Any]], *args: Any) -> Callable[[], dict[str, Any]]:
    """Evidence ``function(*args)``, built on demand."""
    return Deferred((function, *args))


def lazy_paths(view: View, subject: str, paths: list[Path],
               fields: Mapping[str, Any] | None = None) -> Callable[[], dict[str, Any]]:
    """Evidence ``{**fields, "paths": [path_evidence(...) for each path]}``, built on demand."""
    return deferred(_with_paths, view, subject, tuple(paths), fields or {})


def lazy_chain(view: View, grant: Grant,
               fields: Mapping[str, Any] | None = None) -> Callable[[], dict[str, Any]]:
    """Evidence ``{**fields, "chain": [grant_chain(view, grant)]}``, built on demand."""
    return deferred(_with_chain, view, grant, fields or {})


def lazy_path(view: View, subject: str, path: Path) -> Callable[[], dict[str, Any]]:
    """:func:`path_evidence` for one path, built on demand."""
    return deferred(path_evidence, view, subject, path)


def _with_paths(view: View, subject: str, paths: tuple[Path, ...], fields: Mapping[str, Any]
                ) -> dict[str, Any]:
    return {**fields, "paths": [path_evidence(view, subject, p) for p in paths]}


def _with_chain(view: View, grant: Grant, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {**fields, "chain": [grant_chain(view, grant)]}
