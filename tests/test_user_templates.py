"""Users' own templates (``check --template``): the sandbox's folder, its caps, its located errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keytrail.cli import main
from tests.conftest import AS_OF, REPO

ACME = str(REPO / "examples" / "acme")


def _run(tmp_path: Path, files: dict[str, str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, Path]:
    folder = tmp_path / "tpl"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out.txt"
    code = main(["check", ACME, "--as-of", AS_OF, "--template", str(folder / "main.txt"), "-o", str(out)])
    return code, capsys.readouterr().err, out


REFUSED = [
    ("include-missing", {"main.txt": 'one\n{% include "x" %}'}, "main.txt:2: template not found: 'x'"),
    ("extends-missing", {"main.txt": '{% extends "base.txt" %}'}, "main.txt:1: template not found: 'base.txt'"),
    ("import-missing", {"main.txt": '{% import "m.txt" as m %}'}, "main.txt:1: template not found: 'm.txt'"),
    ("include-parent", {"main.txt": '{% include "../secret.txt" %}'}, "main.txt:1: template not found: '../secret.txt'"),
    ("include-absolute", {"main.txt": '{% include "/etc/passwd" %}'}, "main.txt:1: template not found: '/etc/passwd'"),
    ("divide-by-zero", {"main.txt": "a\nb\n{{ 1/0 }}"}, "main.txt:3: template: division by zero"),
    ("bad-formatting", {"main.txt": '{{ "%s" % (1, 2) }}'},
     "main.txt:1: template: not all arguments converted during string formatting"),
    ("endless-macro", {"main.txt": "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}\n{{ f(1) }}"},
     "main.txt:1: template recursion too deep"),
    ("self-include", {"main.txt": '{% include "main.txt" %}'}, "main.txt:1: template recursion too deep"),
    ("huge-range", {"main.txt": "{{ range(100000000) | list | length }}"}, "main.txt:1: template: Range too big"),
    ("huge-repetition", {"main.txt": '{{ "a" * 10000000000 }}'},
     "main.txt:1: template refused: a string of 10,000,000,000 characters (the limit is 67,108,864)"),
    ("huge-center", {"main.txt": '{{ "x" | center(10000000000) }}'}, "main.txt:1: template refused: a string"),
    ("huge-ljust", {"main.txt": '{{ "x".ljust(10000000000) }}'}, "main.txt:1: template refused: a string"),
    ("huge-power", {"main.txt": "{{ 2 ** 10000000000 }}"}, "main.txt:1: template refused: a number"),
    ("huge-printf", {"main.txt": '{{ "%99999999999s" % "x" }}'}, "main.txt:1: template refused: a formatted"),
    ("huge-format", {"main.txt": '{{ "{:>99999999999}".format(1) }}'}, "main.txt:1: template refused: a formatted"),
    ("doubling-concat", {"main.txt": '{% set ns = namespace(s="ab") %}{% for i in range(60) %}'
                                     "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s | length }}"},
     "main.txt:1: template refused: a string of 134,217,728 characters"),
    ("shared-list", {"main.txt": '{{ ["abcdefgh" * 1000000] * 1000 }}'}, "main.txt:1: template refused: a list"),
    ("huge-output", {"main.txt": '{% for i in range(100000) %}{{ "y" * 1000 }}{% endfor %}'},
     "main.txt: template refused: the output passes 67,108,864 characters"),
    ("huge-indent", {"main.txt": '{{ "x" | indent(10000000000) }}'}, "main.txt:1: template refused: a string"),
    ("huge-replace", {"main.txt": '{{ ("a" * 60000000) | replace("a", "aa") }}'},
     "main.txt:1: template refused: a string of 180,000,000 characters"),
    ("huge-list", {"main.txt": '{{ ("ab" * 30000000) | list | length }}'},
     "main.txt:1: template refused: a list of more than 1,000,000 items"),
    ("huge-join", {"main.txt": '{% set s = "x" * 40000000 %}{{ [s, s] | join("-") }}'},
     "main.txt:1: template refused: a string of 80,000,002 characters"),
    ("repeated-list", {"main.txt": '{{ (["x" * 100] * 1000000) | join("-") }}'},
     "main.txt:1: template refused: a list's text of 104,000,000 characters"),
    ("quadratic-sum", {"main.txt": "{{ ([[1]] * 1000000) | sum(start=[]) }}"},
     "main.txt:1: template refused: sum adds numbers only"),
    ("lipsum", {"main.txt": "{{ lipsum(n=100000000) }}"}, "main.txt:1: template: 'lipsum' is undefined"),
    ("included-error", {"main.txt": 'a\n{% include "sub/part.txt" %}', "sub/part.txt": "x\ny\n{{ 1 // 0 }}"},
     "sub/part.txt:3: template: integer division or modulo by zero"),
    ("included-syntax", {"main.txt": '{% include "sub/part.txt" %}', "sub/part.txt": "x\n{% for %}"},
     "sub/part.txt:2: template syntax: Expected an expression"),
]


@pytest.mark.parametrize(("files", "message"), [c[1:] for c in REFUSED], ids=[c[0] for c in REFUSED])
def test_a_template_error_is_located_exit_2_and_nothing_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], files: dict[str, str], message: str) -> None:
    code, err, out = _run(tmp_path, files, capsys)
    assert code == 2
    assert f"{tmp_path / 'tpl'}/{message}" in err, err
    assert "Traceback" not in err and not out.exists()


ACCEPTED = [
    ("include-beside", {"main.txt": '{% include "part.txt" %}', "part.txt": "from {{ project.name }}"},
     "from acme"),
    ("include-below", {"main.txt": '{% include "sub/part.txt" %}', "sub/part.txt": "deeper"}, "deeper"),
    ("extends-macro", {"main.txt": '{% extends "base.txt" %}{% block b %}{{ m.twice("x") }}{% endblock %}',
                       "base.txt": '{% import "m.txt" as m %}[{% block b %}{% endblock %}]',
                       "m.txt": "{% macro twice(s) %}{{ s ~ s }}{% endmacro %}"}, "[xx]"),
    ("modest-sizes", {"main.txt": '{{ ("a" * 1000) | length }} {{ range(1000) | list | length }} '
                                  '{{ 2 ** 100 }} {{ "%5s|" % "x" }}{{ "{:>4}".format(7) }}'},
     "1000 1000 1267650600228229401496703205376     x|   7"),
    ("sums-and-joins", {"main.txt": '{{ [1, 2, 3] | sum }} {{ ["a", "b"] | join("-") }} '
                                    '{{ "ab" | replace("a", "xy") }} {{ "x" | center(5) }}|'}, "6 a-b xyb   x  |"),
    ("inline-filter", {"main.txt": '[{{ "a\\nb\\x1b[2J\\u202ec" | inline }}]'}, "[a\\nb\\x1b[2J\\u202ec]"),
    ("bounded-recursion", {"main.txt": "{% macro f(n) %}{% if n %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
                                       "{{ f(5) }}"}, "54321"),
]


@pytest.mark.parametrize(("files", "expected"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_a_template_within_the_limits_renders(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              files: dict[str, str], expected: str) -> None:
    code, err, out = _run(tmp_path, files, capsys)
    assert code in (0, 1), err
    assert expected in out.read_text(encoding="utf-8")


def test_a_symlink_out_of_the_template_folder_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the secret", encoding="utf-8")
    (tmp_path / "tpl").mkdir()
    os.symlink(secret, tmp_path / "tpl" / "link.txt")
    code, err, out = _run(tmp_path, {"main.txt": 'x\n{% include "link.txt" %}'}, capsys)
    assert code == 2 and "main.txt:2: unsafe template: 'link.txt' leads out of the template's folder" in err
    assert not out.exists() and "the secret" not in err
    # a symlink that stays inside the folder is an ordinary file of it
    os.symlink(tmp_path / "tpl" / "main2.txt", tmp_path / "tpl" / "inner.txt")
    code, err, out = _run(tmp_path, {"main.txt": '{% include "inner.txt" %}', "main2.txt": "inside"}, capsys)
    assert code in (0, 1) and out.read_text(encoding="utf-8") == "inside"


def test_a_template_that_runs_too_long_is_stopped(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from keytrail import usertemplate

    monkeypatch.setattr(usertemplate, "MAX_SECONDS", 0.5)
    busy = "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}"
    code, err, out = _run(tmp_path, {"main.txt": "x\n" + busy}, capsys)
    assert code == 2 and "main.txt:2: template refused: the template ran for more than 0.5 seconds" in err
    assert not out.exists()
    code, err, out = _run(tmp_path, {"main.txt": "{% for a in range(1000) %}{% endfor %}done"}, capsys)
    assert code in (0, 1) and out.read_text(encoding="utf-8") == "done"


def test_input_values_reach_a_user_template_inert(make_project, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """A reason that would start a workflow command line stays on its line in a user's template;
    the template's own line breaks (its text, a loop) are the author's and are kept."""
    policy = {"apiVersion": "keytrail/v1", "kind": "Policy", "metadata": {"name": "p"},
              "rules": [{"id": "missing-key", "use": "unexplained.missing-key"}]}
    root = make_project(events=[{"time": "2026-01-01T00:00:00Z", "action": "grant", "subject": "user:a",
                                 "target": "group:g", "reason": "x\n::error::pwned\x1b[2J"}],
                        policies=[policy])
    template = tmp_path / "mine.txt"
    template.write_text("{% for f in data.findings %}- {{ f.chain_line }}\n{% endfor %}end\n", encoding="utf-8")
    out = tmp_path / "out.txt"
    assert main(["check", str(root), "--as-of", AS_OF, "--template", str(template), "-o", str(out),
                 "--fail-on", "critical"]) == 0
    text = out.read_text(encoding="utf-8")
    assert "x\\n::error::pwned\\x1b[2J" in text and "\x1b" not in text
    assert not [line for line in text.splitlines() if line.lstrip().startswith("::")]
    assert text.endswith("\nend\n") and text.startswith("- ")  # near miss: the author's own text
