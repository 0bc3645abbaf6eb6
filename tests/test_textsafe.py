"""textsafe: inline() and json_inert() make input text inert without losing it."""

from __future__ import annotations

import json

import orjson
import pytest

from keytrail.textsafe import excerpt, inline, is_inert, json_inert


@pytest.mark.parametrize(("raw", "shown"), [
    ("a\nb", "a\\nb"), ("a\r\nb", "a\\r\\nb"), ("a\tb", "a\\tb"), ("\x1b[31m", "\\x1b[31m"),
    ("\x00\x08\x7f\x85", "\\x00\\x08\\x7f\\x85"), ("a\u2028b\u2029", "a\\u2028b\\u2029"),
    ("x\u202ey\u2066\u200b", "x\\u202ey\\u2066\\u200b"), ("\U000e0041", "\\U000e0041"),
    # logging commands that runners find anywhere in a line
    ("a ##[error]b", "a #\\x23[error]b"), ("##vso[task.setvariable]", "#\\x23vso[task.setvariable]"),
    ("###[x", "##\\x23[x"), ("##VSO[x", "#\\x23VSO[x")])
def test_inline_shows_hidden_characters_and_logging_commands_as_escapes(raw: str, shown: str) -> None:
    assert inline(raw) == shown
    assert is_inert(shown) and not is_inert(raw)


@pytest.mark.parametrize("text", ["user:ann.lee", "Zoë Ångström 日本語", "a\u00a0b", "# ## [x] ##x [##]",
                                  "::error:: without a line break", "x ## [y]", ""])
def test_inline_keeps_printable_text(text: str) -> None:
    assert inline(text) == text
    assert is_inert(text)


def test_excerpt_is_short_and_inert() -> None:
    assert excerpt("a\nb" * 40, limit=4) == "a\\nba…"


VALUES = ["x\u202ey", "a\x85b\u2028c", "tag\U000e0041", "del\x7f", "##[error]x", "##vso[a]",
          "\x1b[2J\n\t", "Zoë 日本 ✓", "plain"]


@pytest.mark.parametrize("value", VALUES)
def test_json_inert_keeps_the_value_and_hides_nothing(value: str) -> None:
    text = json_inert(orjson.dumps({"v": value, value: [value]}).decode("utf-8"))
    assert json.loads(text) == {"v": value, value: [value]}
    assert is_inert(text.replace("\n", ""))


def test_json_inert_leaves_printable_text_raw() -> None:
    text = orjson.dumps({"name": "Zoë Ångström 日本語 — ✓ # ## [x]"}).decode("utf-8")
    assert json_inert(text) == text


def test_the_suspect_pattern_covers_every_hidden_character_past_ascii() -> None:
    """json_inert looks only at SUSPECT characters: they must include every one inline() escapes."""
    import sys
    import unicodedata

    from keytrail.textsafe import SUSPECT, UNSAFE_CATEGORIES

    missed = [f"U+{c:04X}" for c in range(0x7F, sys.maxunicode + 1)
              if unicodedata.category(chr(c)) in UNSAFE_CATEGORIES and not SUSPECT.match(chr(c))]
    assert missed == []
