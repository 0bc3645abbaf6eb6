"""Glob sets (``selectors.globs_regex``): a key's scope matched without a regular expression
for literals and ``prefix*`` globs, with exactly the matching of one ``fnmatch`` glob each."""

from __future__ import annotations

import re
from fnmatch import translate
from itertools import product

import pytest

from keytrail import selectors
from keytrail.selectors import GlobSet, globs_regex

GLOBS = ["*", "", "role:a", "role:a*", "role:*", "*-admin", "role:a?", "role:[ab]*", "role:[!a]*",
         "role:a[", "role:a]", "role:a\\*", "role:a*b", "ROLE:A*", "röle:é*", "role:a.b", "role:(x)*",
         "group:^$|*"]
VALUES = ["", "role:a", "role:ab", "role:a\nb", "role:b", "role:a[", "role:a]", "role:a\\x", "role:a*",
          "ROLE:A", "Role:a", "röle:éx", "role:axb", "role:a.b", "role:aXb", "role:(x)y", "x-admin",
          "group:^$|q", "group:a", "role:a\\"]


def _fnmatch_any(scope: list[str], value: str) -> bool:
    return any(re.match(translate(p), value) for p in scope)


@pytest.mark.parametrize("size", [0, 1, 2, 3])
def test_a_glob_set_matches_exactly_what_any_of_its_globs_matches(size: int) -> None:
    scopes = [list(s) for s in product(GLOBS, repeat=size)] if size < 3 else [
        [GLOBS[i], GLOBS[(i * 7 + 3) % len(GLOBS)], GLOBS[(i * 5 + 1) % len(GLOBS)]] for i in range(len(GLOBS))]
    for scope in scopes:
        matcher = globs_regex(scope)
        for value in VALUES:
            assert (matcher.match(value) is not None) is _fnmatch_any(scope, value), (scope, value)


def test_no_globs_match_nothing_and_star_matches_everything() -> None:
    assert globs_regex([]).match("") is None and globs_regex([]).match("role:a") is None
    assert all(globs_regex(["*"]).match(v) for v in VALUES)


def test_literal_and_prefix_scopes_need_no_regular_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(pattern: str) -> str:
        raise AssertionError(f"translated {pattern!r}")

    monkeypatch.setattr(selectors, "translate", refuse)
    scope = GlobSet(["role:prod-admin", "group:eng-*", "role:dept-payments-*"])
    assert scope.match("role:prod-admin") and scope.match("group:eng-") and scope.match("group:eng-x\ny")
    assert scope.match("role:prod-admins") is None and scope.match("group:eng") is None
    assert scope.match("role:dept-payments") is None
    with pytest.raises(AssertionError, match="translated 'role:a\\?'"):
        GlobSet(["role:a?"])  # near miss: a ? needs the expression


def test_glob_sets_are_kept_by_their_globs() -> None:
    assert globs_regex(["role:a*", "group:b"]) is globs_regex(("role:a*", "group:b"))
    assert globs_regex(["role:a*", "group:b"]) is not globs_regex(["group:b", "role:a*"])
