"""Who an id is, for people reading a review pack: name, title, department, manager, status.

A reviewer certifies "Priya Shah, Senior Software Engineer (payments), manager
Tomáš Král, active", not ``user:priya.shah``. The id always stays beside the
words (machines and ``keytrail decisions`` key on it); the words come from the
directory (``name``, ``attributes.title``, ``attributes.department``,
``manager``/``owner``, ``status``) and the replayed view (a principal who left
by a ``leave`` event is shown as left). Every value is input: callers print it
through the templates' ``inline`` finalizer or the CSV formula guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keytrail.model import kind_of


@dataclass(frozen=True)
class Person:
    """What the directory says about one id (empty strings where it says nothing)."""

    id: str
    name: str = ""
    title: str = ""
    department: str = ""
    manager: str = ""
    manager_name: str = ""
    status: str = ""

    def text(self) -> str:
        """``Priya Shah · Senior Software Engineer · payments · manager Tomáš Král (user:tomas.kral) · active``."""
        parts = [p for p in (self.name, self.title, self.department) if p]
        if self.manager:
            boss = "owner" if kind_of(self.id) != "user" else "manager"
            parts.append(f"{boss} {self.manager_name} ({self.manager})" if self.manager_name
                         else f"{boss} {self.manager}")
        if self.status:
            parts.append(self.status)
        return " · ".join(parts)


class People:
    """Looks ids up in the directory once each (a review prints the same people many times)."""

    def __init__(self, directory: Any, view: Any = None) -> None:
        self.directory = directory
        self.view = view
        self._cache: dict[str, Person] = {}

    def __call__(self, ident: str | None) -> Person:
        if not ident:
            return Person("")
        found = self._cache.get(ident)
        if found is None:
            found = self._cache[ident] = self._look_up(ident)
        return found

    def name(self, ident: str | None) -> str:
        """The display name of ``ident`` ("" when the directory has none)."""
        return self(ident).name

    def _look_up(self, ident: str) -> Person:
        d = self.directory
        p = d.principals.get(ident)
        if p is not None:
            boss = p.manager if p.kind == "user" else p.owner
            status = p.status
            inactive = self.view.inactive(ident) if self.view is not None else None
            if inactive:
                status = inactive  # "terminated 2026-06-19", "left 2026-07-01"
            attrs = p.attributes or {}
            return Person(ident, p.name, _text(attrs.get("title")), _text(attrs.get("department")),
                          boss or "", self._plain_name(boss), status)
        t = d.target(ident)
        if t is not None:
            return Person(ident, t.name, "", "", t.owner or "", self._plain_name(t.owner), "")
        return Person(ident, status="not in the directory")

    def _plain_name(self, ident: str | None) -> str:
        if not ident:
            return ""
        p = self.directory.principals.get(ident)
        if p is not None:
            return p.name
        t = self.directory.target(ident)
        return t.name if t is not None else ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)
