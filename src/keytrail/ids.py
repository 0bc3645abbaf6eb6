"""What an identifier may contain: visible text, matched in full.

Two ids that print the same must be the same id. An id with a trailing line
break, a zero-width space, a bidirectional control or a no-break space prints
like another id while being a different principal, target, key or event to
every comparison keytrail makes; so such ids are errors, never accepted.

A *token* (the name part of ``user:NAME``, an event id, a resource, a ticket)
is one or more visible characters with single or repeated ASCII spaces
between them: no leading or trailing whitespace, no other whitespace, no
control (Cc), format (Cf: zero-width and bidi controls), separator (Zl, Zp,
Zs other than the ASCII space), surrogate, private-use or unassigned
character, and none of Unicode's other *default ignorable* characters
(variation selectors, Hangul fillers, the combining grapheme joiner), which
render as nothing.

The JSON Schemas say the same with :data:`VISIBLE` (a character class that
means the same in ECMA-262, Python and Rust regular expressions) and end every
pattern with ``$(?!\\n)``: Python's ``$`` also matches before a final line
break, which is how ``"user:x\\n"`` used to pass. The schemas cannot name
characters outside the Basic Multilingual Plane portably, so
:func:`token_problem` has the last word after them.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache
from typing import Any

#: Default ignorable code points (Unicode DerivedCoreProperties.txt) that Python's
#: ``str.isprintable`` still counts as printable (they are Mn or Lo, not Cf).
_IGNORABLE_PRINTABLE = frozenset(
    "\u034f\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180f\u3164\uffa0"
    + "".join(chr(c) for c in range(0xFE00, 0xFE10))
    + "".join(chr(c) for c in range(0xE0100, 0xE01F0)))

#: One visible character, as a regular expression character class valid in ECMA-262
#: (JSON Schema, editors), Python ``re`` and Rust ``regex``: no whitespace, no C0/C1
#: control, and no BMP format or default ignorable character.
VISIBLE = (r"[^\s\x00-\x1f\x7f-\x9f\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891"
           r"\u08e2\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f"
           r"\u3164\ue000-\uf8ff\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]")
#: Visible characters with ASCII spaces between them, nothing at either end.
TOKEN = rf"{VISIBLE}(?: *{VISIBLE})*"
#: The end of every schema pattern: the true end of the string in Python as in ECMA-262.
END = r"$(?!\n)"


@cache
def _token() -> re.Pattern[str]:
    # Compiled when first needed: the class is large, and most runs never ask.
    return re.compile(TOKEN + r"\Z")


def bad_char(text: str) -> tuple[int, str] | None:
    """The first character of ``text`` that is invisible or not text (index, char), or None."""
    if text.isascii():
        if text.isprintable():
            return None
    elif text.isprintable() and _IGNORABLE_PRINTABLE.isdisjoint(text):
        return None
    for index, char in enumerate(text):
        if not char.isprintable() or char in _IGNORABLE_PRINTABLE:
            return index, char
    return None  # pragma: no cover - one of the tests above found a character


def describe_char(char: str) -> str:
    """``U+200B ZERO WIDTH SPACE`` (the code point and its Unicode name, or its category)."""
    # Control characters have no Unicode name: the three everyone knows are named, the
    # others are the code point alone (what follows in a message says what kind it is).
    name = unicodedata.name(char, "") or {
        "\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\t": "CHARACTER TABULATION"}.get(char, "")
    return f"U+{ord(char):04X} {name}".rstrip()


def token_problem(text: str) -> str | None:
    """Why ``text`` is not a valid token (see the module docstring), or None when it is."""
    found = bad_char(text)
    if found is not None:
        index, char = found
        what = "a space other than the ASCII space" if unicodedata.category(char) == "Zs" else \
            "a control character" if unicodedata.category(char) == "Cc" else "an invisible character"
        return (f"contains {describe_char(char)} at character {index + 1}, {what}; "
                "identifiers must be visible text, or they could look like another one")
    if text != text.strip(" "):
        return "starts or ends with a space; identifiers must not, or they could look like another one"
    if _token().match(text) is None:
        return "is not visible text"
    return None


def located_problems(items: Any, fields: tuple[str, ...], locator: Any, base: tuple[Any, ...]) -> list[Any]:
    """A located problem for each invalid id in ``fields`` of the mappings in ``items``.

    The schema has already checked the patterns; this names what it cannot (characters
    outside the Basic Multilingual Plane, unassigned ones). ASCII values are skipped at
    the cost of one ``isascii`` call each.
    """
    problems = []
    for index, item in enumerate(items or ()):
        if not isinstance(item, dict):
            continue
        for name in fields:
            values = item.get(name)
            for sub, value in (enumerate(values) if isinstance(values, list) else ((None, values),)):
                if isinstance(value, str) and not value.isascii():
                    why = token_problem(value)
                    if why is not None:
                        from keytrail.textsafe import inline

                        path = base + (index, name) + (() if sub is None else (sub,))
                        problems.append(locator.problem(path, f'"{inline(value)}" {why}'))
    return problems


#: Policy keys whose string values are globs over ids or resources.
_GLOB_KEYS = frozenset({"subject", "target", "id", "resource"})


def glob_problems(data: Any, locator: Any, path: tuple[Any, ...] = ()) -> list[Any]:
    """A located error for each selector or waiver glob of a policy that is not visible text.

    Ids are visible text, so a glob holding an invisible character or a padding
    space matches nothing: the rule or waiver would silently check or waive nothing.
    Rule ids (``rules[n].id``) are checked by the schema already and pass here.
    """
    problems: list[Any] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key in _GLOB_KEYS and isinstance(value, str):
                problems.extend(_glob_problem(value, locator, path + (key,)))
            elif key == "separation_of_duties" and isinstance(value, list):
                for i, group in enumerate(value):
                    for j, member in enumerate(group if isinstance(group, list) else ()):
                        if isinstance(member, str):
                            problems.extend(_glob_problem(member, locator, path + (key, i, j)))
            elif key not in ("metadata", "with") and isinstance(value, (dict, list)):
                problems.extend(glob_problems(value, locator, path + (key,)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            problems.extend(glob_problems(value, locator, path + (i,)))
    return problems


def _glob_problem(value: str, locator: Any, path: tuple[Any, ...]) -> list[Any]:
    if value.isascii() and value.isprintable() and value == value.strip(" "):
        return []
    why = token_problem(value)
    if why is None:
        return []
    from keytrail.textsafe import inline

    return [locator.problem(path, f'"{inline(value)}" {why}; as a glob it would match nothing')]


__all__ = ["VISIBLE", "TOKEN", "END", "bad_char", "describe_char", "token_problem", "located_problems", "glob_problems"]
