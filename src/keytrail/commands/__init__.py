"""One module per ``keytrail`` command, each with ``add_parser(sub)`` and ``run(args) -> int``.

The registry below is explicit: the order is the order ``keytrail --help`` lists them.
"""

from __future__ import annotations

from keytrail.commands import (
    check,
    checks,
    decisions,
    explain,
    import_,
    key,
    keys,
    lint,
    prove,
    review,
    schema,
    seal,
    test,
    verify,
)

COMMANDS = {
    "check": check,
    "explain": explain,
    "checks": checks,
    "lint": lint,
    "test": test,
    "review": review,
    "decisions": decisions,
    "import": import_,
    "seal": seal,
    "verify": verify,
    "prove": prove,
    "schema": schema,
    "keys": keys,
    "key": key,
}
