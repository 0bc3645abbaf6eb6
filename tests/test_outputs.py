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
                 "-f", "sarif", "-o", str(tmp_path / "f.sarif"), "-f", "text"])
    assert code == 1
    assert json.loads((tmp_path / "f.json").read_text())["summary"]["findings"] == 33
    assert json.loads((tmp_path / "f.sarif").read_text())["version"] == "2.1.0"
    assert "33 findings" in capsys.readouterr().out  # the last format, without an output, on stdout


@pytest.mark.parametrize(("args", "words"), [
    (["-f", "json", "-f", "sarif"], "only one --format can write to standard output"),
    (["-o", "a", "-o", "b"], "2 --output files for 1 formats"),
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
    assert out[0] == "acme 33 high"
    assert out[1].startswith("critical|")  # findings in report order: most severe first
    assert "sprawl=8" in out[-1]


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
