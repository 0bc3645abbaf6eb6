"""keytrail.yaml's paths stay inside the project (issue 10, item 2).

A project file comes from a repository anyone can open a pull request against:
it must not make keytrail read, and print, files outside the project folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from keytrail.cli import main

from .conftest import AS_OF

TOKEN = "ghp_0123456789abcdefghijklmnopqrstuvwxyzABCD"


def _config(root: Path, **changes: object) -> None:
    path = root / "keytrail.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.fixture
def project(make_project, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A valid project under tmp_path/p0 and a secret file beside it, outside."""
    root: Path = make_project(events=[{"time": "2026-01-01T00:00:00Z", "action": "grant",
                                       "subject": "user:a", "target": "group:g"}])
    _config(root, policies=["keytrail:default", "policies/"])  # a project that checks something
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / ".git-credentials").write_text(f"https://alice:{TOKEN}@github.com\n")
    (outside / "h.jsonl").write_text('{"id":"ev-x","time":"2026-01-02T00:00:00Z","action":"grant",'
                                     f'"subject":"user:{TOKEN}","target":"group:g"}}\n')
    return root


def _check(root: Path, *extra: str) -> int:
    return main(["check", str(root), "--as-of", AS_OF, "--fail-on", "critical", *extra])


def test_a_key_registry_outside_the_project_is_refused_unread(project: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    _config(project, keys="../outside/.git-credentials")
    assert _check(project) == 2
    err = capsys.readouterr().err
    assert "keytrail.yaml:2:1: keys: '../outside/.git-credentials' resolves outside the project folder" in err
    assert "--allow-outside" in err
    assert TOKEN not in err and "alice" not in err


def test_a_path_that_leaves_and_comes_back_is_inside(project: Path) -> None:
    # Near miss: `..` is fine as long as the path resolves inside the project.
    _config(project, keys="history/../keys.yaml")
    assert _check(project) == 0


def test_an_absolute_path_inside_the_project_is_accepted(project: Path) -> None:
    _config(project, keys=str((project / "keys.yaml").resolve()))
    assert _check(project) == 0


@pytest.mark.parametrize("pattern", ["/**/*.jsonl", "../**/*.jsonl", "../outside/*.jsonl",
                                     "history/../../outside/*.jsonl"])
def test_a_glob_that_starts_outside_is_refused_before_walking(pattern: str, project: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    _config(project, history=[pattern])
    assert _check(project) == 2
    err = capsys.readouterr().err
    assert f"history[0]: {pattern!r} resolves outside the project folder" in err
    assert TOKEN not in err


def test_a_recursive_glob_inside_the_project_still_matches_nested_files(project: Path) -> None:
    nested = project / "history" / "2026" / "q1"
    nested.mkdir(parents=True)
    (nested / "more.jsonl").write_text('{"id":"ev-n","time":"2026-02-01T00:00:00Z","action":"grant",'
                                       '"subject":"user:b","target":"group:g"}\n')
    _config(project, history=["history/**/*.jsonl"])
    from keytrail.project import load_config

    cfg = load_config(project)
    assert [p.name for p in cfg.history] == ["more.jsonl", "h.jsonl"]


def test_a_link_to_a_file_outside_is_refused(project: Path, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink(tmp_path / "outside" / "h.jsonl", project / "history" / "zz.jsonl")
    assert _check(project) == 2
    err = capsys.readouterr().err
    assert ("history[0]: 'history/*.jsonl' matches 'history/zz.jsonl', which resolves outside "
            "the project folder") in err
    assert TOKEN not in err


def test_a_link_to_a_file_inside_is_accepted(project: Path) -> None:
    (project / "archive").mkdir()
    (project / "history" / "h.jsonl").rename(project / "archive" / "h.jsonl")
    os.symlink(project / "archive" / "h.jsonl", project / "history" / "h.jsonl")
    assert _check(project) == 0


def test_a_linked_folder_outside_is_refused_not_walked(project: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    os.symlink(tmp_path / "outside", project / "history" / "mounted")
    _config(project, history=["history/**/*.jsonl"])
    assert _check(project) == 2
    err = capsys.readouterr().err
    assert "matches 'history/mounted', which resolves outside the project folder" in err
    assert TOKEN not in err


def test_a_link_in_a_policy_folder_pointing_outside_is_refused(project: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "outside" / "p.yaml").write_text("apiVersion: keytrail/v1\n")
    os.symlink(tmp_path / "outside" / "p.yaml", project / "policies" / "p.yaml")
    assert _check(project) == 2
    assert "'policies/' matches 'policies/p.yaml', which resolves outside" in capsys.readouterr().err


def test_allow_outside_names_the_one_folder_allowed(project: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    _config(project, history=["history/*.jsonl", "../outside/h.jsonl"])
    assert _check(project, "--allow-outside", str(tmp_path / "outside")) == 0
    # Near miss: allowing another folder does not allow this one.
    other = tmp_path / "other"
    other.mkdir()
    assert _check(project, "--allow-outside", str(other)) == 2
    assert "resolves outside the project folder" in capsys.readouterr().err


def test_a_project_file_linked_from_outside_is_refused(tmp_path: Path, project: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    linked = tmp_path / "linked"
    linked.mkdir()
    os.symlink(project / "keytrail.yaml", linked / "keytrail.yaml")
    assert _check(linked) == 2
    assert "is a link to a file outside" in capsys.readouterr().err
    # Near miss: a project file linked to another file inside the project is read
    # (its paths stay relative to the project folder).
    (project / "configs").mkdir()
    (project / "keytrail.yaml").rename(project / "configs" / "prod.yaml")
    os.symlink("configs/prod.yaml", project / "keytrail.yaml")
    assert _check(project) == 0


def test_a_file_that_is_one_string_is_described_not_quoted(project: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (project / "keys.yaml").write_text(f"https://alice:{TOKEN}@github.com\n")
    assert _check(project) == 2
    err = capsys.readouterr().err
    assert "keys.yaml:1:1: expected an object, got a string of 69 characters (is this the right file?)" in err
    assert TOKEN not in err


def test_a_wrong_value_inside_a_file_is_still_quoted(project: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # Near miss: a value inside a keytrail file is quoted (briefly), which helps fix it.
    (project / "keys.yaml").write_text("keys: oops\n")
    assert _check(project) == 2
    assert "keys.yaml:1:1: keys: expected an array, got string 'oops'" in capsys.readouterr().err


def test_yaml_errors_quote_a_long_key_briefly_and_inertly(project: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    secret = "\x1b]0;" + TOKEN * 5
    (project / "keys.yaml").write_text(f'keys: []\n"{secret}": 1\n"{secret}": 2\n'.replace("\x1b", "\\e"))
    assert _check(project) == 2
    err = capsys.readouterr().err
    assert "duplicate key '\\x1b]0;" + TOKEN[:12] in err and "…' (first defined at line 2)" in err
    assert TOKEN * 2 not in err and "\x1b" not in err


def test_yaml_errors_quote_a_short_key_whole(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "keys.yaml").write_text("keys: []\nkeys: []\n")
    assert _check(project) == 2
    assert "keys.yaml:2:1: keys: duplicate key 'keys' (first defined at line 1)" in capsys.readouterr().err


def test_lint_confines_the_project_and_honours_allow_outside(project: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    _config(project, keys="../outside/.git-credentials")
    assert main(["lint", str(project)]) == 1
    err = capsys.readouterr().out
    assert "keys: '../outside/.git-credentials' resolves outside the project folder" in err
    assert TOKEN not in err
    # Near miss: allowing the folder lets lint read a key registry kept there.
    (tmp_path / "outside" / "keys.yaml").write_text("keys: []\n")
    _config(project, keys="../outside/keys.yaml")
    assert main(["lint", str(project), "--allow-outside", str(tmp_path / "outside")]) == 0


@pytest.mark.parametrize("changes", [
    {"checkpoints": "../outside/checkpoints.jsonl", "trusted_keys": ["keys.yaml"]},
    {"checkpoints": "checkpoints.jsonl", "trusted_keys": ["../outside/.git-credentials"]},
])
def test_the_checkpoint_log_and_trusted_keys_stay_inside_the_project(
        project: Path, changes: dict[str, object], capsys: pytest.CaptureFixture[str]) -> None:
    _config(project, **changes)
    assert _check(project) == 2
    err = capsys.readouterr().err
    assert "resolves outside the project folder" in err and TOKEN not in err
    assert not (project.parent / "outside" / "checkpoints.jsonl").exists()
