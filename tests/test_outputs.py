"""Several --format/--output pairs in one run, and users' own templates (sandboxed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import AS_OF, REPO

ACME = str(REPO / "examples" / "acme")


def test_each_format_goes_to_its_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", ACME, "--as-of", AS_OF, "-f", "json", "-o", str(tmp_path / "f.json"),
                 "-f", "sarif", "-o", str(tmp_path / "f.sarif"), "-f", "text", "-o", "-"])
    assert code == 1
    assert json.loads((tmp_path / "f.json").read_text())["summary"]["findings"] == 51
    assert json.loads((tmp_path / "f.sarif").read_text())["version"] == "2.1.0"
    assert "51 findings" in capsys.readouterr().out  # the last format, `-o -`, on stdout


@pytest.mark.parametrize(("args", "words"), [
    (["-f", "json", "-f", "sarif"], "only one --format can write to standard output"),
    (["-o", "a", "-o", "b"], "2 --output files for 1 formats"),
    # An unpaired format would go to stdout unasked, mixed into a CI log.
    (["-f", "json", "-f", "sarif", "-o", "x.json"], "2 formats for 1 --output files: give each --format"),
    (["-f", "json", "-o", "x.json", "-f", "sarif", "-o", "x.json"], "named as the output of two formats"),
    (["-f", "jsn"], 'unknown format \'jsn\' (did you mean "json"?)'),
    (["--template", "/nonexistent.j2"], "no such file"),
])
def test_bad_output_combinations_exit_2_before_checking(args: list[str], words: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", ACME, "--as-of", AS_OF, *args]) == 2
    assert words in capsys.readouterr().err


def _template(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_a_user_template_gets_the_documented_context(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tpl = _template(tmp_path, "mine.txt", "{{ project.name }} {{ data.summary.findings }} {{ fail_on }}\n"
                    "{% for f in data.findings %}{{ f.severity }}|{{ f.rule }}|{{ f.fails }}\n{% endfor %}"
                    "{% for g in groups %}{{ g.category }}={{ g.count }} {% endfor %}")
    main(["check", ACME, "--as-of", AS_OF, "--template", tpl])
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "acme 51 high"
    assert out[1].startswith("critical|")  # findings in report order: most severe first
    assert "sprawl=22" in out[-1]


def test_html_templates_are_autoescaped(tmp_path: Path, make_project, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    root = make_project(
        events=[{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:<b>x</b>", "target": "role:r"}],
        policies=[{"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
                   "rules": [{"id": "nokey", "use": "unexplained.missing-key"}]}])
    tpl = _template(tmp_path, "mine.html", "{% for f in data.findings %}<p>{{ f.subject }}</p>{% endfor %}")
    main(["check", str(root), "--as-of", AS_OF, "--template", tpl])
    out = capsys.readouterr().out
    assert "&lt;b&gt;x&lt;/b&gt;" in out and "<b>x</b>" not in out


@pytest.mark.parametrize(("text", "words"), [
    ('{{ "".__class__.__mro__ }}', "unsafe template"),
    ("line one\n{% for x in %}", "mine.txt:2: template syntax"),
    ("line one\n{{ nope.x }}", "mine.txt:2: template: 'nope' is undefined"),
])
def test_template_errors_name_the_line_and_write_nothing(tmp_path: Path, text: str, words: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    tpl = _template(tmp_path, "mine.txt", text)
    out = tmp_path / "out.txt"
    assert main(["check", ACME, "--as-of", AS_OF, "--template", tpl, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err
    assert not out.exists()


def _acme_copy(tmp_path: Path) -> Path:
    import shutil

    root = tmp_path / "acme"
    shutil.copytree(ACME, root)
    return root


@pytest.mark.parametrize("target", ["keys.yaml", "keytrail.yaml", "history/2026-H1.jsonl",
                                    "snapshot.jsonl", "policies/acme.yaml", "directory.yaml"])
def test_an_output_never_overwrites_an_input(target: str, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    root = _acme_copy(tmp_path)
    before = (root / target).read_bytes()
    assert main(["check", str(root), "--as-of", AS_OF, "-f", "json", "-o", str(root / target)]) == 2
    assert f"--output {root / target}: is " in capsys.readouterr().err
    assert (root / target).read_bytes() == before


def test_a_second_name_for_an_input_is_caught(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import os

    root = _acme_copy(tmp_path)
    os.link(root / "keys.yaml", tmp_path / "hard.yaml")
    os.symlink(root / "directory.yaml", tmp_path / "soft.yaml")
    for name in ("hard.yaml", "soft.yaml"):
        assert main(["check", str(root), "--as-of", AS_OF, "-f", "json", "-o", str(tmp_path / name)]) == 2
        assert "which this run reads" in capsys.readouterr().err
    # Near miss: a new file inside the project folder is not an input.
    assert main(["check", str(root), "--as-of", AS_OF, "-f", "json", "-o", str(root / "findings.json")]) == 1
    assert json.loads((root / "findings.json").read_text())["summary"]["findings"] == 51


def test_a_template_is_never_overwritten_by_its_output(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    tpl = _template(tmp_path, "t.txt", "{{ data.summary.findings }}\n")
    assert main(["check", ACME, "--as-of", AS_OF, "--template", tpl, "-o", tpl]) == 2
    assert "which this run reads" in capsys.readouterr().err
    assert Path(tpl).read_text() == "{{ data.summary.findings }}\n"


def test_several_outputs_are_all_or_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done = tmp_path / "a.json"
    done.write_text("the previous report\n")
    fresh = tmp_path / "b.md"
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where a folder is needed: the SARIF cannot be written
    fresh = tmp_path / "new" / "deeper" / "b.md"  # folders made for it are removed again
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "json", "-o", str(done), "-f", "markdown",
                 "-o", str(fresh), "-f", "sarif", "-o", str(blocked / "x.sarif")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert done.read_text() == "the previous report\n"  # untouched, not half-replaced
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "file"]  # no temporaries left


def test_a_failing_move_puts_every_replaced_output_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import os

    first, second = tmp_path / "a.json", tmp_path / "b.sarif"
    first.write_text("old a\n")
    second.write_text("old b\n")
    real = os.replace

    def replace(src: object, dst: object) -> None:
        if str(dst) == str(second):
            raise OSError(28, "No space left on device", str(dst))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", replace)
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "json", "-o", str(first),
                 "-f", "sarif", "-o", str(second)]) == 2
    assert "no output was changed" in capsys.readouterr().err
    assert first.read_text() == "old a\n" and second.read_text() == "old b\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.sarif"]


def test_the_step_summary_is_part_of_the_same_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "missing" / "summary.md"))
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "github", "-o", "-", "-f", "json", "-o", str(report)]) == 2
    assert "cannot write the step summary" in capsys.readouterr().err
    assert not report.exists()
    # Near miss: with a writable summary both are written.
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "github", "-o", "-", "-f", "json", "-o", str(report)]) == 1
    assert summary.read_text().startswith("earlier step\n") and "51 findings" in summary.read_text()
    assert json.loads(report.read_text())["summary"]["findings"] == 51


def test_a_planted_link_at_the_temporary_name_is_not_followed(tmp_path: Path) -> None:
    import os

    victim = tmp_path / "victim"
    victim.write_text("the user's file\n")
    os.symlink(victim, tmp_path / ".report.json.partial")  # e.g. committed to a repository
    assert main(["check", ACME, "--as-of", AS_OF, "-f", "json", "-o", str(tmp_path / "report.json")]) == 1
    assert victim.read_text() == "the user's file\n"
    assert json.loads((tmp_path / "report.json").read_text())["summary"]["findings"] == 51
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json", "victim"]
