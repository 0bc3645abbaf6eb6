"""``keytrail init``: a working project from nothing, never written over a person's files."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from keytrail.authoring.scaffold import SCHEMA_DIR, TEMPLATES
from keytrail.cli import main
from tests.conftest import REPO, SHARED_DATA

CLOUDTRAIL = SHARED_DATA / "invictus-ir-aws_dataset" / "CloudTrail"
WRITTEN = ["keytrail.yaml", "directory.yaml", "keys.yaml", "policies/example.yaml",
           "policies/tests/example.test.yaml", ".pre-commit-config.yaml"]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_init_writes_a_project_whose_files_lint_and_whose_policy_test_passes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "acct"
    code, out, err = run(capsys, "init", str(root))
    assert code == 0 and out == ""
    for name in WRITTEN:
        assert (root / name).is_file(), name
        assert f"  {name}\n" in err
    assert (root / "history").is_dir()
    config = (root / "keytrail.yaml").read_text()
    assert "policies: [keytrail:default, policies/]" in config
    # The example policy and its test: the test expects a finding of the rule and passes.
    code, out, _ = run(capsys, "test", str(root / "policies"), "--require-coverage")
    assert code == 0 and "1 passed, 0 failed" in out
    # Every file lints (only the empty history is an error, and it says how to fill it).
    code, out, err = run(capsys, "lint", str(root))
    assert code == 1
    errors = [line for line in (out + err).splitlines() if ": history[0]:" in line]
    assert len(errors) == 1 and "matches no file (write one with `keytrail import" in errors[0]


def test_every_schema_line_points_at_a_written_schema_that_validates_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from jsonschema import Draft202012Validator

    from keytrail.yamlload import load_yaml

    run(capsys, "init", str(tmp_path))
    lines = 0
    for name in WRITTEN[:-1]:
        path = tmp_path / name
        found = re.search(r"^# yaml-language-server: \$schema=(\S+)$", path.read_text(), re.M)
        assert found, f"{name} has no yaml-language-server line"
        schema_path = (path.parent / found.group(1)).resolve()
        assert schema_path.is_relative_to((tmp_path / SCHEMA_DIR).resolve()) and schema_path.is_file()
        schema = json.loads(schema_path.read_text())
        assert not list(Draft202012Validator(schema).iter_errors(load_yaml(path.read_text(), name)[0]))
        lines += 1
    assert lines == 5


def test_init_refuses_a_folder_holding_any_of_its_files_and_writes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keys.yaml").write_text("keys: []  # mine\n")
    code, out, err = run(capsys, "init", str(tmp_path))
    assert code == 2 and out == ""
    assert f"{tmp_path / 'keys.yaml'}: exists (keytrail init never overwrites)" in err
    assert err.rstrip().endswith("nothing was written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.yaml"]
    assert (tmp_path / "keys.yaml").read_text() == "keys: []  # mine\n"
    # near miss: other files of the folder (a README, a git repository) are not in the way
    other = tmp_path / "other"
    other.mkdir()
    (other / "README.md").write_text("mine\n")
    assert run(capsys, "init", str(other))[0] == 0
    assert (other / "README.md").read_text() == "mine\n"
    # and a second init of a project is refused
    code, _, err = run(capsys, "init", str(other))
    assert code == 2 and "keytrail.yaml: exists" in err


def test_init_keeps_an_existing_pre_commit_config_and_prints_the_hooks(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = "repos: []  # the team's hooks\n"
    (tmp_path / ".pre-commit-config.yaml").write_text(mine)
    code, out, err = run(capsys, "init", str(tmp_path))
    assert code == 0
    assert (tmp_path / ".pre-commit-config.yaml").read_text() == mine
    assert "kept your .pre-commit-config.yaml; add these hooks to it" in err
    assert "id: keytrail-lint" in out and "id: keytrail-check" in out
    assert (tmp_path / "keytrail.yaml").is_file()


def test_init_refuses_a_file_as_its_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "f").write_text("x")
    code, _, err = run(capsys, "init", str(tmp_path / "f"))
    assert code == 2 and "is a file" in err


def test_after_init_an_import_and_check_run_with_no_hand_written_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not CLOUDTRAIL.is_dir():
        pytest.skip(f"{CLOUDTRAIL} is not available")
    root = tmp_path / "acct"
    assert run(capsys, "init", str(root))[0] == 0
    code, _, err = run(capsys, "import", "cloudtrail", str(CLOUDTRAIL), "--out",
                       str(root / "history" / "cloudtrail.jsonl"))
    assert code == 0 and "note: no keytrail.yaml" not in err  # the project reads it
    code, out, _ = run(capsys, "check", str(root), "--format", "json")
    assert code == 1  # checked, and the unkeyed changes fail the gate
    report = json.loads(out)
    checks = {f["check"] for f in report["findings"]}
    assert "unexplained.missing-key" in checks


def test_import_into_a_folder_with_no_project_says_how_to_make_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "ct.json"
    source.write_text(json.dumps({"Records": []}))
    out = tmp_path / "acct" / "history" / "ct.jsonl"
    out.parent.mkdir(parents=True)
    code, _, err = run(capsys, "import", "cloudtrail", str(source), "--out", str(out))
    assert code == 0
    # nothing was converted: no warning that every converted change lacks a key
    assert "no key mapping given" not in err
    assert (f"note: no keytrail.yaml in {out.parent} or its parent, so no project reads this file "
            f"yet: `keytrail init {tmp_path / 'acct'}` writes one that reads history/*.jsonl") in err
    # a keytrail.yml is not a project keytrail reads (it loads keytrail.yaml only): still the note
    (tmp_path / "acct" / "keytrail.yml").write_text("history: [history/*.jsonl]\n")
    code, _, err = run(capsys, "import", "cloudtrail", str(source), "--out", str(out), "--force")
    assert code == 0 and "note: no keytrail.yaml" in err
    # near miss: with a project above the history folder, no note
    assert run(capsys, "init", str(tmp_path / "acct2"))[0] == 0
    code, _, err = run(capsys, "import", "cloudtrail", str(source), "--out",
                       str(tmp_path / "acct2" / "history" / "ct.jsonl"))
    assert code == 0 and "note: no keytrail.yaml" not in err


def test_the_templates_ship_in_the_package() -> None:
    """Every template file is named by pyproject's package data, or a wheel would lack it."""
    text = (REPO / "pyproject.toml").read_text()
    patterns = re.findall(r'"(authoring/project/[^"]+)"', text)
    package = REPO / "src" / "keytrail"
    files = [p.relative_to(package).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()]
    assert len(files) == 6
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name


@pytest.mark.parametrize("link", ["policies", "policies/tests", ".keytrail", ".keytrail/schemas", "history"])
def test_init_refuses_a_link_where_it_writes_a_folder_and_writes_nothing_outside(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "acct"
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(elsewhere, target_is_directory=True)
    code, _, err = run(capsys, "init", str(root))
    assert code == 2
    assert f"{root / link}: is a link (keytrail init writes only into folders of its own)" in err
    assert "nothing was written" in err
    assert list(elsewhere.iterdir()) == []
    assert not (root / "keytrail.yaml").exists()


def test_init_writes_into_an_existing_real_folder_of_its_own(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Near miss: policies/ and history/ that are real (empty) folders are fine to write into.
    (tmp_path / "policies").mkdir()
    (tmp_path / "history").mkdir()
    code, _, _ = run(capsys, "init", str(tmp_path))
    assert code == 0 and (tmp_path / "policies" / "example.yaml").is_file()


@pytest.mark.parametrize("file", ["policies", ".keytrail", "policies/tests"])
def test_init_refuses_a_file_where_it_makes_a_folder_before_writing_anything(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], file: str) -> None:
    (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / file).write_text("mine\n")
    code, _, err = run(capsys, "init", str(tmp_path))
    assert code == 2 and f"{tmp_path / file}: is a file where keytrail init makes a folder" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == sorted(Path(file).parts)
    assert (tmp_path / file).read_text() == "mine\n"


def test_init_under_a_file_is_a_located_error_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes").write_text("mine\n")
    code, _, err = run(capsys, "init", str(tmp_path / "notes" / "acct"))
    assert code == 2 and f"{tmp_path / 'notes'} is a file, not a folder" in err
    assert (tmp_path / "notes").read_text() == "mine\n"


def test_init_that_fails_midway_takes_back_exactly_what_it_wrote(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    # A file appearing between the check and the write (a race) stops init; the files it
    # had written are removed, the one that appeared is left alone.
    import keytrail.authoring.scaffold as scaffold

    real_open = open

    def racing_open(path: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if str(path).endswith("keys.yaml") and mode == "xb":
            Path(str(path)).write_text("theirs\n")
        return real_open(path, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(scaffold, "open", racing_open, raising=False)
    code, _, err = run(capsys, "init", str(tmp_path))
    assert code == 2 and f"{tmp_path / 'keys.yaml'}: cannot write: File exists" in err
    assert "nothing was written" in err
    assert (tmp_path / "keys.yaml").read_text() == "theirs\n"
    assert not (tmp_path / "keytrail.yaml").exists() and not (tmp_path / "directory.yaml").exists()
