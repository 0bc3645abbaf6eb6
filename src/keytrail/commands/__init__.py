"""One module per ``keytrail`` command, each with ``add_parser(sub)`` and ``run(args) -> int``.

The registry below is explicit: the order is the order ``keytrail --help`` lists them.
Modules are imported on first use: a run imports the one command it runs (and what
that command needs), never the others, so that pre-commit runs stay instant.
"""

from __future__ import annotations

import importlib
from types import ModuleType

#: Command name -> module name under ``keytrail.commands``.
REGISTRY: dict[str, str] = {
    "check": "check",
    "explain": "explain",
    "checks": "checks",
    "lint": "lint",
    "test": "test",
    "review": "review",
    "decisions": "decisions",
    "import": "import_",
    "init": "init",
    "seal": "seal",
    "verify": "verify",
    "prove": "prove",
    "schema": "schema",
    "keys": "keys",
    "key": "key",
    "record": "record",
}


def get(name: str) -> ModuleType:
    """The module of command ``name`` (KeyError when unknown)."""
    return importlib.import_module(f"keytrail.commands.{REGISTRY[name]}")
