"""Building a :class:`~keytrail.importers.base.State` from API objects met in any order.

State importers of identity systems read list pages in whatever order the user's
files hold them; the same user appears in ``/users``, in a group's members and in a
role's assignments, the same membership in ``/groups/{id}/users`` and in
``/users/{id}/groups``. :class:`Holdings` merges them: one snapshot line per
(subject, target, resource), one directory entry per id, fields filled from
whichever page carried them (a field already set is kept: the first page wins).
"""

from __future__ import annotations

from typing import Any

from keytrail.importers.base import Context, Record, State, json_type


class Holdings:
    """A State under construction: entitlements deduplicated, directory entries merged."""

    def __init__(self) -> None:
        self.state = State()
        self._lines: dict[tuple[str, str, str], dict[str, Any]] = {}

    def hold(self, subject: str, target: str, resource: str = "", via: str = "", **extra: Any) -> bool:
        """``subject`` holds ``target`` on ``resource``; False when that line was already there
        (its missing fields are filled in)."""
        key = (subject, target, resource)
        line = self._lines.get(key)
        if line is not None:
            for k, v in extra.items():
                if v is not None and k not in line:
                    line[k] = v
            return False
        line = {"subject": subject, "target": target, "resource": resource}
        if via:
            line["via"] = via
        line.update({k: v for k, v in extra.items() if v is not None})
        self._lines[key] = line
        return True

    def has(self, subject: str, target: str, resource: str = "") -> bool:
        return (subject, target, resource) in self._lines

    def principal(self, ident: str, **fields: Any) -> dict[str, Any]:
        return _merge(self.state.principals, ident, fields)

    def group(self, ident: str, **fields: Any) -> dict[str, Any]:
        return _merge(self.state.groups, ident, fields)

    def role(self, ident: str, **fields: Any) -> dict[str, Any]:
        return _merge(self.state.roles, ident, fields)

    def done(self, captured: str | None = None) -> State:
        """The State, its snapshot sorted (output is deterministic whatever the page order)."""
        self.state.snapshot = [self._lines[k] for k in sorted(self._lines)]
        if captured is not None:
            self.state.captured = captured
        return self.state


def _merge(table: dict[str, dict[str, Any]], ident: str, fields: dict[str, Any]) -> dict[str, Any]:
    entry = table.setdefault(ident, {"id": ident})
    for key, value in fields.items():
        if value is None or value == "" or value == {}:
            continue
        if key == "attributes":
            attrs = entry.setdefault("attributes", {})
            for k, v in value.items():
                if v is not None and v != "" and k not in attrs:
                    attrs[k] = v
        elif key not in entry:
            entry[key] = value
    return entry


def scalar(value: Any) -> Any:
    """``value`` when it can be a directory attribute (a string, number or boolean), else None."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (bool, int, float)):
        return value
    return None


def an_object(ctx: Context, record: Record, value: Any, what: str) -> bool:
    """Whether ``value`` is a JSON object; if not, the located problem "WHAT must be an object,
    not a string" (an API object of the wrong type is an error, never skipped in silence)."""
    if isinstance(value, dict):
        return True
    ctx.problem(record, f"{what} must be an object, not {json_type(value)}")
    return False


def as_dict(value: Any) -> dict[str, Any]:
    """``value`` when it is an object, else ``{}``: for optional sub-objects read leniently."""
    return value if isinstance(value, dict) else {}
