"""unexplained.key-not-valid's shortcut: the validity window agrees with the full reasons.

The check skips a change inside ``valid_window(key)`` without asking ``problems``;
the two must agree at every limit, one microsecond either side, and with limits missing.
"""

from __future__ import annotations

import itertools

import pytest

from keytrail.checks.unexplained_key_not_valid import problems, valid_window
from keytrail.model import Key

NB, EXP, REV = 1_000_000, 5_000_000, 3_000_000


@pytest.mark.parametrize(("not_before", "expires", "revoked_at"),
                         list(itertools.product((None, NB), (None, EXP, NB), (None, REV, EXP, NB - 1))))
def test_window_agrees_with_problems(not_before: int | None, expires: int | None,
                                     revoked_at: int | None) -> None:
    """Inside the window exactly when no problem is found, at and around every limit."""
    key = Key(id="pk-1", holder="svc:tf", not_before=not_before, expires=expires, revoked_at=revoked_at)
    start, end = valid_window(key)
    for limit in (0, NB, REV, EXP, NB - 1, 1 << 61, -(1 << 61)):
        for t in (limit - 1, limit, limit + 1):
            assert (start <= t < end) is (not problems(key, t)), (t, start, end, problems(key, t))
