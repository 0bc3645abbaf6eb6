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
    init,
    key,
    keys,
    lint,
    prove,
    record,
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
    "init": init,
    "seal": seal,
    "verify": verify,
    "prove": prove,
    "schema": schema,
    "record": record,
    "keys": keys,
    "key": key,
}
