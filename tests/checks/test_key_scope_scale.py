"""unexplained.key-out-of-scope on a large key registry: each key's scope compiled once a run.

A registry with more distinct scope globs than ``selectors.glob_regex`` caches made
every lookup a miss, so the check recompiled a glob for every new (key, target) pair.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from keytrail import pipeline
from keytrail.checks import unexplained_key_out_of_scope as out_of_scope
from keytrail.selectors import glob_regex, globs_regex
from keytrail.view import View
from tests.conftest import AS_OF, write_project

# More distinct globs than glob_regex's lru_cache (4096) holds.
N_KEYS = 4200


def _view(root: Path) -> View:
    project = pipeline.load(root)
    state = pipeline.replay(project, AS_OF, None)
    return View(project, state, pipeline.build_graph(project, state))


def test_each_key_scope_is_compiled_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two passes over 4,200 keys with distinct scopes: at most one compile per key, and the
    out-of-scope pass (and only it) fires for every key."""
    keys = [{"id": f"pk-{i:05d}", "holder": "svc:tf", "scope": [f"role:t{i}-*"]} for i in range(N_KEYS)]
    events: list[dict[str, Any]] = []
    for day, target in ((1, "role:t{i}-db"), (2, "role:u{i}")):
        for i in range(N_KEYS):
            events.append({"time": f"2026-03-{day:02d}T00:00:00Z", "action": "define",
                           "target": target.format(i=i), "actor": "svc:tf", "key": f"pk-{i:05d}"})
    view = _view(write_project(tmp_path / "org", keys=keys, events=events))

    glob_regex.cache_clear()
    compiles = []
    real_compile = re.compile

    def counting(pattern: Any, flags: int = 0) -> Any:
        compiles.append(pattern)
        return real_compile(pattern, flags)

    monkeypatch.setattr(re, "compile", counting)
    findings = list(out_of_scope.check(view, {}))
    monkeypatch.undo()

    assert len(compiles) <= N_KEYS, f"{len(compiles)} compiles for {N_KEYS} keys"
    assert sorted(f.target for f in findings) == sorted(f"role:u{i}" for i in range(N_KEYS))


@pytest.mark.parametrize(("scope", "target", "matches"), [
    (["role:prod-*", "group:eng-*"], "group:eng-core", True),
    (["role:prod-*", "group:eng-*"], "role:finance", False),
    (["role:prod-*"], "role:Prod-db", False),           # case-sensitive
    (["role:prod-*"], "group:role:prod-x", False),      # the whole id, from its start
    (["role:admin"], "role:admin-2", False),            # ... to its end
    (["role:[ab]dmin"], "role:admin", True),
    (["role:a?c"], "role:a\nc", True),                  # ? matches any one character
    (["*"], "", True),
    ([], "role:anything", False),                       # an empty scope covers nothing
])
def test_globs_regex_matches_like_any_single_glob(scope: list[str], target: str, matches: bool) -> None:
    """The combined expression agrees with matching each glob on its own."""
    assert (globs_regex(scope).match(target) is not None) is matches
    assert any(glob_regex(p).match(target) for p in scope) is matches
