"""The snapshot: access as observed in the real system, one JSON line per entitlement."""

from __future__ import annotations

from pathlib import Path

from keytrail.errors import InputError, Problem, cap_problems
from keytrail.history import _Interner, _why
from keytrail.jsonlines import json_lines
from keytrail.model import SnapshotEntry
from keytrail.yamlload import Locator

#: The fields of a snapshot line; any other is kept with the entry and shown with drift findings.
_SNAPSHOT_FIELDS = frozenset({"subject", "target", "resource"})


def load_snapshot(path: Path, display: str) -> list[SnapshotEntry]:
    """Read a snapshot JSONL file; raise :class:`InputError` listing every problem."""
    from keytrail.schemas import validate

    interner = _Interner()
    entries: list[SnapshotEntry] = []
    problems: list[Problem] = []
    check = interner.check
    # A value seen before is found in its kind's table without a call (most lines repeat
    # the subjects, targets and resources of others); anything else goes through check().
    subjects, targets, resources = interner.subject, interner.target, interner.resource
    for line, obj in json_lines(path, display, problems):
        if type(obj) is dict:
            value = obj.get("subject")
            subject = (type(value) is str and subjects.get(value)) or check("subject", value)
            value = obj.get("target")
            target = (type(value) is str and targets.get(value)) or check("target", value)
            value = obj.get("resource", "")
            resource = (type(value) is str and resources.get(value)) or check("resource", value)
            if subject and target and resource is not None:
                # Fields beyond the three are kept (a system's own record id, say)
                # and shown with drift findings; never dropped.
                extra = None if _SNAPSHOT_FIELDS.issuperset(obj) else \
                    {k: v for k, v in obj.items() if k not in _SNAPSHOT_FIELDS}
                entries.append(SnapshotEntry(subject, target, resource, line, extra))
                continue
        found = validate(obj, "snapshot", Locator(display, {(): (line, 0)}))
        if not found and type(obj) is dict:
            # The schema cannot name every invisible character: say which field holds one.
            fields = (("subject", obj.get("subject")), ("target", obj.get("target")),
                      ("resource", obj.get("resource", "")))
            found = [Problem(display, line, 0, name, _why(name, value)) for name, value in fields
                     if type(value) is str and interner.check(name, value) is None]
        problems.extend(found or [Problem(display, line, 0, "", "invalid snapshot line")])
    if problems:
        raise InputError("invalid snapshot", cap_problems(problems, display))
    return entries
