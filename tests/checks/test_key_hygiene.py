"""The key hygiene checks' shared helpers: scope matching shortcuts agree with globs, and stay cheap."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from keytrail import pipeline
from keytrail.checks import _keys, sprawl_duplicate_key, sprawl_overbroad_key
from keytrail.selectors import glob_regex, globs_regex
from keytrail.view import View
from tests.conftest import AS_OF, write_project

TARGETS = ["group:eng", "group:eng-core", "group:eng-*lit", "group:engineering", "role:a", "role:ab",
           "role:prod-admin", "role:prod-db-admin", "role:prod", "role:x-admin", "role:b[1]", "role:b1"]


def _view(root: Path) -> View:
    project = pipeline.load(root)
    state = pipeline.replay(project, AS_OF, None)
    return View(project, state, pipeline.build_graph(project, state))


@pytest.fixture
def view(tmp_path: Path) -> View:
    roles = [{"id": t} for t in TARGETS if t.startswith("role:")]
    groups = [{"id": t} for t in TARGETS if t.startswith("group:")]
    return _view(write_project(tmp_path / "org", directory={"principals": [], "roles": roles, "groups": groups}))


@pytest.mark.parametrize("scope", [
    ("*",), ("group:*",), ("group:eng",), ("group:eng*",), ("group:eng-*",), ("role:prod-*",),
    ("role:*-admin",), ("role:a?",), ("role:b[1]",), ("role:b[!1]*",), ("role:nothing*",), ("role:zzz",),
    ("role:prod-*", "group:eng"), ("role:prod",)])
def test_covered_matches_exactly_what_the_globs_match(view: View, scope: tuple[str, ...]) -> None:
    """The literal and prefix shortcuts must agree with glob semantics (whole id, case-sensitive)."""
    rx = globs_regex(scope)
    assert _keys.covered(view, scope) == {t for t in TARGETS if rx.match(t)}


def test_each_glob_is_matched_against_the_targets_once_per_run(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys repeat globs: 300 keys over 3 scopes, of which one glob needs a regex, compile at most
    that glob (plus the scopes' text comparison for pairs sharing no target) however many keys use it."""
    roles = [{"id": f"role:t{i}-admin"} for i in range(200)]
    scopes = [["group:*"], ["role:t1*"], ["role:*-admin"]]
    keys = [{"id": f"pk-{i:04d}", "holder": f"svc:s{i % 10}", "owner": "user:o", "scope": scopes[i % 3]}
            for i in range(300)]
    view = _view(write_project(tmp_path / "org", directory={"principals": [], "roles": roles}, keys=keys))
    glob_regex.cache_clear()
    compiles: list[Any] = []
    real = re.compile

    def counting(pattern: Any, flags: int = 0) -> Any:
        compiles.append(pattern)
        return real(pattern, flags)

    monkeypatch.setattr(re, "compile", counting)
    overbroad = list(sprawl_overbroad_key.check(view, {"min_targets": 10, "max_share": 0.2}))
    duplicates = list(sprawl_duplicate_key.check(view, {}))
    monkeypatch.undo()
    assert len(compiles) <= 3, compiles
    # Every key with role:*-admin or role:t1* matches 200 or 111 roles and changed none.
    assert len(overbroad) == 200
    # Each service holds 30 keys: pairs of overlapping scopes among them are duplicates.
    assert duplicates and all(f.subject.startswith("svc:s") for f in duplicates)
