"""The declarative policy rule kinds, one module each.

Each module exposes ``KIND`` (the YAML key), ``CHECK`` (the name findings
carry in their ``check`` field), ``SEVERITY`` (the default when the rule sets
none), a docstring that documents it, and ``check(view, spec)`` yielding
:class:`~keytrail.model.Finding` — pure, like the built-in checks.
"""

from __future__ import annotations

import importlib
from types import ModuleType

REGISTRY: dict[str, str] = {
    "separation_of_duties": "separation_of_duties",
    "forbid": "forbid",
    "require": "require",
    "limit": "limit",
}


def get(kind: str) -> ModuleType:
    """The module implementing rule kind ``kind``."""
    return importlib.import_module(f"keytrail.kinds.{REGISTRY[kind]}")
