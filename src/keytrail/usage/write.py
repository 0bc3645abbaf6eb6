"""Writing the usage JSONL an importer converted: validated, sorted, atomically.

Every record is checked against ``usage.schema.json`` and the loader's own
semantic checks (a use after the collection is refused), so what ``keytrail
import`` writes is what ``usage:`` reads. Records are sorted and identical ones
written once, so the same input gives the same bytes; nothing is written when
any record is malformed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from keytrail.errors import Problem


def write_usage(records: Iterable[dict[str, Any]], out: Path, ctx: Any, files: list[Path]) -> None:
    """Validate ``records`` (each with a ``_where``: the raw record it came from) and write them to ``out``."""
    import orjson

    from keytrail.importers.runner import _failed, _in_input_order, _publish, temporary
    from keytrail.schemas import validator
    from keytrail.timeutil import parse_time

    lines: dict[bytes, tuple[Any, ...]] = {}
    for record in records:
        where = record.pop("_where", None)
        file, line = (where.file, where.line) if where is not None else ("?", 0)
        errors = [e.message for e in validator("usage").iter_errors(record)]
        if not errors and record["last_used"] is not None and \
                parse_time(record["last_used"]) > parse_time(record["collected_at"]):
            errors.append(f"last_used {record['last_used']} is after collected_at {record['collected_at']}")
        for message in errors:
            ctx.problems.append(Problem(file, line, 0, "", f"converted usage record is not valid ({message})"))
        if not errors:
            text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            lines.setdefault(text, (record["subject"], record.get("target") or "", record.get("service") or "",
                                    record.get("resource", ""), record["source"], text))
    place = _in_input_order(ctx, files)
    if ctx.problems:
        raise _failed(ctx, place)
    tmp = temporary(out)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            for key in sorted(lines.values()):
                handle.write(key[-1] + b"\n")
        ctx.usage_written = len(lines)
        _publish(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
