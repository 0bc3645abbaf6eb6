"""Writing what a command rendered: standard output, or a file that appears only when complete."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

from keytrail.errors import UsageError


def write(text: str | Iterable[str], output: str | None) -> None:
    """Write text (or pieces of it) to stdout or a file; a file appears only when complete."""
    chunks = [text] if isinstance(text, str) else text
    if output is None or output == "-":
        # The rendered bytes exactly, as UTF-8, whatever the platform's newline translation
        # or console encoding (a CSV's \r\n must not become \r\r\n on Windows).
        raw = getattr(sys.stdout, "buffer", None)
        sys.stdout.flush()
        for chunk in chunks:
            if raw is not None:
                raw.write(chunk.encode("utf-8"))
            else:
                sys.stdout.write(chunk)
        (raw or sys.stdout).flush()
        return
    path = Path(output)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="utf-8", newline="") as handle:  # the rendered bytes, exactly
            for chunk in chunks:
                handle.write(chunk)
        partial.replace(path)
    except OSError as exc:
        try:
            partial.unlink(missing_ok=True)
        except OSError:
            pass
        raise UsageError(f"cannot write {output}: {exc.strerror}") from None
