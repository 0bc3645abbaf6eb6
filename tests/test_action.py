"""The GitHub Action (action.yml) and its script (action/run.sh), run as CI runs it, without GitHub."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import AS_OF, REPO

ACTION = REPO / "action.yml"
SCRIPT = REPO / "action" / "run.sh"
ACME = REPO / "examples" / "acme"

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def _run(tmp_path: Path, **inputs: str) -> tuple[int, str, dict[str, str]]:
    """action/run.sh with the inputs in the environment, as the composite step passes them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INPUT_", "GITHUB_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    env["GITHUB_STEP_SUMMARY"] = str(tmp_path / "summary.md")
    env["GITHUB_OUTPUT"] = str(tmp_path / "output.txt")
    done = subprocess.run([str(SCRIPT)], capture_output=True, text=True, env=env, cwd=REPO, check=False)
    assert "Traceback" not in done.stderr
    out = tmp_path / "output.txt"
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines()) if out.exists() else {}
    return done.returncode, done.stdout, outputs


def _keytrail_installed() -> None:
    if shutil.which("keytrail", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the keytrail script is not installed beside this Python")


def test_the_action_checks_acme_annotates_writes_sarif_and_summary_and_fails(tmp_path: Path) -> None:
    _keytrail_installed()
    sarif = tmp_path / "k.sarif"
    code, out, outputs = _run(tmp_path, dir="examples/acme", as_of=AS_OF, sarif=str(sarif))
    assert code == 1  # acme has findings at or above high
    assert outputs == {"exit-code": "1", "sarif": str(sarif)}
    assert re.search(r"^::error file=examples/acme/history/2026-H1\.jsonl,line=23,title=keytrail critical", out, re.M)
    assert "title=keytrail lint::waivers[1].expires" in out  # lint ran first, annotated
    report = json.loads(sarif.read_text())
    assert report["version"] == "2.1.0" and report["runs"][0]["results"]
    assert (tmp_path / "summary.md").read_text().startswith("## keytrail · acme")


def test_the_action_passes_when_the_baseline_accepts_every_finding(tmp_path: Path) -> None:
    _keytrail_installed()
    baseline = tmp_path / "baseline.json"
    subprocess.run([str(Path(sys.executable).parent / "keytrail"), "check", str(ACME), "--as-of", AS_OF,
                    "--write-baseline", str(baseline)], check=True, capture_output=True)
    code, _, outputs = _run(tmp_path, dir="examples/acme", as_of=AS_OF, baseline=str(baseline),
                            sarif=str(tmp_path / "k.sarif"), lint="false")
    assert code == 0 and outputs["exit-code"] == "0"
    # near miss: the same run with lint on fails on acme's expired waiver although the check passed
    code, out, outputs = _run(tmp_path, dir="examples/acme", as_of=AS_OF, baseline=str(baseline),
                              sarif=str(tmp_path / "k.sarif"))
    assert code == 1 and "the project's files have lint errors" in out


def test_the_action_reports_bad_input_as_exit_2(tmp_path: Path) -> None:
    _keytrail_installed()
    code, _, outputs = _run(tmp_path, dir=str(tmp_path / "nowhere"), sarif=str(tmp_path / "k.sarif"),
                            lint="false")
    assert code == 2 and outputs["exit-code"] == "2" and "sarif" not in outputs


def test_the_action_computes_the_policy_impact_against_a_ref(tmp_path: Path) -> None:
    _keytrail_installed()
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = tmp_path / "acme"
    shutil.copytree(ACME, project)
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    policy = project / "policies" / "acme.yaml"
    policy.write_text(policy.read_text().replace("max_entitlements: 5", "max_entitlements: 1"))
    code, out, _ = _run(tmp_path, dir=str(project), as_of=AS_OF, sarif=str(tmp_path / "k.sarif"),
                        lint="false", compare_policies="HEAD")
    assert code == 1
    assert "title=keytrail policy impact%3A acme-service-account-budget::" in out
    summary = (tmp_path / "summary.md").read_text()
    assert summary.startswith("## keytrail: what this policy change flags")  # impact, then the report
    assert "## keytrail · acme" in summary


def test_action_yml_passes_every_input_through_the_environment_only() -> None:
    """An input spliced into a `run:` script is a command injection; each goes through `env:`."""
    action = yaml.safe_load(ACTION.read_text())
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")
    env = next(s for s in action["runs"]["steps"] if s.get("id") == "check")["env"]
    for name in action["inputs"]:
        if name in ("install", "upload-sarif"):
            continue  # used by the install and upload steps
        assert f"INPUT_{name.upper().replace('-', '_')}" in env, name
        assert name.replace("-", "_").upper() in SCRIPT.read_text() or name == "lint"
    assert all(spec.get("description") for spec in action["inputs"].values())



@pytest.mark.parametrize(("value", "installed"), [
    ("--index-url=https://mirror.invalid/simple", "--index-url=https://mirror.invalid/simple"),
    ("-rrequirements.txt", "-rrequirements.txt"),
    ("keytrail==0.2.0", "keytrail==0.2.0"),       # the near miss: a plain requirement, as it is
    ("", "/the/action"),                           # no input: the action's own checkout
])
def test_the_install_input_reaches_pip_as_a_requirement_never_as_an_option(
        tmp_path: Path, value: str, installed: str) -> None:
    """The install step's command, run with a stand-in `python` that records its arguments:
    the input comes after `--`, so pip takes an option-like value as a (refused) requirement."""
    step = next(s for s in yaml.safe_load(ACTION.read_text())["runs"]["steps"] if s["name"] == "Install keytrail")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "argv"
    fake = bin_dir / "python"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done > "{record}"\n')
    fake.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "KEYTRAIL_INSTALL": value, "GITHUB_ACTION_PATH": "/the/action"}
    subprocess.run(["bash", "-c", step["run"]], env=env, check=True)
    argv = record.read_text().splitlines()
    assert argv[:3] == ["-m", "pip", "install"]
    assert argv[argv.index("--"):] == ["--", installed]

def _git_project(tmp_path: Path) -> Path:
    """acme committed in a repository that has an `origin` remote, as a CI checkout has."""
    upstream = tmp_path / "upstream"
    shutil.copytree(ACME, upstream)
    git = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(upstream)], check=True)
    subprocess.run(["git", "-C", str(upstream), *git, "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(upstream), *git, "commit", "-qm", "base"], check=True)
    project = tmp_path / "acme"
    subprocess.run(["git", "clone", "-q", str(upstream), str(project)], check=True)
    return project


@pytest.mark.parametrize("ref", ["origin/--upload-pack=touch PWNED;false", "--upload-pack=touch PWNED;false"])
def test_a_compare_policies_value_like_an_option_runs_nothing_and_fails(tmp_path: Path, ref: str) -> None:
    _keytrail_installed()
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = _git_project(tmp_path)
    code, out, outputs = _run(tmp_path, dir=str(project), as_of=AS_OF, lint="false",
                              sarif=str(tmp_path / "k.sarif"), compare_policies=ref)
    assert code == 2 and outputs["exit-code"] == "2"
    assert "compare-policies looks like an option, not a git ref" in out
    assert not any(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists()


def test_a_base_branch_the_shallow_checkout_lacks_is_still_fetched(tmp_path: Path) -> None:
    # Near miss: origin/BRANCH that is not there yet is fetched and compared with.
    _keytrail_installed()
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    project = _git_project(tmp_path)
    branch = subprocess.run(["git", "-C", str(project), "branch", "--show-current"],
                            capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "-C", str(project), "update-ref", "-d", f"refs/remotes/origin/{branch}"], check=True)
    code, out, _ = _run(tmp_path, dir=str(project), as_of=AS_OF, lint="false",
                        sarif=str(tmp_path / "k.sarif"), compare_policies=f"origin/{branch}")
    assert "title=keytrail policy impact::0 newly flagged" in out
    assert code == 1  # acme's findings: the check itself fails


def test_a_sarif_path_with_a_line_break_cannot_add_an_output(tmp_path: Path) -> None:
    _keytrail_installed()
    code, out, outputs = _run(tmp_path, dir=str(ACME), as_of=AS_OF, lint="false",
                              sarif=str(tmp_path / "k.sarif") + "\nexit-code=0\x1b[2J")
    assert code == 2
    assert (tmp_path / "output.txt").read_text() == "exit-code=2\n"
    assert "the sarif input holds a line break: " in out and "%0Aexit-code=0?[2J" in out
    assert "\x1b" not in out


def test_odd_but_harmless_paths_reach_keytrail_as_they_are(tmp_path: Path) -> None:
    # Near miss: spaces, quotes and `$(...)` in a path are one path each, never run.
    _keytrail_installed()
    project = tmp_path / "-acme $(touch PWNED) 'q'"
    shutil.copytree(ACME, project)
    sarif = tmp_path / "-out $(touch PWNED).sarif"
    code, _, outputs = _run(tmp_path, dir=os.path.relpath(project, REPO), as_of=AS_OF, lint="true",
                            sarif=os.path.relpath(sarif, REPO))
    assert code == 1 and outputs["exit-code"] == "1"
    assert sarif.is_file() and Path(REPO / outputs["sarif"]).resolve() == sarif.resolve()
    assert not any(tmp_path.rglob("PWNED")) and not (REPO / "PWNED").exists()


@pytest.mark.parametrize("name", ["lint", "upload_sarif"])
@pytest.mark.parametrize("value", ["yes", "1", "on", "ture"])
def test_a_yes_no_input_that_is_neither_fails_instead_of_switching_a_step_off(
        tmp_path: Path, name: str, value: str) -> None:
    _keytrail_installed()
    code, out, outputs = _run(tmp_path, dir=str(ACME), as_of=AS_OF, sarif=str(tmp_path / "k.sarif"),
                              **{name: value})
    assert code == 2 and outputs == {"exit-code": "2"}
    assert f"::error title=keytrail::the {name.replace('_', '-')} input is '{value}': write true or false" in out


def test_true_and_false_are_read_ignoring_case_as_github_compares_them(tmp_path: Path) -> None:
    # Near miss: `True` and `FALSE` are yes and no, not errors: the check runs as usual.
    _keytrail_installed()
    code, out, outputs = _run(tmp_path, dir=str(ACME), as_of=AS_OF, sarif=str(tmp_path / "k.sarif"),
                              lint="True", upload_sarif="FALSE")
    assert code == 1 and outputs["exit-code"] == "1" and "write true or false" not in out
