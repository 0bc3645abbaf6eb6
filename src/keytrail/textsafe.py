"""Making input text inert where it is printed.

Values from input (ids, names, reasons, tickets, file excerpts) reach terminals, CI
logs, PR comments and spreadsheets. A line break inside a value could start a line
of its own (a GitHub Actions ``::error`` workflow command), an escape sequence could
repaint a terminal, a bidirectional control could reorder what a reviewer reads
(Trojan Source, CVE-2021-42574). :func:`inline` shows every such character as a
visible escape instead, so a value always stays on the line it was printed on and
reads as what it is. Printable text, non-ASCII letters included, is unchanged.

One printable sequence is also broken up: CI runners act on a logging command
anywhere in a line, not only at its start (``##[error]`` for the GitHub Actions
runner's first syntax, ``##vso[task.setvariable ...]`` for Azure Pipelines), so
``##[`` and ``##vso[`` are shown with their second ``#`` as ``\x23``.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

#: Unicode categories that never print as themselves: controls (C0, DEL, C1), format
#: characters (bidi controls, zero-width characters), line and paragraph separators,
#: and lone surrogates.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: A CI logging command that runners recognise anywhere in a line (``##[``, ``##vso[``).
_LOG_COMMAND = re.compile(r"##(?=(?:vso)?\[)", re.IGNORECASE)

#: How many characters of a file that is not of the expected format an error may quote.
EXCERPT_CHARS = 60


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def is_unsafe(char: str) -> bool:
    """Whether ``char`` is one :func:`inline` escapes."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def inline(text: str) -> str:
    """``text`` with every control, format and separator character shown as an escape
    (``\\n``, ``\\x1b``, ``\\u202e``), so it prints on one line as what it is, and with
    CI logging commands (``##[``, ``##vso[``) broken up."""
    if text.isprintable() and "##" not in text:  # the common case: nothing to do
        return text
    if not text.isprintable():
        text = "".join(_escape(c) if unicodedata.category(c) in UNSAFE_CATEGORIES else c for c in text)
    return _LOG_COMMAND.sub("#\\\\x23", text) if "##" in text else text


def path_line(text: str) -> str:
    """One line of output that starts with a file's relative path, inert: :func:`inline`,
    and given the path's ``./`` when it would start with ``::`` (a file named like a
    GitHub Actions workflow command): the same file, and no command."""
    line = inline(text)
    return "./" + line if line.lstrip().startswith("::") else line


def is_inert(text: str) -> bool:
    """Whether ``text`` prints as itself: :func:`inline` leaves it unchanged."""
    return inline(text) == text


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A short, inert quotation of ``text``: at most ``limit`` characters, escaped."""
    cut = text[:limit]
    return inline(cut) + ("…" if len(text) > limit else "")


#: Every character past ASCII that may be one :func:`inline` escapes (a superset of the
#: C1 controls, format characters, separators and surrogates of the Unicode database;
#: ``tests/test_textsafe.py`` checks it covers them all), so that :func:`json_inert`
#: looks only at these, not at every accented or non-Latin letter of a large file.
SUSPECT = re.compile(
    "[\x7f-\x9f\xad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001345f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001-\U000e007f]")


def _json_escape(match: re.Match[str]) -> str:
    char = match.group()
    if unicodedata.category(char) not in UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    if code > 0xFFFF:  # JSON spells a character past the BMP as a surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def json_inert(text: str) -> str:
    """JSON text with every control, format and separator character inside its strings
    written as a ``\\uXXXX`` escape: the same values once parsed, but no raw bidi
    control, C1 control or line separator in the bytes a terminal or an editor shows.

    JSON encoders already escape C0 controls; DEL, C1, bidi controls, U+2028/U+2029
    and tag characters they pass through raw. A CI logging command (``##[``,
    ``##vso[``) gets its second ``#`` written as ``\\u0023``, so JSON printed to a CI
    log runs nothing. Outside strings JSON is ASCII with no ``#``, so only string
    contents are touched.
    """
    if "##" in text:
        text = _LOG_COMMAND.sub("#\\\\u0023", text)
    if text.isascii():  # the common case: at most a DEL to escape
        return text if "\x7f" not in text else SUSPECT.sub(_json_escape, text)
    # Scanning with a pattern is slow on a large document (seconds for a large
    # organisation's SARIF); isprintable() is not, and the document's own line breaks
    # are its only other non-printable characters. Otherwise look line by line.
    if "\n" not in text:
        return text if text.isprintable() else SUSPECT.sub(_json_escape, text)
    if text.replace("\n", " ").isprintable():
        return text
    return "\n".join(line if line.isprintable() else SUSPECT.sub(_json_escape, line)
                     for line in text.split("\n"))


def inline_all(value: Any) -> Any:
    """``value`` (plain data: dicts, lists, tuples, strings, numbers) with every string, keys
    included, passed through :func:`inline`: the context a user's template gets, so that no
    value from input can start a line or hide a character, whatever the template does."""
    if isinstance(value, str):
        return inline(value)
    if isinstance(value, dict):
        return {inline_all(k): inline_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [inline_all(v) for v in value]
    if isinstance(value, tuple):
        return tuple(inline_all(v) for v in value)
    return value
