"""The pre-commit hooks, run through the real pre-commit package against a temporary repository."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PRE_COMMIT = shutil.which("pre-commit") or str(Path(sys.executable).parent / "pre-commit")
pytestmark = [
    pytest.mark.skipif(not Path(PRE_COMMIT).exists(), reason="pre-commit is not installed"),
    pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed"),
]


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def hooked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository holding the example organisation, committed."""
    root = tmp_path_factory.mktemp("precommit") / "org"
    shutil.copytree(REPO / "examples" / "acme", root)
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-qm", "org")
    return root


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This repository's working tree as a committed repository (pre-commit installs from commits)."""
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, text=True, check=True).stdout.splitlines()
    copy = tmp_path_factory.mktemp("hooks") / "keytrail"
    for name in listed:
        source = REPO / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    _git(copy, "init", "-q")
    _git(copy, "add", "-A")
    _git(copy, "commit", "-qm", "working tree")
    return copy


def _try(root: Path, hook: str, env_home: Path, repo: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(env_home),
           "PRE_COMMIT_HOME": str(env_home / "cache"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.org", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.org"}
    return subprocess.run([PRE_COMMIT, "try-repo", str(repo), hook, "--all-files", "--verbose"],
                          cwd=root, env=env, capture_output=True, text=True, timeout=900, check=False)


def test_both_hooks_run_and_report(hooked: Path, hook_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    lint = _try(hooked, "keytrail-lint", home, hook_repo)
    # The example keeps one expired waiver on purpose: lint warns about it and fails.
    assert lint.returncode == 1, lint.stdout + lint.stderr
    assert "keytrail lint" in lint.stdout
    assert "waiver for rule acme-contractors-off-prod expired 2026-08-31" in lint.stdout

    check = _try(hooked, "keytrail-check", home, hook_repo)
    assert check.returncode == 1, check.stdout + check.stderr
    assert "at or above high (marked ✗): failing" in check.stdout


def test_the_manifest_names_both_hooks() -> None:
    import yaml

    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"keytrail-lint", "keytrail-check"}
    assert hooks["keytrail-check"]["pass_filenames"] is False
    assert hooks["keytrail-lint"]["language"] == "python"
